import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../src/config.js';
import { startServer, type TroupeServer } from '../src/server.js';
import { ADMIN_KEY, BACKEND, createTestDatabase, SECRET, type TestDatabase } from './support/backend.js';
import { CREATE_CREW, createTenant, gql, gqlOk, OPENAI_CREW } from './support/graphql-client.js';
import { sseSubscribe } from './support/sse-client.js';

// A shutdown (SIGTERM, Ctrl-C) lets the requests under way finish while what they need is still
// open, and refuses new ones with 503 / UNAVAILABLE. No run is created and then reported as failed.

let llm: OpenAICompatibleTestServer;
let tdb: TestDatabase;
let dataDir: string;
let servers: TroupeServer[];

const APP_ORIGIN = 'https://app.example';
const START_RUN = 'mutation($input: StartRunInput!) { startRun(input: $input) { run { id status } } }';
const RUN = 'query($id: ID!) { run(id: $id) { status output } }';
const EVENTS = 'subscription($runId: ID!) { runEvents(runId: $runId) { seq type } }';

beforeEach(async () => {
  llm = await createOpenAICompatibleTestServer();
  llm.setFallback(() => ({ text: 'done' }));
  tdb = await createTestDatabase();
  dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-shutdown-'));
  servers = [];
});
afterEach(async () => {
  for (const s of servers) await s.close().catch(() => {});
  await tdb?.close();
  await llm?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function start(): Promise<TroupeServer> {
  const { config } = loadConfig(
    'embedded',
    { port: 0, host: '127.0.0.1', dataDir },
    { TROUPE_ADMIN_KEY: ADMIN_KEY, TROUPE_SECRET: SECRET, TROUPE_CORS_ORIGINS: APP_ORIGIN },
  );
  const s = await startServer(config, {
    database: tdb.database,
    providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
    webhooks: false,
    documents: false,
  });
  servers.push(s);
  return s;
}

async function setUp(s: TroupeServer) {
  const { key } = await createTenant(s.url, ADMIN_KEY, 'shutdown');
  const crewId = (await gqlOk(s.url, CREATE_CREW, { input: OPENAI_CREW }, key)).createCrew.crew.id as string;
  return { key, crewId };
}

/** Shuts `s` down; the test goes on while it does (its close() is not awaited). */
function beginClose(s: TroupeServer): Promise<void> {
  servers = servers.filter((x) => x !== s);
  return s.close();
}

/** A run, watched until it ends, on a (restarted) server: it was not lost. */
async function finalStatus(url: string, key: string, runId: string): Promise<string> {
  for await (const r of sseSubscribe(url, EVENTS, { runId }, key))
    if (r.errors) throw new Error(JSON.stringify(r.errors));
  return (await gqlOk(url, RUN, { id: runId }, key)).run.status;
}

async function expectRefused(s: TroupeServer, key: string, crewId: string) {
  const late = await gql(s.url, START_RUN, { input: { crewId, inputs: { topic: 'late' } } }, key);
  expect(late.status).toBe(503);
  expect(late.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
  expect(late.errors?.[0]?.message).toMatch(/shutting down/);
  const health = await fetch(`${s.url}/health`);
  expect(health.status).toBe(503);
  await health.body?.cancel();
  // A browser app allowed by TROUPE_CORS_ORIGINS gets through its preflight and can read the 503.
  const preflight = await fetch(`${s.url}/graphql`, {
    method: 'OPTIONS',
    headers: { origin: APP_ORIGIN, 'access-control-request-method': 'POST' },
  });
  expect(preflight.ok).toBe(true);
  expect(preflight.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
  const fromBrowser = await fetch(`${s.url}/graphql`, {
    method: 'POST',
    headers: { origin: APP_ORIGIN, 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: '{ viewer { kind } }' }),
  });
  expect(fromBrowser.status).toBe(503);
  expect(fromBrowser.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
  await fromBrowser.body?.cancel();
}

test('an inbound hook request under way when the shutdown starts still starts its run; requests after it get 503', async () => {
  let s = await start();
  const { key, crewId } = await setUp(s);
  const hook = await gqlOk(
    s.url,
    'mutation($id: ID!) { createInboundHook(crewId: $id) { hook { path } secret } }',
    { id: crewId },
    key,
  );
  const body = JSON.stringify({ inputs: { topic: 'sent as the server stops' } });
  const t = Math.floor(Date.now() / 1000);
  const signature = `t=${t},v1=${createHmac('sha256', hook.createInboundHook.secret).update(`${t}.${body}`).digest('hex')}`;

  // The request's headers reach the server (it answers `100 Continue` as it takes the request),
  // and its body is still on the way when the shutdown starts.
  const url = new URL(hook.createInboundHook.hook.path, s.url);
  const req = httpRequest(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-troupe-signature': signature,
      expect: '100-continue',
    },
  });
  const answer = new Promise<{ status: number; body: any }>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
  });
  await new Promise<void>((resolve) => req.once('continue', resolve));
  req.write(body.slice(0, 10));

  const closed = beginClose(s);
  await expectRefused(s, key, crewId);

  req.end(body.slice(10));
  const r = await answer;
  expect(r.status).toBe(202);
  expect(r.body.status).toBe('QUEUED');
  await closed;

  // Nothing lost: the run it started finishes after the next start.
  s = await start();
  expect(await finalStatus(s.url, key, r.body.runId)).toBe('SUCCEEDED');
});

