import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import type { CrewDefinition } from '../crews/crew-definition.js';
import type { Database } from '../db/database.js';
import type { EventBus } from '../events/event-bus.js';
import { publishCommitted } from '../events/run-channels.js';
import { Prisma } from '../generated/prisma/client.js';
import { sendJson } from '../http/json-response.js';
import { loadRuntime } from '../runs/execute-run.js';
import type { RunExecutor } from '../runs/run-executor.js';
import { publishRunUpdate } from '../runs/run-updates.js';
import { deriveHookSecret, SIGNATURE_TOLERANCE_SECONDS, verifySignatureHeader } from './webhook-signature.js';

export interface InboundHookEndpointOptions {
  database: Database;
  /** The server secret (TROUPE_SECRET) hook secrets derive from. */
  secret: string;
  executor: RunExecutor;
  bus: EventBus;
  /** Largest body accepted (413 beyond). */
  maxBodyBytes: number;
}

const ROUTE = /^\/hooks\/crews\/([^/]+)\/runs\/?$/;
const KEY_MAX = 200;

class HookError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  sendJson(res, status, body, status === 413);
}

function readBody(req: IncomingMessage, max: number): Promise<string> {
  const tooLarge = () =>
    new HookError(413, 'PAYLOAD_TOO_LARGE', `Request body too large: at most ${max} bytes.`);
  if (Number(req.headers['content-length'] ?? 0) > max) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        // Stop collecting; the answer closes the connection.
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The crew's hook, found by the crew id in the URL before its tenant is known (policy inbound_hook_by_crew). */
function findHook(database: Database, crewId: string) {
  return database.prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(`SELECT set_config('app.inbound_hook_crew', $1, true)`, crewId);
    return tx.inboundHook.findUnique({ where: { crewId }, select: { id: true, tenantId: true } });
  });
}

function crewIdFrom(segment: string): string | undefined {
  try {
    const { typename, id } = decodeGlobalID(decodeURIComponent(segment));
    return typename === 'Crew' && id ? id : undefined;
  } catch {
    return undefined;
  }
}

const SIGNATURE_ERRORS = {
  missing:
    'Missing X-Troupe-Signature header: sign the request with the hook secret (t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">).',
  malformed:
    'Malformed X-Troupe-Signature header: expected t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">.',
  stale: `X-Troupe-Signature timestamp is outside the ${SIGNATURE_TOLERANCE_SECONDS / 60}-minute window: sign each request when you send it (and check the sender's clock).`,
  mismatch: 'Invalid X-Troupe-Signature: it does not match the body and this crew’s hook secret.',
} as const;

interface HookBody {
  inputs: Record<string, unknown>;
  idempotencyKey?: string;
}

