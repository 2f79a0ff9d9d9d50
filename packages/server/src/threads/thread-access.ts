import type { Principal } from '../auth/principal.js';
import { joinSql, SqlText, sql } from '../db/sql-text.js';
import { TroupeServerError } from '../errors.js';
import type { Prisma } from '../generated/prisma/client.js';

/**
 * The threads a caller may touch, on top of row-level security's tenant boundary. API keys: all of
 * the tenant's. Session tokens (end users of a host app): the threads they were limited to, or
 * else the threads created under their subject.
 */
export function threadScope(p: Principal): Prisma.ThreadWhereInput {
  if (p.kind !== 'session') return {};
  // Wrapped in AND so that spreading it next to an `id` condition narrows instead of replacing it.
  return { AND: [p.threadIds ? { id: { in: p.threadIds } } : { subject: p.subject }] };
}

/** threadScope as a SQL condition on "Thread" (for Database.script). */
export function threadScopeSql(p: Principal): SqlText {
  if (p.kind !== 'session') return new SqlText('TRUE');
  if (!p.threadIds) return sql`"subject" = ${p.subject}`;
  if (p.threadIds.length === 0) return new SqlText('FALSE');
  return sql`"id" IN (${joinSql(p.threadIds.map((id) => sql`${id}`))})`;
}

/**
 * The runs a caller may see. A session token limited to threads: only those threads' runs. A
 * session token of a subject: the runs of its own threads, its own runs outside threads (started
 * by it, or for it), and the tenant's runs that are for no one in particular (an API key started
 * them and named no subject). Another user's runs carry their inputs and outputs: never.
 */
export function runScope(p: Principal): Prisma.RunWhereInput {
  if (p.kind !== 'session') return {};
  if (p.threadIds) return { AND: [{ threadId: { in: p.threadIds } }] };
  return {
    AND: [
      {
        OR: [
          { threadId: null, OR: [{ subject: null }, { subject: p.subject }] },
          { thread: { subject: p.subject } },
        ],
      },
    ],
  };
}

/** runScope as a SQL condition on "Run" (for Database.script). */
export function runScopeSql(p: Principal): SqlText {
  if (p.kind !== 'session') return new SqlText('TRUE');
  if (!p.threadIds)
    return sql`(("threadId" IS NULL AND ("subject" IS NULL OR "subject" = ${p.subject})) OR "threadId" IN (SELECT "id" FROM "Thread" WHERE "subject" = ${p.subject}))`;
  if (p.threadIds.length === 0) return new SqlText('FALSE');
  return sql`"threadId" IN (${joinSql(p.threadIds.map((id) => sql`${id}`))})`;
}

/**
 * The runs a caller may act on (cancel, retry, answer an approval): a session token, only its own
 * user's (its threads' runs, and runs outside threads for its subject), not the tenant's shared
 * ones it can read.
 */
export function runActScope(p: Principal): Prisma.RunWhereInput {
  if (p.kind !== 'session') return {};
  if (p.threadIds) return { AND: [{ threadId: { in: p.threadIds } }] };
  return { AND: [{ OR: [{ threadId: null, subject: p.subject }, { thread: { subject: p.subject } }] }] };
}

/** Session tokens limited to threads can only act on those threads. */
export function assertNotThreadLimited(p: Principal, what: string): void {
  if (p.kind === 'session' && p.threadIds) {
    throw new TroupeServerError(
      'FORBIDDEN',
      `Not allowed: this session token is limited to threads (${p.threadIds.length}) and cannot ${what}.`,
    );
  }
}
