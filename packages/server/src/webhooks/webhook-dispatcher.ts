import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { skipTenantsCondition, startClaimLoop } from '../db/claim-loop.js';
import { type Database, systemTransaction, type Tx } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';
import {
  RefusedDestinationError,
  type ResolveHost,
  resolveDestination,
  resolveWithSystem,
} from './webhook-destination.js';
import { deriveHookSecret, signatureHeader } from './webhook-signature.js';

export interface WebhookDispatcherOptions {
  database: Database;
  /** The server secret (TROUPE_SECRET) the signing secrets derive from. */
  secret: string;
  /** Attempts per delivery before it is FAILED. Default 6. */
  maxAttempts?: number;
  /** Time limit of one attempt (connect to last byte). Default 10 s. */
  timeoutMs?: number;
  /** Wait after the first failed attempt; doubles after each. Default 30 s (30 s, 1 min, 2 min, …). */
  backoffMs?: number;
  /** How often due deliveries are looked for. Default 1 s. */
  pollMs?: number;
  /** Deliveries sent at once. Default 8. */
  concurrency?: number;
  /**
   * Send to loopback, private, link-local, CGNAT and other non-public addresses too
   * (TROUPE_WEBHOOK_ALLOW_PRIVATE). Default false: such destinations are refused, checked on every
   * address the host resolves to, before each attempt. Cloud metadata endpoints are always refused.
   */
  allowPrivate?: boolean;
  /** DNS resolution of webhook hosts (default: the system resolver). Every answer is checked, then connected to as is. */
  resolveHost?: ResolveHost;
}

export interface WebhookDispatcher {
  /** Looks for due deliveries now (after a run finished in this process). */
  wake(): void;
  /** Resolves once no due delivery is left and none is in flight (tests). */
  drain(): Promise<void>;
  /**
   * Stops claiming. Attempts in flight get a second to finish; then they are cut short, not counted,
   * and due again at once (for the next process). Unsent deliveries stay PENDING for the next start.
   */
  close(): Promise<void>;
}

interface Claimed {
  id: string;
  tenantId: string;
  attempts: number;
}

interface AttemptLogEntry {
  at: string;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

const RESPONSE_EXCERPT = 200;
/** The longest wait between two attempts: the doubling stops here (unbounded, attempt 40 overflowed the date). */
const MAX_BACKOFF_MS = 3_600_000;
/** Response bytes read (for the excerpt in the log); the rest is not waited for. */
const RESPONSE_READ_LIMIT = 4096;
/** How long a refusal's body is waited for, for the excerpt. */
const RESPONSE_READ_MS = 1000;
/** How long a closing loop lets the deliveries in progress finish before it cuts them short. */
const CLOSE_WAIT_MS = 1000;
/** The attempt log's note on an attempt cut short by a shutdown. */
const INTERRUPTED =
  'interrupted: the sending process shut down before the receiver answered (not counted; sent again)';

interface AttemptResult {
  statusCode: number | null;
  error: string | null;
  /** No further attempt can succeed (a refused destination): FAILED now. */
  permanent?: boolean;
}

/** A lookup that answers with addresses already checked, so the connection goes where the check looked. */
function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
    const usable = wanted ? addresses.filter((a) => a.family === wanted) : addresses;
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, usable);
    const first = usable[0];
    if (!first) return callback(new Error('no checked address of the requested family'), '', 4);
    callback(null, first.address, first.family);
  };
}

/**
 * One POST over node:http(s), connected to a checked address: the URL keeps its hostname, so the
 * Host header and TLS SNI/certificate check are the webhook's. Redirects are not followed.
 */
