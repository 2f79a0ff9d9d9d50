import { randomUUID } from 'node:crypto';
import { generateApiKey } from '../../auth/api-keys.js';
import { effectiveScopes } from '../../auth/scopes.js';
import { requiredText } from '../../crews/input-rules.js';
import { audit } from '../audit.js';
import { builder } from '../builder.js';
import { ApiKeyWithSecret } from './api-key.js';
import { ScopeEnum } from './enums.js';

export const Tenant = builder.prismaNode('Tenant', {
  id: { field: 'id' },
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const PrincipalKind = builder.enumType('PrincipalKind', {
  values: ['ADMIN', 'API_KEY', 'SESSION'] as const,
});

const Viewer = builder.objectRef<{ kind: 'ADMIN' | 'API_KEY' | 'SESSION' }>('Viewer').implement({
  description: 'Who is calling.',
  fields: (t) => ({
    kind: t.field({ type: PrincipalKind, resolve: (v) => v.kind }),
    tenant: t.prismaField({
      type: 'Tenant',
      nullable: true,
      description: 'The caller’s tenant; null for the admin key.',
      resolve: (query, _v, _a, ctx) =>
        ctx.principal.kind === 'admin'
          ? null
          : ctx.db.tenant.findUnique({ ...query, where: { id: ctx.principal.tenantId } }),
    }),
    scopes: t.field({
      type: [ScopeEnum],
      description: 'Effective scopes (implied ones included). Empty for the admin key, which has no tenant.',
      resolve: (_v, _a, ctx) => (ctx.principal.kind === 'admin' ? [] : effectiveScopes(ctx.principal.scopes)),
    }),
    subject: t.string({
      nullable: true,
      description: 'The end user a session token was minted for.',
      resolve: (_v, _a, ctx) => (ctx.principal.kind === 'session' ? ctx.principal.subject : null),
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: Viewer,
    resolve: (_r, _a, ctx) => ({
      kind: (ctx.principal.kind === 'admin'
        ? 'ADMIN'
        : ctx.principal.kind === 'apiKey'
          ? 'API_KEY'
          : 'SESSION') as 'ADMIN' | 'API_KEY' | 'SESSION',
    }),
  }),
);

const CreateTenantInput = builder.inputType('CreateTenantInput', {
  fields: (t) => ({ name: t.string({ required: true }) }),
});

const CreateTenantPayload = builder
  .objectRef<{ tenant: { id: string; name: string; createdAt: Date; updatedAt: Date }; apiKey: unknown }>(
    'CreateTenantPayload',
  )
  .implement({
    fields: (t) => ({
      tenant: t.field({ type: Tenant, resolve: (p) => p.tenant }),
      apiKey: t.field({
        type: ApiKeyWithSecret,
        description: 'The tenant’s first key (scope admin). Its secret is shown only here.',
        resolve: (p) => p.apiKey as never,
      }),
    }),
  });

builder.mutationField('createTenant', (t) =>
  t.field({
    type: CreateTenantPayload,
    description: 'Creates a tenant and its first admin API key. Admin key only.',
    authScopes: { platformAdmin: true },
    args: { input: t.arg({ type: CreateTenantInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const name = requiredText('input.name', input.name, 200);
      const id = randomUUID();
      const key = generateApiKey();
      return ctx.database.withTenant(id, async (tx) => {
        const tenant = await tx.tenant.create({ data: { id, name } });
        const apiKey = await tx.apiKey.create({
          data: {
            tenantId: id,
            name: 'initial admin key',
            prefix: key.prefix,
            hashedSecret: key.hashedSecret,
            scopes: ['admin'],
          },
        });
        await audit(ctx, tx, id, 'tenant.create', { type: 'Tenant', id }, { name });
        return { tenant, apiKey: { ...apiKey, secret: key.secret } };
      });
    },
  }),
);