test('live subscriptions (SSE, WebSocket) do not hold the shutdown up: they end, and their run resumes after a restart', async () => {
  llm.setFallback(() => ({ text: 'one two three four five six seven eight', chunkDelayMs: 1000 }));
  let s = await start();
  const { key, crewId } = await setUp(s);
  const runId = (await gqlOk(s.url, START_RUN, { input: { crewId, inputs: { topic: 'slow' } } }, key))
    .startRun.run.id as string;
  const sse = sseSubscribe(s.url, EVENTS, { runId }, key);
  expect((await sse.next()).value?.data.runEvents.type).toBe('RUN_STARTED');
  const ws = createClient({
    url: `${s.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
  });
  let subscribed!: () => void;
  const wsSubscribed = new Promise<void>((resolve) => {
    subscribed = resolve;
  });
  const wsEnded = new Promise<string>((resolve) => {
    ws.subscribe(
      { query: EVENTS, variables: { runId } },
      {
        next: () => subscribed(),
        error: (e) => resolve(`error ${(e as CloseEvent).code}`),
        complete: () => resolve('complete'),
      },
    );
  });
  await wsSubscribed;
  const warn = vi.spyOn(console, 'warn');
  try {
    await beginClose(s);
    // Not cut off after the drain's time limit: nothing was waited for.
    expect(warn.mock.calls.flat().join(' ')).not.toMatch(/still in progress/);
  } finally {
    warn.mockRestore();
  }
  // The SSE stream ends with the connection, the WebSocket as "going away".
  await expect(
    (async () => {
      for await (const _ of sse);
    })(),
  ).rejects.toThrow();
  expect(await wsEnded).toBe('error 1001');
  await ws.dispose();

  llm.setFallback(() => ({ text: 'done' }));
  s = await start();
  expect(await finalStatus(s.url, key, runId)).toBe('SUCCEEDED');
});

describe.runIf(BACKEND === 'postgres')('operations under way (held by a table lock)', () => {
  test('startRun over HTTP and over WebSocket finish and their runs complete after a restart; new WebSocket operations are refused', async () => {
    let s = await start();
    const { key, crewId } = await setUp(s);
    const ws = createClient({
      url: `${s.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
      retryAttempts: 0,
    });
    const overWs = (query: string, variables: Record<string, unknown>) =>
      new Promise<any>((resolve) => {
        let result: unknown;
        ws.subscribe(
          { query, variables },
          {
            next: (v) => {
              result = v;
            },
            error: (error) => resolve({ error }),
            complete: () => resolve(result),
          },
        );
      });
    // The WebSocket is open and authenticated before the shutdown.
    expect((await overWs('{ crews(first: 1) { edges { node { id } } } }', {})).errors).toBeUndefined();

    const holder = new pg.Client({ connectionString: tdb.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE "Run" IN EXCLUSIVE MODE');
      const viaHttp = gql(s.url, START_RUN, { input: { crewId, inputs: { topic: 'http' } } }, key);
      const viaWs = overWs(START_RUN, { input: { crewId, inputs: { topic: 'ws' } } });
      // Both wait for the lock, inside their mutation.
      for (let waiting = 0; waiting < 2; ) {
        await new Promise((r) => setTimeout(r, 20));
        waiting = (
          await holder.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          )
        ).rows[0].n;
      }

      const closed = beginClose(s);
      await expectRefused(s, key, crewId);
      const refused = await overWs('{ crews(first: 1) { edges { node { id } } } }', {});
      expect(refused.error?.[0]?.extensions?.code ?? refused.errors?.[0]?.extensions?.code).toBe(
        'UNAVAILABLE',
      );

      await holder.query('COMMIT');
      const [h, w] = await Promise.all([viaHttp, viaWs]);
      expect(h.errors).toBeUndefined();
      expect(w.errors).toBeUndefined();
      expect(w.error ? `${w.error.code} ${w.error.reason}` : undefined).toBeUndefined();
      const ids = [h.data?.startRun.run.id as string, w.data.startRun.run.id as string];
      await closed;

      s = await start();
      for (const id of ids) expect(await finalStatus(s.url, key, id)).toBe('SUCCEEDED');
    } finally {
      await ws.dispose();
      await holder.end();
    }
  });
});