function post(
  url: URL,
  addresses: LookupAddress[],
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    // Until an answer's status has come, the time limit or a stop fails the attempt.
    let onAbort = () => reject(signal.reason);
    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        signal,
        lookup: pinnedLookup(addresses),
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        // Accepted once its status says so: a receiver that answers 2xx at once and finishes its
        // body later must not be counted as timed out, and sent the delivery again.
        if (status >= 200 && status < 300) {
          res.destroy();
          resolve({ status, text: '' });
          return;
        }
        // A refusal's body is read for the log's excerpt, briefly.
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          clearTimeout(excerptTimer);
          res.destroy();
          resolve({ status, text: Buffer.concat(chunks).toString('utf8') });
        };
        const excerptTimer = setTimeout(done, RESPONSE_READ_MS);
        // The refusal is the attempt's outcome: a time limit or stop while its body is read only
        // cuts the excerpt short (a stop had released the attempt uncounted, to be sent again).
        onAbort = done;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= RESPONSE_READ_LIMIT) done();
        });
        res.on('end', done);
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // However far the exchange got, the time limit ends it (the promise settles once).
    signal.addEventListener('abort', () => onAbort(), { once: true });
    req.end(body);
  });
}

/**
 * Claims due PENDING deliveries (none of skipTenants'), atomically: one UPDATE of the rows a
 * SELECT … FOR UPDATE SKIP LOCKED picked pushes their nextAttemptAt past the attempt's time limit (a lease), so no
 * other dispatcher claims the same attempt; a dispatcher that dies mid-attempt leaves the row to be
 * claimed again once the lease runs out. The dispatch policy exposes only PENDING rows, and only
 * inside this transaction; the work on each row happens in its own tenant's transaction.
 */
async function claimDue(
  database: Database,
  limit: number,
  leaseSeconds: number,
  skipTenants: readonly string[],
): Promise<Claimed[]> {
  return database.prisma.$transaction(async (tx) => {
    await tx.$executeRawUnsafe(systemTransaction('app.webhook_dispatch'));
    // The due rows are picked in a CTE, run once. In `WHERE id IN (SELECT … LIMIT n FOR UPDATE
    // SKIP LOCKED)` Postgres may run the sub-select again for each row, each run skipping the rows
    // just claimed: every due row was claimed, whatever the limit, and sent at once.
    return tx.$queryRawUnsafe<Claimed[]>(
      `WITH due AS (
         SELECT id FROM "WebhookDelivery"
          WHERE status = 'PENDING' AND "nextAttemptAt" <= (now() AT TIME ZONE 'UTC')${skipTenantsCondition(skipTenants, 3)}
          ORDER BY "nextAttemptAt"
          LIMIT $2
          FOR UPDATE SKIP LOCKED)
       UPDATE "WebhookDelivery" d
          SET "nextAttemptAt" = (now() AT TIME ZONE 'UTC') + make_interval(secs => $1)
         FROM due
        WHERE d.id = due.id
        RETURNING d.id, d."tenantId", d.attempts`,
      leaseSeconds,
      limit,
      ...skipTenants,
    );
  });
}

