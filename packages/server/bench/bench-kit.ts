// Shared pieces of the server benchmarks: fresh Postgres databases and Redis prefixes, `troupe`
// processes, graphql-ws subscribers, percentiles, and the table + JSON every bench reports.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Client, createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket from 'ws';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = path.resolve(here, '../bin/troupe.mjs');
export const PG_BASE_URL = process.env.TROUPE_BENCH_PG_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TROUPE_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const ADMIN_KEY = `trpa_${randomBytes(24).toString('hex')}`;
export const SECRET = randomBytes(32).toString('hex');
/** BENCH_SCALE=0.5 halves every bench's sample counts (quick checks); 2 doubles them. */
export const SCALE = Number(process.env.BENCH_SCALE ?? 1);
export const scaled = (n: number) => Math.max(1, Math.round(n * SCALE));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now();
/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const wallNow = () => performance.timeOrigin + performance.now();

/** What a worker publishes for a stored TOKEN event; the bench puts the send time in `delta`. */
export const liveTokenEvent = (runId: string, seq: number, sentAt: number) =>
  JSON.stringify({
    runId,
    seq,
    type: 'TOKEN',
    at: new Date().toISOString(),
    taskRunId: null,
    delta: String(sentAt),
    data: null,
  });

/** CPU time (user + system, every thread) a process has used so far, in ms; 0 once it is gone. */
export function cpuMs(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, fields 14 and 15, in clock ticks (100 a second on Linux).
    return ((Number(f[11]) + Number(f[12])) / 100) * 1000;
  } catch {
    return 0;
  }
}

/** Read and write system calls a process has made so far (/proc/<pid>/io); zeros when unreadable. */
export function syscalls(pid: number | undefined): { reads: number; writes: number } {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (k: string) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(io)?.[1] ?? 0);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return { reads: 0, writes: 0 };
  }
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export async function pgAdmin<T>(fn: (c: pg.Client) => Promise<T>, url = PG_BASE_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh Postgres database and Redis prefix; `drop` removes both. */
export async function freshBackend(): Promise<{
  databaseUrl: string;
  prefix: string;
  drop(): Promise<void>;
}> {
  const id = randomBytes(5).toString('hex');
  const name = `troupe_bench_${id}`;
  await pgAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  const u = new URL(PG_BASE_URL);
  u.pathname = `/${name}`;
  const prefix = `troupe-bench-${id}`;
  return {
    databaseUrl: u.toString(),
    prefix,
    async drop() {
      await pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).catch(() => {});
      await deleteRedisPrefix(prefix);
    },
  };
}

/**
 * For a process start's catch: stops what had started and drops the backend, then rethrows, so
 * that a server that fails to start leaves no database behind.
 */
export function dropOnFailure(backend: { drop(): Promise<void> }, ...started: Proc[]) {
  return async (err: unknown): Promise<never> => {
    for (const p of started) await p.stop();
    await backend.drop();
    throw err;
  };
}

export async function deleteRedisPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export interface Proc {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Resident set size in bytes (Linux /proc). */
  rss(): number;
  stop(): Promise<void>;
}

