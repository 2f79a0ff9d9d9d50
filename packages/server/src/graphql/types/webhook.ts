import { encodeGlobalID } from '@pothos/plugin-relay';
import { badInput, notFound, TroupeServerError } from '../../errors.js';
import { WebhookDeliveryStatus, WebhookEvent } from '../../generated/prisma/enums.js';
import { destinationHost, refusedDestination } from '../../webhooks/webhook-destination.js';
import { deriveHookSecret } from '../../webhooks/webhook-signature.js';
import { audit } from '../audit.js';
import { builder } from '../builder.js';
import { tenantOf } from '../context.js';
import { parseGlobalId } from '../global-id.js';

// Integrations hold secrets and send run outputs elsewhere: tenant API keys with the ADMIN scope
// manage and see them; session tokens never do, whatever their scopes.
const INTEGRATIONS = { $all: { admin: true, apiKey: true } } as const;

const WebhookEventEnum = builder.enumType(WebhookEvent, {
  name: 'WebhookEvent',
  description: 'Run outcomes a webhook can be sent for.',
});
const WebhookDeliveryStatusEnum = builder.enumType(WebhookDeliveryStatus, { name: 'WebhookDeliveryStatus' });

const URL_MAX = 2000;

/**
 * An absolute http(s) URL without credentials in it, whose host is not a loopback, private or other
 * non-public IP address nor `localhost` (unless allowPrivate), nor a cloud metadata endpoint. Names
 * are checked again, on every address they resolve to, before each delivery attempt.
 */