function describeError(err: unknown, timeoutMs: number, signal: AbortSignal): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (signal.aborted || e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return `timed out after ${timeoutMs} ms`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message}: ${cause}` : String(e?.message ?? err);
}

/**
 * The delivery loop (in `troupe dev` / embedded servers and in `troupe worker`): POSTs each due
 * delivery's payload to its webhook's URL, signed, and records every attempt. Non-2xx answers,
 * network errors and timeouts are retried with exponential backoff up to maxAttempts. Redirects
 * are not followed (a 3xx is a failed attempt). Before each attempt the host is resolved and every
 * address checked (see allowPrivate); a refused destination FAILs the delivery at once, and the
 * connection goes to the checked address. Signing secrets are derived per attempt and never logged.
 */
export function startWebhookDispatcher(opts: WebhookDispatcherOptions): WebhookDispatcher {
  const maxAttempts = opts.maxAttempts ?? 6;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const backoffMs = opts.backoffMs ?? 30_000;
  const pollMs = opts.pollMs ?? 1000;
  const concurrency = opts.concurrency ?? 8;
  const allowPrivate = opts.allowPrivate ?? false;
  const resolveHost = opts.resolveHost ?? resolveWithSystem;
  const leaseSeconds = Math.ceil(timeoutMs / 1000) + 30;
  /** Aborted when the loop closes and a delivery in progress has had CLOSE_WAIT_MS more to finish. */
  const stop = new AbortController();

  /**
   * Appends an attempt to the delivery's log with the changes it brings, if the claim that made the
   * attempt still holds it (attempts still as claimed, still PENDING).
   */
  const logAttempt = (
    c: Claimed,
    entry: AttemptLogEntry,
    data: Prisma.WebhookDeliveryUpdateManyMutationInput,
  ) =>
    opts.database.withTenant(c.tenantId, async (tx) => {
      const row = await tx.webhookDelivery.findUnique({ where: { id: c.id }, select: { attemptLog: true } });
      if (!row) return;
      await tx.webhookDelivery.updateMany({
        where: { id: c.id, attempts: c.attempts, status: 'PENDING' },
        data: {
          ...data,
          attemptLog: [
            ...((row.attemptLog as unknown as AttemptLogEntry[]) ?? []),
            entry,
          ] as unknown as Prisma.InputJsonValue,
        },
      });
    });

  const record = async (c: Claimed, result: AttemptResult, at: Date, ms: number) => {
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const attempts = c.attempts + 1;
    const final = !ok && (attempts >= maxAttempts || result.permanent === true);
    await logAttempt(
      c,
      { at: at.toISOString(), statusCode: result.statusCode, error: result.error, durationMs: ms },
      {
        attempts,
        status: ok ? 'SUCCEEDED' : final ? 'FAILED' : 'PENDING',
        lastStatusCode: result.statusCode,
        lastError: result.error,
        deliveredAt: ok ? new Date() : null,
        nextAttemptAt:
          ok || final
            ? null
            : new Date(Date.now() + Math.min(backoffMs * 2 ** (attempts - 1), MAX_BACKOFF_MS)),
      },
    );
    if (final)
      console.warn(
        `troupe: webhook delivery ${encodeGlobalID('WebhookDelivery', c.id)} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${result.error}`,
      );
  };

  /**
   * An attempt this process cut short as it shut down is not the receiver's failure: it does not
   * count, it is noted in the log, and the delivery is due again at once, for the next process (the
   * receiver may have got it: `X-Troupe-Delivery` names the duplicate), instead of after its lease.
   */
  const release = (c: Claimed, at: Date, ms: number) =>
    logAttempt(
      c,
      { at: at.toISOString(), statusCode: null, error: INTERRUPTED, durationMs: ms },
      { nextAttemptAt: new Date() },
    );

  /**
   * A disabled webhook's pending delivery waits, no attempt spent, with no nextAttemptAt until the
   * webhook is enabled again (updateWebhook makes its held deliveries due). The webhook's row is
   * read FOR SHARE: an updateWebhook that enables it meanwhile either waits for this hold, and then
   * releases it, or commits first, and the delivery is made due at once instead.
   */
  const hold = (c: Claimed, webhookId: string) =>
    opts.database.withTenant(
      c.tenantId,
      (tx: Tx) =>
        tx.$executeRaw`UPDATE "WebhookDelivery" d
          SET "nextAttemptAt" = CASE WHEN w.enabled THEN (now() AT TIME ZONE 'UTC') ELSE NULL END
         FROM (SELECT enabled FROM "Webhook" WHERE id = ${webhookId} FOR SHARE) w
        WHERE d.id = ${c.id} AND d.status = 'PENDING' AND d.attempts = ${c.attempts}`,
    );

  const deliver = async (c: Claimed) => {
    const loaded = await opts.database.withTenant(c.tenantId, (tx: Tx) =>
      tx.webhookDelivery.findUnique({
        where: { id: c.id },
        select: { event: true, payload: true, webhook: { select: { id: true, url: true, enabled: true } } },
      }),
    );
    if (!loaded) return;
    if (!loaded.webhook.enabled) {
      await hold(c, loaded.webhook.id);
      return;
    }
    const at = new Date();
    const deliveryId = encodeGlobalID('WebhookDelivery', c.id);
    // The delivery's id is in the signed body too: a receiver that drops duplicates by it cannot be
    // fooled by a replay whose unsigned X-Troupe-Delivery header was changed.
    const body = JSON.stringify({ deliveryId, ...(loaded.payload as Record<string, unknown>) });
    const secret = deriveHookSecret(opts.secret, 'webhook', loaded.webhook.id);
    const t0 = performance.now();
    // The attempt ends at its time limit or at the loop's stop. (Not AbortSignal.any: each
    // combined signal stays attached to the loop's for good, a leak per attempt.)
    const attempt = new AbortController();
    const signal = attempt.signal;
    let timedOut = false;
    const limit = setTimeout(() => {
      timedOut = true;
      attempt.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    const onStop = () => attempt.abort(stop.signal.reason);
    stop.signal.addEventListener('abort', onStop, { once: true });
    let result: AttemptResult;
    try {
      const url = new URL(loaded.webhook.url);
      const addresses = await Promise.race([
        resolveDestination(url, { allowPrivate, resolveHost }),
        new Promise<never>((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        ),
      ]);
      const res = await post(
        url,
        addresses,
        {
          'content-type': 'application/json',
          'user-agent': 'Troupe-Webhooks/1',
          'x-troupe-event': loaded.event,
          'x-troupe-delivery': deliveryId,
          'x-troupe-signature': signatureHeader(secret, body),
        },
        body,
        signal,
      );
      result =
        res.status >= 200 && res.status < 300
          ? { statusCode: res.status, error: null }
          : {
              statusCode: res.status,
              error: `HTTP ${res.status}${res.text ? `: ${res.text.slice(0, RESPONSE_EXCERPT)}` : ''}`,
            };
    } catch (err) {
      if (stop.signal.aborted && !timedOut && !(err instanceof RefusedDestinationError)) {
        await release(c, at, Math.round(performance.now() - t0));
        return;
      }
      result =
        err instanceof RefusedDestinationError
          ? { statusCode: null, error: err.message, permanent: true }
          : { statusCode: null, error: describeError(err, timeoutMs, signal) };
    } finally {
      clearTimeout(limit);
      stop.signal.removeEventListener('abort', onStop);
    }
    await record(c, result, at, Math.round(performance.now() - t0));
  };

  const loop = startClaimLoop<Claimed>({
    claim: (limit, skipTenants) => claimDue(opts.database, limit, leaseSeconds, skipTenants),
    tenantOf: (c) => c.tenantId,
    work: deliver,
    countDue: async () => {
      const due = await opts.database.prisma.$transaction(async (tx) => {
        await tx.$executeRawUnsafe(systemTransaction('app.webhook_dispatch'));
        return tx.$queryRawUnsafe<{ n: number }[]>(
          `SELECT count(*)::int AS n FROM "WebhookDelivery" WHERE status = 'PENDING' AND "nextAttemptAt" <= (now() AT TIME ZONE 'UTC')`,
        );
      });
      return due[0]?.n ?? 0;
    },
    pollMs,
    concurrency,
    what: 'webhook deliveries',
    describe: (c) => `webhook delivery ${encodeGlobalID('WebhookDelivery', c.id)}`,
  });
  return {
    wake: loop.wake,
    drain: loop.drain,
    async close() {
      // Deliveries in progress get a moment to finish; then they are cut short and released, so
      // that a slow receiver neither holds the shutdown up nor waits out a lease to be sent again.
      const cut = setTimeout(() => stop.abort(new Error('shutting down')), CLOSE_WAIT_MS);
      try {
        await loop.close();
      } finally {
        clearTimeout(cut);
      }
    },
  };
}