/** BENCH_ENV="K=V K2=V2": extra environment for the spawned processes (e.g. MALLOC_ARENA_MAX=2). */
function benchEnv(): NodeJS.ProcessEnv {
  const pairs = (process.env.BENCH_ENV ?? '').split(/\s+/).filter((kv) => kv.indexOf('=') > 0);
  return Object.fromEntries(pairs.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/** Spawns `node <args>` and resolves once its output matches `ready` (group 1 is the URL, if any). */
export async function spawnReady(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<Proc> {
  // BENCH_PROF=dir: the spawned process writes a CPU profile there when it exits.
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
  // BENCH_NODE_ARGS: extra node flags for the spawned processes (e.g. --max-semi-space-size=8).
  const extra = process.env.BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...prof, ...extra, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, ...benchEnv() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const on = (d: Buffer) => {
      out += d;
      const m = ready.exec(out);
      if (m) resolve(m[1] ?? '');
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    void exited.then(() => reject(new Error(`${args.join(' ')} exited:\n${out}`)));
  });
  return {
    child,
    url,
    output: () => out,
    rss() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

export const GRAPHQL_READY = /GraphQL\s+(http:\/\/\S+)\/graphql/;

/** `troupe serve` on Postgres + Redis (runs are queued for workers). */
export function troupeServe(databaseUrl: string, prefix: string, env: NodeJS.ProcessEnv = {}): Promise<Proc> {
  return spawnReady(
    [BIN, 'serve', '--port', '0', '--host', '127.0.0.1'],
    {
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      TROUPE_QUEUE_PREFIX: prefix,
      TROUPE_SECRET: SECRET,
      TROUPE_ADMIN_KEY: ADMIN_KEY,
      NODE_ENV: 'production',
      ...env,
    },
    GRAPHQL_READY,
  );
}

/**
 * The load generator's HTTP client: node:http on keep-alive sockets. It shares two cores with the
 * processes it measures, and global fetch (undici's WHATWG streams, Headers, Response) cost about
 * twice as much CPU per request: a load generator that takes less leaves more to what is measured,
 * as clients on other machines would.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export async function gql<T = any>(url: string, query: string, variables: object, token: string): Promise<T> {
  const payload = JSON.stringify({ query, variables });
  const text = await new Promise<string>((resolve, reject) => {
    const req = http.request(
      `${url}/graphql`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
          authorization: `Bearer ${token}`,
        },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => resolve(data));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
  const body = JSON.parse(text) as { data?: T; errors?: unknown };
  if (body.errors || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors ?? text)}`);
  return body.data;
}

/** A tenant with an API key, and a crew of one agent and `tasks` tasks on `provider`. */
export async function tenantAndCrew(
  url: string,
  opts: { provider: 'OPENAI' | 'SCRIPTED'; tasks?: number },
): Promise<{ key: string; tenantId: string; crewId: string }> {
  const t = await gql(
    url,
    'mutation { createTenant(input: { name: "bench" }) { tenant { id } apiKey { secret } } }',
    {},
    ADMIN_KEY,
  );
  const key = t.createTenant.apiKey.secret as string;
  const tasks = Array.from({ length: opts.tasks ?? 1 }, (_, i) => ({
    name: `t${i}`,
    description: `Answer {{q}} (${i})`,
    expectedOutput: 'An answer',
    agent: 'a',
    ...(i > 0 ? { dependsOn: [`t${i - 1}`] } : {}),
  }));
  const c = await gql(
    url,
    'mutation($input: CreateCrewInput!) { createCrew(input: $input) { crew { id } } }',
    {
      input: {
        name: 'bench',
        process: 'SEQUENTIAL',
        agents: [
          {
            name: 'a',
            role: 'r',
            goal: 'g',
            backstory: 'b',
            model: { provider: opts.provider, name: 'bench-model' },
          },
        ],
        tasks,
      },
    },
    key,
  );
  const tenantId = Buffer.from(t.createTenant.tenant.id, 'base64').toString().split(':')[1]!;
  return { key, tenantId, crewId: c.createCrew.crew.id };
}

export const START_RUN = 'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }';

export async function startRun(url: string, key: string, crewId: string, q: string): Promise<string> {
  return (await gql(url, START_RUN, { input: { crewId, inputs: { q } } }, key)).startRun.run.id;
}

/** The database id inside a Relay global id. */
export const dbId = (globalId: string) => Buffer.from(globalId, 'base64').toString().split(':')[1]!;

export const RUN_EVENTS =
  'subscription($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq type delta } }';

export interface BenchEvent {
  seq: number;
  type: string;
  delta: string | null;
}

/**
 * A graphql-ws client, connected on its first subscription. `lingerMs`: how long the socket stays
 * open after the last subscription ended, for the next one to reuse (as @troupe/sdk's
 * streamLingerMs, default 1000 there); 0 (default here) closes it at once, so every subscription
 * connects and authenticates again.
 */
export function wsClient(url: string, key: string, lingerMs = 0): Client {
  return createClient({
    url: `${url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    lazy: true,
    lazyCloseTimeout: lingerMs,
    retryAttempts: 0,
  });
}

/** Subscribes to a run's events; resolves when the stream completes. */
export function subscribeRun(
  client: Client,
  runId: string,
  onEvent: (e: BenchEvent) => void,
  afterSeq = 0,
): Promise<void> {
  return new Promise((resolve, reject) => {
    client.subscribe(
      { query: RUN_EVENTS, variables: { runId, afterSeq } },
      {
        next: (v) => {
          if (v.errors) reject(new Error(JSON.stringify(v.errors)));
          else onEvent((v.data as { runEvents: BenchEvent }).runEvents);
        },
        error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
        complete: () => resolve(),
      },
    );
  });
}

export interface Row {
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  /** value / baseline (or as stated in `ratioNote`). */
  ratio?: number;
  goal?: string;
  met?: boolean;
}

const fmt = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? '' : Math.abs(n) >= 100 ? n.toFixed(0) : n.toPrecision(3);

/** Prints the bench's table and writes bench-results/<name>.json. */
export function report(name: string, rows: Row[], extra: Record<string, unknown> = {}): void {
  console.log(`\n${name} (node ${process.version})`);
  console.table(
    rows.map((r) => ({
      metric: r.metric,
      value: `${fmt(r.value)} ${r.unit}`,
      baseline: r.baseline === undefined ? '' : `${fmt(r.baseline)} ${r.unit}`,
      ratio: r.ratio === undefined ? '' : `${fmt(r.ratio)}x`,
      goal: r.goal ?? '',
      met: r.met === undefined ? '' : r.met ? 'yes' : 'NO',
    })),
  );
  const out = path.resolve(here, '../bench-results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, `${name}.json`),
    `${JSON.stringify({ name, at: new Date().toISOString(), node: process.version, rows, ...extra }, null, 2)}\n`,
  );
}

export function tempDir(tag: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), `troupe-bench-${tag}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