export function parseWebhookUrl(field: string, value: string, allowPrivate = false): string {
  const raw = value.trim();
  if (!raw) throw badInput(field, 'must not be empty');
  if (raw.length > URL_MAX)
    throw badInput(field, `must be at most ${URL_MAX} characters (got ${raw.length})`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badInput(field, 'must be an absolute http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw badInput(field, `must be an http:// or https:// URL (got ${url.protocol.replace(':', '')})`);
  if (url.username || url.password)
    throw badInput(field, 'must not contain credentials (user:password@); verify the signature instead');
  const refused = refusedDestination(destinationHost(url), allowPrivate);
  if (refused) throw badInput(field, `must be a public destination: ${refused}`);
  return url.toString();
}

function parseEvents(field: string, events: readonly WebhookEvent[] | null | undefined): WebhookEvent[] {
  if (events === null) throw badInput(field, 'must not be null');
  if (events === undefined) return Object.values(WebhookEvent);
  const unique = [...new Set(events)];
  if (unique.length === 0)
    throw badInput(field, `must name at least one of ${Object.values(WebhookEvent).join(', ')}`);
  return unique;
}

interface AttemptLogEntry {
  at: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

const WebhookAttempt = builder.objectRef<AttemptLogEntry>('WebhookAttempt').implement({
  description: 'One attempt to deliver a webhook.',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', resolve: (a) => new Date(a.at) }),
    statusCode: t.exposeInt('statusCode', { nullable: true, description: 'Null when no answer came.' }),
    error: t.exposeString('error', { nullable: true }),
    durationMs: t.exposeInt('durationMs'),
  }),
});

builder.prismaNode('Webhook', {
  id: { field: 'id' },
  nullable: true,
  authScopes: INTEGRATIONS,
  description:
    'Sends a signed POST to url when a run of its crew ends with one of events. The signing secret is shown once, by createWebhook.',
  fields: (t) => ({
    url: t.exposeString('url'),
    events: t.field({ type: [WebhookEventEnum], resolve: (w) => w.events }),
    enabled: t.exposeBoolean('enabled', {
      description:
        'A disabled webhook is sent nothing: runs that end meanwhile are not notified, and deliveries already pending wait (nextAttemptAt null, no attempt spent) until it is enabled again.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    crew: t.relation('crew'),
    deliveries: t.relatedConnection('deliveries', {
      cursor: 'id',
      defaultSize: 20,
      maxSize: 100,
      description: 'Deliveries, newest first.',
      query: { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] },
    }),
  }),
});

builder.prismaNode('WebhookDelivery', {
  id: { field: 'id' },
  nullable: true,
  authScopes: INTEGRATIONS,
  description:
    'One notification of a webhook and its attempts. Receivers see its id as deliveryId in the signed body and in X-Troupe-Delivery (the same on every attempt): drop duplicates by the deliveryId in the body.',
  fields: (t) => ({
    event: t.expose('event', { type: WebhookEventEnum }),
    status: t.expose('status', { type: WebhookDeliveryStatusEnum }),
    attempts: t.exposeInt('attempts'),
    lastStatusCode: t.exposeInt('lastStatusCode', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    nextAttemptAt: t.expose('nextAttemptAt', {
      type: 'DateTime',
      nullable: true,
      description:
        'When a PENDING delivery is attempted next; null while it waits for its disabled webhook to be enabled again.',
    }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    payload: t.expose('payload', { type: 'JSON', description: 'The JSON body sent.' }),
    attemptLog: t.field({
      type: [WebhookAttempt],
      resolve: (d) => (d.attemptLog as unknown as AttemptLogEntry[]) ?? [],
    }),
    run: t.relation('run'),
    webhook: t.relation('webhook'),
  }),
});

builder.prismaObjectField('Crew', 'webhooks', (t) =>
  t.relation('webhooks', {
    authScopes: INTEGRATIONS,
    query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
  }),
);

const CreateWebhookInput = builder.inputType('CreateWebhookInput', {
  fields: (t) => ({
    crewId: t.id({ required: true }),
    url: t.string({
      required: true,
      description:
        'An http:// or https:// URL that receives the POSTs. Loopback, private, link-local and other non-public destinations are refused (checked here and on every address the host resolves to, before each attempt) unless the server sets TROUPE_WEBHOOK_ALLOW_PRIVATE; cloud metadata endpoints always are.',
    }),
    events: t.field({ type: [WebhookEventEnum], description: 'Default: every run outcome.' }),
    enabled: t.boolean({ defaultValue: true }),
  }),
});

const CreateWebhookPayload = builder
  .objectRef<{ id: string; secret: string }>('CreateWebhookPayload')
  .implement({
    fields: (t) => ({
      webhook: t.prismaField({
        type: 'Webhook',
        resolve: (query, p, _a, ctx) => ctx.db.webhook.findUniqueOrThrow({ ...query, where: { id: p.id } }),
      }),
      secret: t.exposeString('secret', {
        description: 'Verifies X-Troupe-Signature. Shown once: store it now.',
      }),
    }),
  });

builder.mutationField('createWebhook', (t) =>
  t.field({
    type: CreateWebhookPayload,
    authScopes: INTEGRATIONS,
    args: { input: t.arg({ type: CreateWebhookInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const crewId = parseGlobalId('input.crewId', String(input.crewId), 'Crew');
      const url = parseWebhookUrl('input.url', input.url, ctx.settings.webhookAllowPrivate);
      const events = parseEvents('input.events', input.events);
      const crew = await ctx.db.crew.findUnique({ where: { id: crewId }, select: { id: true } });
      if (!crew) throw notFound('Crew', String(input.crewId));
      const hook = await ctx.db.webhook.create({
        data: { tenantId, crewId, url, events, enabled: input.enabled ?? true },
        select: { id: true },
      });
      await audit(ctx, ctx.db, tenantId, 'webhook.create', { type: 'Webhook', id: hook.id }, { events });
      return { id: hook.id, secret: deriveHookSecret(ctx.settings.secret, 'webhook', hook.id) };
    },
  }),
);

const UpdateWebhookInput = builder.inputType('UpdateWebhookInput', {
  description: 'Fields left out keep their value. The secret does not change.',
  fields: (t) => ({
    id: t.id({ required: true }),
    url: t.string(),
    events: t.field({ type: [WebhookEventEnum] }),
    enabled: t.boolean(),
  }),
});

const WebhookPayload = (name: string) =>
  builder.objectRef<{ id: string }>(name).implement({
    fields: (t) => ({
      webhook: t.prismaField({
        type: 'Webhook',
        resolve: (query, p, _a, ctx) => ctx.db.webhook.findUniqueOrThrow({ ...query, where: { id: p.id } }),
      }),
    }),
  });

builder.mutationField('updateWebhook', (t) =>
  t.field({
    type: WebhookPayload('UpdateWebhookPayload'),
    authScopes: INTEGRATIONS,
    args: { input: t.arg({ type: UpdateWebhookInput, required: true }) },
    resolve: async (_r, { input }, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const id = parseGlobalId('input.id', String(input.id), 'Webhook');
      const data = {
        ...(input.url != null
          ? { url: parseWebhookUrl('input.url', input.url, ctx.settings.webhookAllowPrivate) }
          : {}),
        ...(input.events !== undefined ? { events: parseEvents('input.events', input.events) } : {}),
        ...(input.enabled != null ? { enabled: input.enabled } : {}),
      };
      const { count } = await ctx.db.webhook.updateMany({ where: { id }, data });
      if (count === 0) throw notFound('Webhook', String(input.id));
      // Deliveries held while it was disabled are due now (the row lock just taken orders this
      // with the delivery loop's hold: see webhook-dispatcher).
      if (input.enabled === true)
        await ctx.db.webhookDelivery.updateMany({
          where: { webhookId: id, status: 'PENDING', nextAttemptAt: null },
          data: { nextAttemptAt: new Date() },
        });
      await audit(ctx, ctx.db, tenantId, 'webhook.update', { type: 'Webhook', id });
      return { id };
    },
  }),
);

builder.mutationField('deleteWebhook', (t) =>
  t.field({
    type: builder.objectRef<{ deletedId: string }>('DeleteWebhookPayload').implement({
      fields: (f) => ({ deletedId: f.exposeID('deletedId') }),
    }),
    description: 'Deletes a webhook with its delivery log; deliveries still pending are not sent.',
    authScopes: INTEGRATIONS,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const id = parseGlobalId('id', String(args.id), 'Webhook');
      const { count } = await ctx.db.webhook.deleteMany({ where: { id } });
      if (count === 0) throw notFound('Webhook', String(args.id));
      await audit(ctx, ctx.db, tenantId, 'webhook.delete', { type: 'Webhook', id });
      return { deletedId: String(args.id) };
    },
  }),
);

builder.mutationField('redeliverWebhook', (t) =>
  t.field({
    type: builder.objectRef<{ id: string }>('RedeliverWebhookPayload').implement({
      fields: (f) => ({
        delivery: f.prismaField({
          type: 'WebhookDelivery',
          resolve: (query, p, _a, ctx) =>
            ctx.db.webhookDelivery.findUniqueOrThrow({ ...query, where: { id: p.id } }),
        }),
      }),
    }),
    description:
      'Sends a finished delivery (FAILED or SUCCEEDED) again, with a fresh set of attempts and the same deliveryId.',
    authScopes: INTEGRATIONS,
    args: { deliveryId: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const id = parseGlobalId('deliveryId', String(args.deliveryId), 'WebhookDelivery');
      const d = await ctx.db.webhookDelivery.findUnique({ where: { id }, select: { status: true } });
      if (!d) throw notFound('WebhookDelivery', String(args.deliveryId));
      if (d.status === 'PENDING')
        throw new TroupeServerError(
          'CONFLICT',
          'deliveryId: the delivery is still PENDING; it will be attempted',
        );
      await ctx.db.webhookDelivery.update({
        where: { id },
        data: { status: 'PENDING', attempts: 0, nextAttemptAt: new Date(), deliveredAt: null },
      });
      await audit(ctx, ctx.db, tenantId, 'webhook.redeliver', { type: 'WebhookDelivery', id });
      return { id };
    },
  }),
);

// Inbound hooks: signed POSTs to /hooks/crews/:crewId/runs start runs.

builder.prismaNode('InboundHook', {
  id: { field: 'id' },
  nullable: true,
  authScopes: INTEGRATIONS,
  description:
    'Lets a signed POST to /hooks/crews/<crew id>/runs start a run of its crew (n8n, Zapier, scripts). The secret is shown once, by createInboundHook.',
  fields: (t) => ({
    path: t.string({
      description: 'Where to POST, relative to the server URL.',
      select: { crewId: true },
      resolve: (h) => `/hooks/crews/${encodeURIComponent(encodeGlobalID('Crew', h.crewId))}/runs`,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    crew: t.relation('crew'),
  }),
});

builder.prismaObjectField('Crew', 'inboundHook', (t) =>
  t.relation('inboundHook', { authScopes: INTEGRATIONS, nullable: true }),
);

const CreateInboundHookPayload = builder
  .objectRef<{ id: string; secret: string }>('CreateInboundHookPayload')
  .implement({
    fields: (t) => ({
      hook: t.prismaField({
        type: 'InboundHook',
        resolve: (query, p, _a, ctx) =>
          ctx.db.inboundHook.findUniqueOrThrow({ ...query, where: { id: p.id } }),
      }),
      secret: t.exposeString('secret', {
        description: 'Signs requests (X-Troupe-Signature). Shown once: store it now.',
      }),
    }),
  });

builder.mutationField('createInboundHook', (t) =>
  t.field({
    type: CreateInboundHookPayload,
    description:
      'Gives a crew its inbound hook (one per crew). To change the secret, delete the hook and create another.',
    authScopes: INTEGRATIONS,
    args: { crewId: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const crewId = parseGlobalId('crewId', String(args.crewId), 'Crew');
      const crew = await ctx.db.crew.findUnique({
        where: { id: crewId },
        select: { id: true, inboundHook: { select: { id: true } } },
      });
      if (!crew) throw notFound('Crew', String(args.crewId));
      if (crew.inboundHook)
        throw new TroupeServerError(
          'CONFLICT',
          'crewId: the crew already has an inbound hook; delete it first to get a new secret',
        );
      const hook = await ctx.db.inboundHook.create({ data: { tenantId, crewId }, select: { id: true } });
      await audit(ctx, ctx.db, tenantId, 'inbound_hook.create', { type: 'InboundHook', id: hook.id });
      return { id: hook.id, secret: deriveHookSecret(ctx.settings.secret, 'inbound-hook', hook.id) };
    },
  }),
);

builder.mutationField('deleteInboundHook', (t) =>
  t.field({
    type: builder.objectRef<{ deletedId: string }>('DeleteInboundHookPayload').implement({
      fields: (f) => ({ deletedId: f.exposeID('deletedId') }),
    }),
    description: 'Deletes an inbound hook: requests signed with its secret are refused from now on.',
    authScopes: INTEGRATIONS,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_r, args, ctx) => {
      const { tenantId } = tenantOf(ctx);
      const id = parseGlobalId('id', String(args.id), 'InboundHook');
      const { count } = await ctx.db.inboundHook.deleteMany({ where: { id } });
      if (count === 0) throw notFound('InboundHook', String(args.id));
      await audit(ctx, ctx.db, tenantId, 'inbound_hook.delete', { type: 'InboundHook', id });
      return { deletedId: String(args.id) };
    },
  }),
);
