import { allows, type Scope } from '../../auth/scopes.js';
import {
  DEFAULT_SESSION_TTL_SECONDS,
  MAX_SESSION_TTL_SECONDS,
  signSessionToken,
} from '../../auth/session-tokens.js';
import { intInRange, requiredText } from '../../crews/input-rules.js';
import { badInput, notFound } from '../../errors.js';
import { audit } from '../audit.js';
import { builder } from '../builder.js';
import { tenantOf } from '../context.js';
import { parseGlobalId } from '../global-id.js';
import { ScopeEnum } from './enums.js';

const CreateSessionTokenInput = builder.inputType('CreateSessionTokenInput', {
  description: 'A short-lived token for one end user of a host app.',
  fields: (t) => ({
    subject: t.string({ required: true, description: 'Your identifier for the end user.' }),
    scopes: t.field({
      type: [ScopeEnum],
      required: false,
      description: 'At most the scopes of the key that mints it. Default: READ.',
    }),
    ttlSeconds: t.int({
      required: false,
      description: `Default ${DEFAULT_SESSION_TTL_SECONDS}, at most ${MAX_SESSION_TTL_SECONDS}.`,
    }),
    threadIds: t.idList({
      required: false,
      description: 'When given, the token can only touch these threads.',
    }),
  }),
});

const SessionToken = builder.objectRef<{ token: string; expiresAt: Date }>('SessionToken').implement({
  fields: (t) => ({
    token: t.exposeString('token'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
  }),
});

builder.mutationField('createSessionToken', (t) =>
  t.field({
    type: SessionToken,
    description: 'Mints a signed, short-lived token bound to this tenant, a subject and narrowed scopes.',
    authScopes: { apiKey: true },
    args: { input: t.arg({ type: CreateSessionTokenInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const p = tenantOf(ctx);
      const subject = requiredText('input.subject', input.subject, 200);
      const ttl =
        intInRange('input.ttlSeconds', input.ttlSeconds, 1, MAX_SESSION_TTL_SECONDS) ??
        DEFAULT_SESSION_TTL_SECONDS;
      const scopes = [...new Set((input.scopes ?? ['read']) as Scope[])];
      if (scopes.length === 0) throw badInput('input.scopes', 'must name at least one scope');
      for (const s of scopes) {
        if (!allows(p.scopes, s))
          throw badInput(
            'input.scopes',
            `cannot grant "${s}": the minting key only has ${p.scopes.join(', ')}`,
          );
      }
      let threadIds: string[] | undefined;
      if (input.threadIds) {
        if (input.threadIds.length > 100) throw badInput('input.threadIds', 'at most 100 threads');
        threadIds = input.threadIds.map((id, i) =>
          parseGlobalId(`input.threadIds[${i}]`, String(id), 'Thread'),
        );
        const found = await ctx.db.thread.findMany({
          where: { id: { in: threadIds } },
          select: { id: true },
        });
        const have = new Set(found.map((f) => f.id));
        const missing = input.threadIds.find((_id, i) => !have.has(threadIds![i]!));
        if (missing) throw notFound('Thread', String(missing));
      }
      const minted = await signSessionToken(
        ctx.settings.secret,
        { tenantId: p.tenantId, keyId: p.keyId, subject, scopes, ...(threadIds ? { threadIds } : {}) },
        ttl,
      );
      await audit(
        ctx,
        ctx.db,
        p.tenantId,
        'session_token.create',
        { type: 'ApiKey', id: p.keyId },
        { subject, scopes, ttl },
      );
      return minted;
    },
  }),
);