function parseBody(raw: string): HookBody {
  let body: unknown;
  try {
    body = raw.trim() ? JSON.parse(raw) : {};
  } catch {
    throw new HookError(
      400,
      'BAD_INPUT',
      'body: must be JSON: {"inputs": {...}, "idempotencyKey"?: "..."}',
      'body',
    );
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new HookError(400, 'BAD_INPUT', 'body: must be a JSON object', 'body');
  const { inputs, idempotencyKey } = body as Record<string, unknown>;
  if (inputs != null && (typeof inputs !== 'object' || Array.isArray(inputs)))
    throw new HookError(400, 'BAD_INPUT', 'inputs: must be a JSON object of placeholder values', 'inputs');
  if (idempotencyKey != null) {
    if (typeof idempotencyKey !== 'string' || !idempotencyKey.trim() || idempotencyKey.length > KEY_MAX)
      throw new HookError(
        400,
        'BAD_INPUT',
        `idempotencyKey: must be a non-empty string of at most ${KEY_MAX} characters`,
        'idempotencyKey',
      );
  }
  return {
    inputs: (inputs ?? {}) as Record<string, unknown>,
    ...(typeof idempotencyKey === 'string' ? { idempotencyKey: idempotencyKey.trim() } : {}),
  };
}

async function checkInputs(def: CrewDefinition, inputs: Record<string, unknown>): Promise<void> {
  const { templateVariables } = await loadRuntime();
  for (const task of def.tasks) {
    for (const name of templateVariables(task.description)) {
      if (inputs[name] === undefined || inputs[name] === null)
        throw new HookError(
          400,
          'BAD_INPUT',
          `inputs.${name}: is required by task "${task.name}" ({{${name}}})`,
          `inputs.${name}`,
        );
    }
  }
}

/**
 * `POST /hooks/crews/:crewId/runs` (crewId: the crew's global id): starts a run from a signed
 * request. Refuses an unknown crew or one without a hook (404), a missing, malformed, stale or wrong
 * signature (401), a replayed request or a repeated idempotencyKey (409, with the run it started),
 * bad inputs (400, naming the field) and bodies over the limit (413). Answers 202 {runId, status}.
 */
export async function handleInboundHook(
  opts: InboundHookEndpointOptions,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  // Set once the request's run key is known: a concurrent duplicate is answered with its run.
  let started: { tenantId: string; key: string } | undefined;
  try {
    const m = ROUTE.exec(path);
    if (!m)
      throw new HookError(
        404,
        'NOT_FOUND',
        `Not found: ${path}. Inbound hooks are POST /hooks/crews/<crew id>/runs.`,
      );
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      throw new HookError(405, 'METHOD_NOT_ALLOWED', 'Use POST to start a run.');
    }
    const raw = await readBody(req, opts.maxBodyBytes);
    const crewId = crewIdFrom(m[1]!);
    const hook = crewId ? await findHook(opts.database, crewId) : null;
    if (!crewId || !hook) throw new HookError(404, 'NOT_FOUND', 'No inbound hook for this crew.');
    const signature = req.headers['x-troupe-signature'];
    const header = Array.isArray(signature) ? signature[0] : signature;
    const check = verifySignatureHeader(deriveHookSecret(opts.secret, 'inbound-hook', hook.id), header, raw);
    if (!check.ok) throw new HookError(401, 'UNAUTHENTICATED', SIGNATURE_ERRORS[check.reason]);
    const body = parseBody(raw);
    // A replay carries the same signature; a sender's retry, the same idempotencyKey. Both are
    // this hook's own: another crew's hook may receive the same event id. The signature is taken
    // as verified (its timestamp and MAC), not as sent: a header written differently (upper-case
    // hex, a zero-padded timestamp, extra parts) is still the same request.
    const key = body.idempotencyKey
      ? `hook:${hook.id}:${body.idempotencyKey}`
      : `hook:${hook.id}:sig:${check.mac}`;
    const tenantId = hook.tenantId;
    started = { tenantId, key };
    const run = await opts.database.withTenant<{ duplicate: string } | { created: string }>(
      tenantId,
      async (tx) => {
        const existing = await tx.run.findUnique({
          where: { tenantId_idempotencyKey: { tenantId, idempotencyKey: key } },
          select: { id: true },
        });
        if (existing) return { duplicate: existing.id };
        const crew = await tx.crew.findUnique({
          where: { id: crewId },
          select: { version: true, maxAttempts: true, backoffMs: true },
        });
        if (!crew) throw new HookError(404, 'NOT_FOUND', 'No inbound hook for this crew.');
        const version = await tx.crewVersion.findUniqueOrThrow({
          where: { crewId_version: { crewId, version: crew.version } },
        });
        const def = version.definition as unknown as CrewDefinition;
        await checkInputs(def, body.inputs);
        const created = await tx.run.create({
          data: {
            tenantId,
            crewId,
            crewVersionId: version.id,
            inputs: body.inputs as Prisma.InputJsonValue,
            idempotencyKey: key,
            maxAttempts: crew.maxAttempts,
            backoffMs: crew.backoffMs,
            taskRuns: {
              create: def.tasks.map((task, position) => ({ tenantId, taskName: task.name, position })),
            },
          },
          select: { id: true },
        });
        await tx.auditEvent.create({
          data: {
            tenantId,
            actorType: 'inbound_hook',
            actorId: hook.id,
            action: 'run.start',
            targetType: 'Run',
            targetId: created.id,
          },
        });
        return { created: created.id };
      },
    );
    if ('duplicate' in run) {
      return send(res, 409, {
        error: {
          code: 'CONFLICT',
          message: body.idempotencyKey
            ? 'idempotencyKey: already used; this request started that run before.'
            : 'Replayed request: this signature was already used. Sign every request afresh.',
        },
        runId: encodeGlobalID('Run', run.duplicate),
      });
    }
    await opts.executor.enqueue({ tenantId, runId: run.created }, { fresh: true });
    await publishCommitted(() => publishRunUpdate(opts.bus, tenantId, run.created));
    send(res, 202, { runId: encodeGlobalID('Run', run.created), status: 'QUEUED' });
  } catch (err) {
    if (err instanceof HookError) {
      return send(res, err.status, {
        error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) },
      });
    }
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002' && started) {
      // The same request twice at once: the other one started the run (committed by now).
      const { tenantId, key } = started;
      const other = await opts.database
        .withTenant(tenantId, (tx) =>
          tx.run.findUnique({
            where: { tenantId_idempotencyKey: { tenantId, idempotencyKey: key } },
            select: { id: true },
          }),
        )
        .catch(() => null);
      return send(res, 409, {
        error: {
          code: 'CONFLICT',
          message: 'The same request arrived twice at once; the other one started the run.',
        },
        ...(other ? { runId: encodeGlobalID('Run', other.id) } : {}),
      });
    }
    console.error('troupe: inbound hook:', (err as Error).message);
    if (!res.headersSent) send(res, 500, { error: { code: 'INTERNAL', message: 'Internal error.' } });
  }
}
