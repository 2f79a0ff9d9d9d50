import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { ADMIN_KEY, deleteRedisKeys, PG_BASE_URL, pgAdmin, SECRET, withDatabaseName } from './backend.js';
import { BIN } from './cli-process.js';

/** One `troupe` OS process (serve or worker) with its output captured. */
export interface TroupeProcess {
  name: string;
  child: ChildProcess;
  output(): string;
  /** serve: the server URL; worker: ''. */
  url: string;
  /** Resolves with the exit signal or code. */
  exited: Promise<NodeJS.Signals | number | null>;
  kill(signal?: NodeJS.Signals): Promise<NodeJS.Signals | number | null>;
}

async function spawnTroupe(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
): Promise<TroupeProcess> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = ready.exec(out);
      if (m) resolve(m[1] ?? '');
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`${name} exited with ${code} before it was ready:\n${out}`)));
  });
  return {
    name,
    child,
    output: () => out,
    url,
    exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A private, disposable redis-server (no persistence) that a test may kill and start again. */
export interface PrivateRedis {
  url: string;
  port: number;
  start(): Promise<void>;
  /** SIGKILL: connections drop at once, every key is lost. */
  kill(): Promise<void>;
}

export async function privateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const bin = process.env.TROUPE_TEST_REDIS_SERVER ?? '/usr/bin/redis-server';
  const r: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      const c = spawn(
        bin,
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      child = c;
      await new Promise<void>((resolve, reject) => {
        let out = '';
        c.stdout!.on('data', (d) => {
          out += d;
          if (/Ready to accept connections/.test(out)) resolve();
        });
        c.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
      });
    },
    async kill() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((resolve) => c.once('exit', resolve));
      c.kill('SIGKILL');
      await gone;
    },
  };
  await r.start();
  return r;
}

export interface ClusterOptions {
  servers?: number;
  workers?: number;
  /** Default: the shared Redis (TROUPE_TEST_REDIS_URL or 127.0.0.1:6379), isolated by a unique prefix. */
  redisUrl?: string;
  /** Extra environment of worker `i` (e.g. OPENAI_API_KEY to tell workers apart at the LLM server). */
  workerEnv?: (i: number) => NodeJS.ProcessEnv;
  workerConcurrency?: number;
  /** TROUPE_WORKER_LOCK_MS of the workers. */
  lockMs?: number;
}

/** `troupe serve` and `troupe worker` processes over one fresh Postgres database and Redis prefix. */
export interface Cluster {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  servers: TroupeProcess[];
  workers: TroupeProcess[];
  startWorker(i: number): Promise<TroupeProcess>;
  /** Kills every process, drops the database and deletes the prefix's Redis keys. */
  close(): Promise<void>;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const redisUrl = opts.redisUrl ?? process.env.TROUPE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const id = randomBytes(5).toString('hex');
  const prefix = `troupe-proof-${id}`;
  const dbName = `troupe_p_${id}`;
  await pgAdmin((c) => c.query(`CREATE DATABASE "${dbName}"`));
  const databaseUrl = withDatabaseName(PG_BASE_URL, dbName);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-proof-'));
  const common = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    TROUPE_QUEUE_PREFIX: prefix,
    TROUPE_SECRET: SECRET,
    TROUPE_ADMIN_KEY: ADMIN_KEY,
    TROUPE_DATA_DIR: dataDir,
    TROUPE_DB_POOL_SIZE: '4',
  };
  const servers: TroupeProcess[] = [];
  const workers: TroupeProcess[] = [];
  const cluster: Cluster = {
    databaseUrl,
    redisUrl,
    prefix,
    servers,
    workers,
    async startWorker(i) {
      const w = await spawnTroupe(
        `worker-${i}`,
        ['worker', '--concurrency', String(opts.workerConcurrency ?? 2)],
        {
          ...common,
          TROUPE_MIGRATE: 'false',
          TROUPE_WORKER_LOCK_MS: String(opts.lockMs ?? 1000),
          ...opts.workerEnv?.(i),
        },
        /worker ready()/,
      );
      workers[i] = w;
      return w;
    },
    async close() {
      await Promise.all([...servers, ...workers].filter(Boolean).map((p) => p.kill('SIGKILL')));
      await pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`)).catch(() => {});
      rmSync(dataDir, { recursive: true, force: true });
      // (A private redis-server that is already gone has nothing left to delete.)
      await deleteRedisKeys(prefix, redisUrl);
    },
  };
  try {
    const serve = (i: number, migrate: boolean) =>
      spawnTroupe(
        `server-${i}`,
        ['serve', '--port', '0', '--host', '127.0.0.1'],
        { ...common, TROUPE_MIGRATE: String(migrate) },
        /GraphQL\s+(http:\/\/\S+)\/graphql/,
      );
    // The first server applies the migrations; the others start on the migrated database.
    servers.push(await serve(0, true));
    for (let i = 1; i < (opts.servers ?? 2); i++) servers.push(await serve(i, false));
    await Promise.all(Array.from({ length: opts.workers ?? 2 }, (_, i) => cluster.startWorker(i)));
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}

/** A run event as the proofs select it. */
export interface SeenEvent {
  seq: number;
  type: string;
  delta: string | null;
  taskRunId: string | null;
}

export const RUN_EVENTS =
  'subscription($runId: ID!, $afterSeq: Int) { runEvents(runId: $runId, afterSeq: $afterSeq) { seq type delta taskRunId } }';

/** One graphql-ws connection with one runEvents subscription; `terminate` drops its TCP socket. */
export interface WsSubscription {
  events: SeenEvent[];
  /** Resolves when the subscription completes ('complete') or the connection breaks ('error'). */
  done: Promise<'complete' | 'error'>;
  onEvent(listener: (e: SeenEvent) => void): void;
  /** Destroys the socket without a close handshake, as a network failure would. */
  terminate(): void;
  dispose(): Promise<void>;
}

export function wsSubscribeRun(
  serverUrl: string,
  token: string,
  runId: string,
  afterSeq = 0,
): WsSubscription {
  let socket: WebSocket | undefined;
  const listeners: ((e: SeenEvent) => void)[] = [];
  const events: SeenEvent[] = [];
  const client: Client = createClient({
    url: `${serverUrl.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: true,
    retryAttempts: 0,
    on: { connected: (s) => (socket = s as WebSocket) },
  });
  const done = new Promise<'complete' | 'error'>((resolve) => {
    client.subscribe(
      { query: RUN_EVENTS, variables: { runId, afterSeq } },
      {
        next: (v) => {
          if (v.errors) return resolve('error');
          const e = (v.data as { runEvents: SeenEvent }).runEvents;
          events.push(e);
          for (const l of listeners) l(e);
        },
        error: () => resolve('error'),
        complete: () => resolve('complete'),
      },
    );
  });
  return {
    events,
    done,
    onEvent: (l) => listeners.push(l),
    terminate: () => socket?.terminate(),
    dispose: () => Promise.resolve(client.dispose()),
  };
}

/** Sequence numbers are 1..N, each once, in order. */
export function isGapless(events: { seq: number }[], from = 1): boolean {
  return events.every((e, i) => e.seq === from + i);
}

export const tokenText = (events: SeenEvent[]) =>
  events
    .filter((e) => e.type === 'TOKEN')
    .map((e) => e.delta ?? '')
    .join('');
