import { generateApiKey } from '../../auth/api-keys.js';
import { SCOPES, type Scope } from '../../auth/scopes.js';
import { requiredText } from '../../crews/input-rules.js';
import { badInput, notFound } from '../../errors.js';
import { audit } from '../audit.js';
import { builder } from '../builder.js';
import { tenantOf } from '../context.js';
import { parseGlobalId } from '../global-id.js';
import { ScopeEnum } from './enums.js';

export const ApiKey = builder.prismaNode('ApiKey', {
  id: { field: 'id' },
  nullable: true,
  // As apiKeys: admin API keys only (a session token names its issuing key's id in its claims).
  authScopes: { $all: { admin: true, apiKey: true } },
  description: 'A tenant API key. Its secret is never stored or shown again after creation.',
  fields: (t) => ({
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The first characters of the secret, for recognition.' }),
    scopes: t.field({ type: [ScopeEnum], resolve: (k) => k.scopes as Scope[] }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

interface KeyWithSecret {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdAt: Date;
  secret: string;
}

export const ApiKeyWithSecret = builder.objectRef<KeyWithSecret>('ApiKeyWithSecret').implement({
  description: 'A key just created, with its secret: store it now, it is never shown again.',
  fields: (t) => ({
    id: t.field({
      type: 'ID',
      description: 'Global id of the ApiKey.',
      resolve: (k) => Buffer.from(`ApiKey:${k.id}`).toString('base64'),
    }),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix'),
    scopes: t.field({ type: [ScopeEnum], resolve: (k) => k.scopes as Scope[] }),
    secret: t.exposeString('secret'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('apiKeys', (t) =>
  t.prismaField({
    type: ['ApiKey'],
    description: 'The tenant’s API keys, newest first (revoked ones included).',
    authScopes: { $all: { admin: true, apiKey: true } },
    resolve: (query, _r, _a, ctx) =>
      ctx.db.apiKey.findMany({ ...query, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] }),
  }),
);

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    scopes: t.field({ type: [ScopeEnum], required: true }),
  }),
});

const CreateApiKeyPayload = builder
  .objectRef<{ id: string; secret: string }>('CreateApiKeyPayload')
  .implement({
    fields: (t) => ({
      apiKey: t.prismaField({
        type: 'ApiKey',
        resolve: (query, p, _a, ctx) => ctx.db.apiKey.findUniqueOrThrow({ ...query, where: { id: p.id } }),
      }),
      secret: t.exposeString('secret', { description: 'The key itself. Shown once: store it now.' }),
    }),
  });

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreateApiKeyPayload,
    authScopes: { $all: { admin: true, apiKey: true } },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const name = requiredText('input.name', input.name, 200);
      const scopes = [...new Set(input.scopes)] as Scope[];
      if (scopes.length === 0)
        throw badInput('input.scopes', `must name at least one of ${SCOPES.join(', ')}`);
      const key = generateApiKey();
      const created = await ctx.db.apiKey.create({
        data: { tenantId, name, prefix: key.prefix, hashedSecret: key.hashedSecret, scopes },
        select: { id: true },
      });
      await audit(
        ctx,
        ctx.db,
        tenantId,
        'api_key.create',
        { type: 'ApiKey', id: created.id },
        { name, scopes },
      );
      return { id: created.id, secret: key.secret };
    },
  }),
);

const RevokeApiKeyPayload = builder.objectRef<{ id: string }>('RevokeApiKeyPayload').implement({
  fields: (t) => ({
    apiKey: t.prismaField({
      type: 'ApiKey',
      resolve: (query, p, _a, ctx) => ctx.db.apiKey.findUniqueOrThrow({ ...query, where: { id: p.id } }),
    }),
  }),
});

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: RevokeApiKeyPayload,
    description:
      'Revokes a key at once; session tokens it minted stop working too, and the WebSocket connections and event streams open with either end. Revoking twice is harmless.',
    authScopes: { $all: { admin: true, apiKey: true } },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const id = parseGlobalId('id', String(args.id), 'ApiKey');
      const key = await ctx.db.apiKey.findUnique({ where: { id }, select: { id: true, revokedAt: true } });
      if (!key) throw notFound('ApiKey', String(args.id));
      if (!key.revokedAt) {
        await ctx.db.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
        await audit(ctx, ctx.db, tenantId, 'api_key.revoke', { type: 'ApiKey', id });
      }
      // Once committed (before the answer is sent): this server forgets the key at once, the others
      // when the bus message reaches them. Also after a repeated revocation: harmless, and it
      // repairs a cache that missed the first one.
      ctx.afterCommit(() => ctx.authCache.invalidate(tenantId, id));
      return { id };
    },
  }),
);
