// Outbound webhooks (signed, retried, outbox-backed deliveries) and inbound hooks (signed POSTs
// that start runs), against real HTTP receivers and senders on port 0.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startServer, type TroupeServer } from '../src/server.js';
import { resolveWithSystem } from '../src/webhooks/webhook-destination.js';
import { startWebhookDispatcher } from '../src/webhooks/webhook-dispatcher.js';
import { ADMIN_KEY, BACKEND, createTestDatabase, SECRET, type TestDatabase } from './support/backend.js';
import { CREATE_CREW, createTenant, gql, gqlOk, OPENAI_CREW } from './support/graphql-client.js';

const CREW = OPENAI_CREW;
const START = 'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }';
const CREATE_WEBHOOK = `mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id url events enabled } secret } }`;
const DELIVERIES = `query($id: ID!) { node(id: $id) { ... on Webhook { deliveries(first: 10) { edges { node {
  id event status attempts lastStatusCode lastError deliveredAt attemptLog { statusCode error } run { id } } } } } } }`;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** An HTTP receiver on port 0 that records every request and answers from a script. */
async function startReceiver(answer: (n: number) => number = () => 200) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(answer(received.length));
      res.end(received.length > 0 ? 'receiver says hi' : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return {
    url,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** What the README tells receivers to do. */
function verify(secret: string, header: string, body: string): boolean {
  const { t, v1 } = Object.fromEntries(header.split(',').map((p) => p.split('=') as [string, string]));
  if (Math.abs(Date.now() / 1000 - Number(t)) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function sign(secret: string, body: string, t = Math.floor(Date.now() / 1000)): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 15_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let llm: OpenAICompatibleTestServer;
let tdb: TestDatabase;
let server: TroupeServer;
let dataDir: string;
let key: string;
let crewId: string;
/** Names the main server's delivery loop resolved (a test name resolves to the receivers' loopback). */
const resolved: string[] = [];

beforeAll(async () => {
  llm = await createOpenAICompatibleTestServer();
  llm.setFallback(() => ({ text: 'done' }));
  tdb = await createTestDatabase();
  dataDir = mkdtempSync(path.join(tmpdir(), 'troupe-hooks-'));
  const { config } = loadConfig(
    'embedded',
    { port: 0, host: '127.0.0.1', dataDir },
    {
      TROUPE_ADMIN_KEY: ADMIN_KEY,
      TROUPE_SECRET: SECRET,
      TROUPE_MAX_REQUEST_BYTES: '20000',
      // The receivers listen on 127.0.0.1: this server may send there (the default refuses).
      TROUPE_WEBHOOK_ALLOW_PRIVATE: 'true',
    },
  );
  expect(config.webhookAllowPrivate).toBe(true);
  server = await startServer(config, {
    database: tdb.database,
    providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
    webhooks: {
      pollMs: 50,
      backoffMs: 100,
      timeoutMs: 2000,
      maxAttempts: 4,
      resolveHost: async (host) => {
        resolved.push(host);
        return host === 'rebind.example.test'
          ? [{ address: '127.0.0.1', family: 4 }]
          : resolveWithSystem(host);
      },
    },
  });
  ({ key } = await createTenant(server.url, ADMIN_KEY, 'hooks'));
  crewId = (await gqlOk(server.url, CREATE_CREW, { input: { ...CREW, name: 'hooked' } }, key)).createCrew.crew
    .id;
});
afterAll(async () => {
  await server?.close();
  await tdb?.close();
  await llm?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function runToEnd(topic: string, crew = crewId): Promise<string> {
  const runId = (await gqlOk(server.url, START, { input: { crewId: crew, inputs: { topic } } }, key)).startRun
    .run.id as string;
  await until(`run ${topic} to end`, async () => {
    const d = await gqlOk(server.url, 'query($id: ID!) { run(id: $id) { status } }', { id: runId }, key);
    return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(d.run.status) || undefined;
  });
  return runId;
}

async function deleteWebhook(id: string, url = server.url, token = key): Promise<void> {
  await gqlOk(url, 'mutation($id: ID!) { deleteWebhook(id: $id) { deletedId } }', { id }, token);
}

async function deliveries(webhookId: string) {
  const d = await gqlOk(server.url, DELIVERIES, { id: webhookId }, key);
  return d.node.deliveries.edges.map((e: any) => e.node) as any[];
}

describe(`outbound webhooks (${BACKEND})`, () => {
  test('createWebhook checks its input, shows the secret once, and is not for session tokens', async () => {
    const bad = async (input: Record<string, unknown>, field: string, rule: RegExp) => {
      const r = await gql(server.url, CREATE_WEBHOOK, { input: { crewId, ...input } }, key);
      expect(r.errors?.[0]?.extensions, JSON.stringify(r)).toMatchObject({ code: 'BAD_INPUT', field });
      expect(r.errors?.[0]?.message).toMatch(rule);
    };
    await bad({ url: 'ftp://example.com/x' }, 'input.url', /http:\/\/ or https:\/\/ URL \(got ftp\)/);
    await bad({ url: 'not a url' }, 'input.url', /absolute http/);
    await bad({ url: 'https://u:p@example.com/' }, 'input.url', /credentials/);
    await bad({ url: 'https://example.com/', events: [] }, 'input.events', /at least one of RUN_SUCCEEDED/);
    const session = (
      await gqlOk(
        server.url,
        'mutation { createSessionToken(input: { subject: "u", scopes: [ADMIN] }) { token } }',
        {},
        key,
      )
    ).createSessionToken.token;
    const forbidden = await gql(
      server.url,
      CREATE_WEBHOOK,
      { input: { crewId, url: 'https://example.com/' } },
      session,
    );
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const hidden = await gql(
      server.url,
      'query($id: ID!) { crew(id: $id) { webhooks { id } } }',
      { id: crewId },
      session,
    );
    expect(hidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const q = 'query($id: ID!) { crew(id: $id) { webhooks { id } } }';
    expect((await gqlOk(server.url, q, { id: crewId }, key)).crew.webhooks).toEqual([]);
  });

  test('a finished run produces one signed delivery that verifies with the secret', async () => {
    const receiver = await startReceiver();
    try {
      const created = (await gqlOk(server.url, CREATE_WEBHOOK, { input: { crewId, url: receiver.url } }, key))
        .createWebhook;
      expect(created.secret).toMatch(/^whsec_/);
      expect(created.webhook.events).toEqual(['RUN_SUCCEEDED', 'RUN_FAILED', 'RUN_CANCELLED']);
      const runId = await runToEnd('signed');
      await until('the delivery', () => receiver.received.length === 1 || undefined);
      const got = receiver.received[0]!;
      expect(verify(created.secret, String(got.headers['x-troupe-signature']), got.body)).toBe(true);
      expect(verify(`${created.secret}x`, String(got.headers['x-troupe-signature']), got.body)).toBe(false);
      expect(got.headers['x-troupe-event']).toBe('RUN_SUCCEEDED');
      expect(got.headers['content-type']).toBe('application/json');
      const payload = JSON.parse(got.body);
      expect(payload).toMatchObject({
        event: 'RUN_SUCCEEDED',
        runId,
        crewId,
        status: 'SUCCEEDED',
        output: 'done',
        error: null,
      });
      expect(payload.usage.totalTokens).toBeGreaterThan(0);
      // The totals include the usage logged with the run's end (same transaction): they equal the run's.
      const { run } = await gqlOk(
        server.url,
        'query($id: ID!) { run(id: $id) { usage { promptTokens completionTokens costUsd } } }',
        { id: runId },
        key,
      );
      expect(payload.usage).toMatchObject({
        promptTokens: run.usage.promptTokens,
        completionTokens: run.usage.completionTokens,
        totalTokens: run.usage.promptTokens + run.usage.completionTokens,
      });
      expect(Number(payload.usage.costUsd)).toBeCloseTo(run.usage.costUsd, 9);
      expect(new Date(payload.finishedAt).getTime()).toBeLessThanOrEqual(Date.now());
      const [d] = await until('SUCCEEDED in the log', async () => {
        const list = await deliveries(created.webhook.id);
        return list[0]?.status === 'SUCCEEDED' ? list : undefined;
      });
      expect(d).toMatchObject({
        event: 'RUN_SUCCEEDED',
        attempts: 1,
        lastStatusCode: 200,
        run: { id: runId },
      });
      expect(got.headers['x-troupe-delivery']).toBe(d.id);
      // The same id inside the signed body: duplicates are dropped by something a replay cannot change.
      expect(payload.deliveryId).toBe(d.id);
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.received).toHaveLength(1);
      await deleteWebhook(created.webhook.id);
    } finally {
      await receiver.close();
    }
  });

  test("a chat run's delivery carries the run's usage, its last answer included", async () => {
    const chatCrew = (
      await gqlOk(
        server.url,
        CREATE_CREW,
        {
          input: {
            name: 'hooked chat',
            process: 'SEQUENTIAL',
            agents: [
              { name: 'helper', role: 'Helper', goal: 'Help', backstory: '', model: CREW.agents[0]!.model },
            ],
            tasks: [{ name: 'answer', description: 'Answer: {{message}}', agent: 'helper' }],
          },
        },
        key,
      )
    ).createCrew.crew.id;
    const receiver = await startReceiver();
    try {
      const created = (
        await gqlOk(server.url, CREATE_WEBHOOK, { input: { crewId: chatCrew, url: receiver.url } }, key)
      ).createWebhook;
      const thread = (
        await gqlOk(
          server.url,
          'mutation($input: CreateThreadInput!) { createThread(input: $input) { thread { id } } }',
          { input: { crewId: chatCrew } },
          key,
        )
      ).createThread.thread.id;
      const runId = (
        await gqlOk(
          server.url,
          'mutation($input: SendMessageInput!) { sendMessage(input: $input) { run { id } } }',
          { input: { threadId: thread, content: 'hello' } },
          key,
        )
      ).sendMessage.run.id;
      await until('the delivery', () => receiver.received.length === 1 || undefined);
      const payload = JSON.parse(receiver.received[0]!.body);
      const { run } = await gqlOk(
        server.url,
        'query($id: ID!) { run(id: $id) { status usage { promptTokens completionTokens } } }',
        { id: runId },
        key,
      );
      expect(run.status).toBe('SUCCEEDED');
      expect(run.usage.promptTokens).toBeGreaterThan(0);
      expect(payload).toMatchObject({ event: 'RUN_SUCCEEDED', runId, output: 'done' });
      expect(payload.usage).toMatchObject({
        promptTokens: run.usage.promptTokens,
        completionTokens: run.usage.completionTokens,
      });
      await deleteWebhook(created.webhook.id);
    } finally {
      await receiver.close();
    }
  });

  test('a receiver answering 500 twice then 200 gets 3 attempts, each in the log', async () => {
    const receiver = await startReceiver((n) => (n <= 2 ? 500 : 200));
    try {
      const created = (
        await gqlOk(
          server.url,
          CREATE_WEBHOOK,
          { input: { crewId, url: receiver.url, events: ['RUN_SUCCEEDED'] } },
          key,
        )
      ).createWebhook;
      await runToEnd('flaky receiver');
      const [d] = await until('SUCCEEDED after retries', async () => {
        const list = await deliveries(created.webhook.id);
        return list[0]?.status === 'SUCCEEDED' ? list : undefined;
      });
      expect(d.attempts).toBe(3);
      expect(d.attemptLog.map((a: any) => a.statusCode)).toEqual([500, 500, 200]);
      expect(d.attemptLog[0].error).toMatch(/^HTTP 500: receiver says hi/);
      expect(receiver.received).toHaveLength(3);
      // One delivery, three attempts: receivers can drop duplicates by X-Troupe-Delivery.
      expect(new Set(receiver.received.map((r) => r.headers['x-troupe-delivery']))).toEqual(new Set([d.id]));
      for (const r of receiver.received)
        expect(verify(created.secret, String(r.headers['x-troupe-signature']), r.body)).toBe(true);
      await deleteWebhook(created.webhook.id);
    } finally {
      await receiver.close();
    }
  });

  test('a receiver that answers 200 at once and never finishes its body: delivered once, not timed out', async () => {
    const received: string[] = [];
    const slow: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received.push(String(req.headers['x-troupe-delivery']));
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('accepted, still writing');
      });
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/hook`;
      const created = (
        await gqlOk(server.url, CREATE_WEBHOOK, { input: { crewId, url, events: ['RUN_SUCCEEDED'] } }, key)
      ).createWebhook;
      await runToEnd('slow body');
      const [d] = await until('SUCCEEDED', async () => {
        const list = await deliveries(created.webhook.id);
        return list[0]?.status && list[0].status !== 'PENDING' ? list : undefined;
      });
      expect(d).toMatchObject({ status: 'SUCCEEDED', attempts: 1, lastStatusCode: 200 });
      // The time limit (2 s here) was not what ended the attempt.
      const timed = await gqlOk(
        server.url,
        DELIVERIES.replace('attemptLog { statusCode error }', 'attemptLog { durationMs }'),
        { id: created.webhook.id },
        key,
      );
      expect(timed.node.deliveries.edges[0].node.attemptLog[0].durationMs).toBeLessThan(2000);
      await new Promise((r) => setTimeout(r, 300));
      expect(received).toEqual([d.id]);
      await deleteWebhook(created.webhook.id);
    } finally {
      await new Promise<void>((r) => {
        slow.close(() => r());
        slow.closeAllConnections();
      });
    }
  });

  test('a receiver that never answers 2xx: FAILED after maxAttempts; redeliverWebhook sends it again', async () => {
    let healthy = false;
    const receiver = await startReceiver(() => (healthy ? 204 : 503));
    try {
      const created = (await gqlOk(server.url, CREATE_WEBHOOK, { input: { crewId, url: receiver.url } }, key))
        .createWebhook;
      await runToEnd('down receiver');
      const [d] = await until('FAILED', async () => {
        const list = await deliveries(created.webhook.id);
        return list[0]?.status === 'FAILED' ? list : undefined;
      });
      expect(d.attempts).toBe(4);
      expect(d.lastStatusCode).toBe(503);
      healthy = true;
      const again = await gqlOk(
        server.url,
        'mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { delivery { status attempts } } }',
        { id: d.id },
        key,
      );
      expect(again.redeliverWebhook.delivery).toEqual({ status: 'PENDING', attempts: 0 });
      const [after] = await until('redelivered', async () => {
        const list = await deliveries(created.webhook.id);
        return list[0]?.status === 'SUCCEEDED' ? list : undefined;
      });
      expect(after.lastStatusCode).toBe(204);
      expect(after.attemptLog).toHaveLength(5);
      await deleteWebhook(created.webhook.id);
    } finally {
      await receiver.close();
    }
  });

  test('a named host is resolved once per attempt and connected to at the checked address, Host header kept', async () => {
    const receiver = await startReceiver();
    try {
      const port = new URL(receiver.url).port;
      const url = `http://rebind.example.test:${port}/hook`;
      const created = (await gqlOk(server.url, CREATE_WEBHOOK, { input: { crewId, url } }, key))
        .createWebhook;
      resolved.length = 0;
      await runToEnd('named host');
      const [d] = await until('SUCCEEDED', async () => {
        const list = await deliveries(created.webhook.id);
        return list[0]?.status === 'SUCCEEDED' ? list : undefined;
      });
      expect(d.attempts).toBe(1);
      // The system resolver knows no rebind.example.test: the connection used the checked answer.
      expect(resolved).toEqual(['rebind.example.test']);
      expect(receiver.received).toHaveLength(1);
      expect(receiver.received[0]!.headers.host).toBe(`rebind.example.test:${port}`);
      await deleteWebhook(created.webhook.id);
    } finally {
      await receiver.close();
    }
  });

  test('a webhook disabled while a delivery is pending holds it, no attempt spent; enabling it sends it', async () => {
    // The first attempt is answered (503) only once the webhook is disabled: what follows is the
    // delivery loop's doing, whatever the timing.
    const received: string[] = [];
    let answerFirst!: () => void;
    let receiverServer!: Server;
    const firstArrived = new Promise<void>((arrived) => {
      const srv = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          received.push(String(req.headers['x-troupe-delivery']));
          if (received.length > 1) return void res.writeHead(200).end();
          answerFirst = () => res.writeHead(503).end();
          arrived();
        });
      });
      receiverServer = srv;
    });
    await new Promise<void>((r) => receiverServer.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiverServer.address() as AddressInfo).port}/hook`;
    const UPDATE =
      'mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) { webhook { enabled } } }';
    const HELD = `query($id: ID!) { node(id: $id) { ... on Webhook { deliveries(first: 5) { edges { node {
      id status attempts nextAttemptAt attemptLog { statusCode error } } } } } } }`;
    const held = async (id: string) =>
      (await gqlOk(server.url, HELD, { id }, key)).node.deliveries.edges.map((e: any) => e.node) as any[];
    try {
      const created = (await gqlOk(server.url, CREATE_WEBHOOK, { input: { crewId, url } }, key))
        .createWebhook;
      await runToEnd('disabled mid-retry');
      await firstArrived;
      await gqlOk(server.url, UPDATE, { input: { id: created.webhook.id, enabled: false } }, key);
      answerFirst();
      // Longer than the remaining attempts' backoff (100, 200, 400 ms here): the old loop spent them
      // on "the webhook is disabled" and ended the delivery FAILED.
      await new Promise((r) => setTimeout(r, 1500));
      const [d] = await held(created.webhook.id);
      expect(d).toMatchObject({ status: 'PENDING', nextAttemptAt: null, attempts: 1 });
      expect(d.attemptLog.map((a: any) => a.statusCode)).toEqual([503]);
      expect(received).toHaveLength(1);
      const enabled = await gqlOk(
        server.url,
        UPDATE,
        { input: { id: created.webhook.id, enabled: true } },
        key,
      );
      expect(enabled.updateWebhook.webhook.enabled).toBe(true);
      const [after] = await until('delivered once enabled', async () => {
        const list = await held(created.webhook.id);
        return list[0]?.status === 'SUCCEEDED' ? list : undefined;
      });
      expect(after.attempts).toBe(2);
      expect(received).toEqual([after.id, after.id]);
      await deleteWebhook(created.webhook.id);
    } finally {
      await new Promise<void>((r) => {
        receiverServer.close(() => r());
        receiverServer.closeAllConnections();
      });
    }
  });

  test('deliveries pending when the loop stops are sent by the next loops, each exactly once', async () => {
    const receiver = await startReceiver();
    try {
      const created = (await gqlOk(server.url, CREATE_WEBHOOK, { input: { crewId, url: receiver.url } }, key))
        .createWebhook;
      // The server's delivery loop stops (as at a process stop); runs still finish and queue deliveries.
      await server.webhooks!.close();
      await runToEnd('after stop 1');
      await runToEnd('after stop 2');
      await runToEnd('after stop 3');
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.received).toHaveLength(0);
      const pending = await deliveries(created.webhook.id);
      expect(pending.map((d) => d.status)).toEqual(['PENDING', 'PENDING', 'PENDING']);
      // Two loops start at once (a restart, or two workers): they never send the same attempt twice.
      const loops = [1, 2].map(() =>
        startWebhookDispatcher({
          database: tdb.database,
          secret: SECRET,
          pollMs: 20,
          concurrency: 1,
          allowPrivate: true,
        }),
      );
      try {
        await until('three deliveries', () => receiver.received.length >= 3 || undefined);
        await Promise.all(loops.map((l) => l.drain()));
        await new Promise((r) => setTimeout(r, 300));
        const ids = receiver.received.map((r) => r.headers['x-troupe-delivery']);
        expect(ids).toHaveLength(3);
        expect(new Set(ids).size).toBe(3);
        const done = await deliveries(created.webhook.id);
        expect(done.map((d) => [d.status, d.attempts])).toEqual([
          ['SUCCEEDED', 1],
          ['SUCCEEDED', 1],
          ['SUCCEEDED', 1],
        ]);
        await deleteWebhook(created.webhook.id);
      } finally {
        await Promise.all(loops.map((l) => l.close()));
      }
    } finally {
      await receiver.close();
    }
  });

  test('a delivery in flight when its loop stops is cut short, not counted, and sent again at once by the next loop', async () => {
    // The receiver takes the first request and never answers it; later ones get 200.
    const got: string[] = [];
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        got.push(String(req.headers['x-troupe-delivery']));
        if (got.length > 1) res.writeHead(200).end();
      });
    });
    const url = await new Promise<string>((r) =>
      receiver.listen(0, '127.0.0.1', () =>
        r(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`),
      ),
    );
    const loops: ReturnType<typeof startWebhookDispatcher>[] = [];
    const startLoop = () => {
      // A time limit far beyond the test's: the stop, not the limit, ends the attempt.
      const loop = startWebhookDispatcher({
        database: tdb.database,
        secret: SECRET,
        pollMs: 20,
        timeoutMs: 600_000,
        allowPrivate: true,
      });
      loops.push(loop);
      return loop;
    };
    try {
      const stuckCrew = (await gqlOk(server.url, CREATE_CREW, { input: { ...CREW, name: 'stuck' } }, key))
        .createCrew.crew.id;
      const created = (await gqlOk(server.url, CREATE_WEBHOOK, { input: { crewId: stuckCrew, url } }, key))
        .createWebhook;
      await server.webhooks!.close();
      await runToEnd('stuck', stuckCrew);
      const first = startLoop();
      await until('the first attempt to arrive', () => got.length >= 1 || undefined);
      await first.close();
      const [released] = await deliveries(created.webhook.id);
      expect(released).toMatchObject({ status: 'PENDING', attempts: 0 });
      expect(released.attemptLog).toEqual([
        { statusCode: null, error: expect.stringMatching(/interrupted/) },
      ]);

      startLoop();
      const [sent] = await until('the delivery sent again', async () => {
        const d = await deliveries(created.webhook.id);
        return d[0]?.status === 'SUCCEEDED' ? d : undefined;
      });
      expect(sent.attempts).toBe(1);
      expect(sent.attemptLog.map((a: { statusCode: number | null }) => a.statusCode)).toEqual([null, 200]);
      // The same delivery both times: a receiver that drops duplicates by its id sees it once.
      expect(got).toEqual([sent.id, sent.id]);
      await deleteWebhook(created.webhook.id);
    } finally {
      for (const loop of loops) await loop.close();
      await new Promise<void>((r) => {
        receiver.close(() => r());
        receiver.closeAllConnections();
      });
    }
  });

  test('a refusal whose body is still arriving when the loop stops is recorded as the attempt it was', async () => {
    // The receiver holds the first request; the test answers it 503 once the loop is stopping, and
    // sends only the start of the body.
    let held: ServerResponse | undefined;
    const receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        held = res;
      });
    });
    const url = await new Promise<string>((r) =>
      receiver.listen(0, '127.0.0.1', () =>
        r(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`),
      ),
    );
    const loop = startWebhookDispatcher({
      database: tdb.database,
      secret: SECRET,
      pollMs: 20,
      timeoutMs: 600_000,
      allowPrivate: true,
    });
    try {
      const crewId = (await gqlOk(server.url, CREATE_CREW, { input: { ...CREW, name: 'refusing' } }, key))
        .createCrew.crew.id;
      const created = (await gqlOk(server.url, CREATE_WEBHOOK, { input: { crewId, url } }, key))
        .createWebhook;
      await server.webhooks!.close();
      await runToEnd('refusing', crewId);
      const res = await until('the attempt to arrive', () => held);
      const closing = loop.close();
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.write('busy, try later');
      await closing;
      const [d] = await deliveries(created.webhook.id);
      // Counted, with the receiver's answer, and due again after its backoff: not released as
      // interrupted and sent again at once.
      expect(d).toMatchObject({ status: 'PENDING', attempts: 1 });
      expect(d.attemptLog).toEqual([{ statusCode: 503, error: 'HTTP 503: busy, try later' }]);
      await deleteWebhook(created.webhook.id);
    } finally {
      await loop.close();
      await new Promise<void>((r) => {
        receiver.close(() => r());
        receiver.closeAllConnections();
      });
    }
  });

  test("one tenant's backlog to a slow receiver does not hold another tenant's delivery behind it", async () => {
    // Tenant A's receiver answers only when told; tenant B's at once. Both note who arrived when.
    const arrivals: string[] = [];
    const held: (() => void)[] = [];
    const receiver = (tenant: string) =>
      createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          arrivals.push(tenant);
          if (tenant === 'A') held.push(() => res.headersSent || res.writeHead(200).end());
          else res.writeHead(200).end();
        });
      });
    const servers = [receiver('A'), receiver('B')];
    const urls = await Promise.all(
      servers.map(
        (srv) =>
          new Promise<string>((r) =>
            srv.listen(0, '127.0.0.1', () =>
              r(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`),
            ),
          ),
      ),
    );
    let loop: ReturnType<typeof startWebhookDispatcher> | undefined;
    try {
      // A crew of its own: no other test's webhook gets A's runs.
      const aCrew = (await gqlOk(server.url, CREATE_CREW, { input: { ...CREW, name: 'a' } }, key)).createCrew
        .crew.id;
      const a = (await gqlOk(server.url, CREATE_WEBHOOK, { input: { crewId: aCrew, url: urls[0] } }, key))
        .createWebhook;
      const b = await createTenant(server.url, ADMIN_KEY, 'hooks-b');
      const bCrew = (await gqlOk(server.url, CREATE_CREW, { input: { ...CREW, name: 'b' } }, b.key))
        .createCrew.crew.id;
      const bHook = (
        await gqlOk(server.url, CREATE_WEBHOOK, { input: { crewId: bCrew, url: urls[1] } }, b.key)
      ).createWebhook;
      // Only the loop started below sends (the test above may have stopped the server's already).
      await server.webhooks!.close();
      for (const n of [1, 2, 3, 4]) await runToEnd(`backlog ${n}`, aCrew);
      // Tenant B's run ends last: its delivery is the newest, behind A's four.
      const bRun = (
        await gqlOk(server.url, START, { input: { crewId: bCrew, inputs: { topic: 'b' } } }, b.key)
      ).startRun.run.id;
      await until('B run to end', async () => {
        const d = await gqlOk(server.url, 'query($id: ID!) { run(id: $id) { status } }', { id: bRun }, b.key);
        return d.run.status === 'SUCCEEDED' || undefined;
      });
      loop = startWebhookDispatcher({
        database: tdb.database,
        secret: SECRET,
        pollMs: 20,
        concurrency: 2,
        allowPrivate: true,
      });
      // A's oldest takes one slot; A then holds its share (half of 2), so the other goes to B,
      // newest as it is. B's slot, once free, goes back to A: nobody else waits.
      await until('two of A in flight', () => held.length >= 2 || undefined);
      expect(arrivals.slice(0, 2).sort()).toEqual(['A', 'B']);
      await new Promise((r) => setTimeout(r, 200));
      // Two slots, no more: A's other two wait.
      expect(arrivals.sort()).toEqual(['A', 'A', 'B']);
      expect(held).toHaveLength(2);
      // Then A's backlog is worked off.
      await until("A's backlog", () => {
        for (const answer of held) answer();
        return held.length >= 4 || undefined;
      });
      for (const answer of held) answer();
      await loop.drain();
      expect(arrivals.filter((t) => t === 'A')).toHaveLength(4);
      expect((await deliveries(a.webhook.id)).map((d) => d.status)).toEqual(Array(4).fill('SUCCEEDED'));
      await deleteWebhook(a.webhook.id);
      await deleteWebhook(bHook.webhook.id, server.url, b.key);
    } finally {
      await loop?.close();
      for (const srv of servers)
        await new Promise<void>((r) => {
          srv.close(() => r());
          srv.closeAllConnections();
        });
    }
  });
});

describe(`webhook destinations: SSRF protection (${BACKEND})`, () => {
  // A server with the default policy (private destinations refused), on its own database so that
  // only its delivery loop sends its deliveries. Its resolver answers for test names.
  let strictDb: TestDatabase;
  let strict: TroupeServer;
  let strictKey: string;
  let strictCrewId: string;
  const lookups: string[] = [];

  beforeAll(async () => {
    strictDb = await createTestDatabase();
    const { config } = loadConfig(
      'embedded',
      { port: 0, host: '127.0.0.1', dataDir },
      { TROUPE_ADMIN_KEY: ADMIN_KEY, TROUPE_SECRET: SECRET },
    );
    expect(config.webhookAllowPrivate).toBe(false);
    strict = await startServer(config, {
      database: strictDb.database,
      providers: { openai: { baseUrl: llm.url, apiKey: 'test' } },
      webhooks: {
        pollMs: 50,
        backoffMs: 100,
        timeoutMs: 2000,
        maxAttempts: 4,
        resolveHost: async (host) => {
          lookups.push(host);
          if (host === 'receiver.example.test') return [{ address: '127.0.0.1', family: 4 }];
          if (host === 'mixed.example.test')
            return [
              { address: '93.184.215.14', family: 4 },
              { address: '10.0.0.5', family: 4 },
            ];
          throw new Error(`unexpected lookup of ${host}`);
        },
      },
    });
    ({ key: strictKey } = await createTenant(strict.url, ADMIN_KEY, 'strict'));
    strictCrewId = (await gqlOk(strict.url, CREATE_CREW, { input: { ...CREW, name: 'strict' } }, strictKey))
      .createCrew.crew.id;
  });
  afterAll(async () => {
    await strict?.close();
    await strictDb?.close();
  });

  test('private destinations are allowed by default only in troupe dev', () => {
    const env = { TROUPE_ADMIN_KEY: ADMIN_KEY, TROUPE_SECRET: SECRET };
    expect(loadConfig('dev', { dataDir }, env).config.webhookAllowPrivate).toBe(true);
    expect(loadConfig('serve', { dataDir }, env).config.webhookAllowPrivate).toBe(false);
    expect(loadConfig('worker', { dataDir }, env).config.webhookAllowPrivate).toBe(false);
    expect(
      loadConfig('dev', { dataDir }, { ...env, TROUPE_WEBHOOK_ALLOW_PRIVATE: 'false' }).config
        .webhookAllowPrivate,
    ).toBe(false);
  });

  test('createWebhook and updateWebhook refuse loopback, private and metadata destinations, naming the rule', async () => {
    const bad = async (url: string, rule: RegExp, on = strict.url, k = strictKey, crew = strictCrewId) => {
      const r = await gql(on, CREATE_WEBHOOK, { input: { crewId: crew, url } }, k);
      expect(r.errors?.[0]?.extensions, JSON.stringify(r)).toMatchObject({
        code: 'BAD_INPUT',
        field: 'input.url',
      });
      expect(r.errors?.[0]?.message).toMatch(rule);
    };
    const hint = /\(set TROUPE_WEBHOOK_ALLOW_PRIVATE=true to allow\)$/;
    await bad('http://127.0.0.1:8080/hook', /^input\.url: .*destination 127\.0\.0\.1 is a loopback address/);
    await bad('http://127.0.0.1:8080/hook', hint);
    await bad('http://localhost:8080/hook', /destination localhost is a loopback host/);
    await bad('http://app.localhost./hook', /destination app\.localhost is a loopback host/);
    await bad('https://10.0.0.5/hook', /destination 10\.0\.0\.5 is a private address/);
    await bad('https://192.168.1.20/hook', /private address/);
    await bad('http://100.64.0.1/', /carrier-grade NAT address/);
    await bad('http://[fd12::1]/', /destination fd12::1 is a unique-local address/);
    await bad('http://[::ffff:10.0.0.5]/', /destination ::ffff:a00:5 is a private address/);
    await bad('http://0x7f000001/', /destination 127\.0\.0\.1 is a loopback address/);
    await bad('http://0.0.0.0:8080/', /unspecified address/);
    await bad('http://224.0.0.1/', /multicast address/);
    await bad(
      'http://169.254.169.254/latest/meta-data/',
      /destination 169\.254\.169\.254 is a cloud metadata endpoint/,
    );
    await bad('http://metadata.google.internal/computeMetadata/v1/', /cloud metadata endpoint/);
    // Where private destinations are allowed, cloud metadata endpoints are still refused.
    await bad('http://169.254.169.254/', /cloud metadata endpoint$/, server.url, key, crewId);
    await bad('http://Metadata.Google.Internal./', /cloud metadata endpoint$/, server.url, key, crewId);

    const ok = (
      await gqlOk(
        strict.url,
        CREATE_WEBHOOK,
        { input: { crewId: strictCrewId, url: 'https://hooks.example.com/in' } },
        strictKey,
      )
    ).createWebhook.webhook;
    const update = await gql(
      strict.url,
      'mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) { webhook { url } } }',
      { input: { id: ok.id, url: 'http://[::1]:9000/' } },
      strictKey,
    );
    expect(update.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_INPUT', field: 'input.url' });
    expect(update.errors?.[0]?.message).toMatch(/destination ::1 is a loopback address/);
    const after = await gqlOk(
      strict.url,
      'query($id: ID!) { node(id: $id) { ... on Webhook { url } } }',
      {
        id: ok.id,
      },
      strictKey,
    );
    expect(after.node.url).toBe('https://hooks.example.com/in');
    await deleteWebhook(ok.id, strict.url, strictKey);
  });

  test('a name that resolves to a non-public address is refused at delivery: one attempt, FAILED, nothing sent', async () => {
    const receiver = await startReceiver();
    try {
      const port = new URL(receiver.url).port;
      const create = async (host: string) =>
        (
          await gqlOk(
            strict.url,
            CREATE_WEBHOOK,
            { input: { crewId: strictCrewId, url: `http://${host}:${port}/hook` } },
            strictKey,
          )
        ).createWebhook.webhook.id as string;
      const loopbackHook = await create('receiver.example.test');
      const mixedHook = await create('mixed.example.test');
      const runId = (
        await gqlOk(
          strict.url,
          START,
          { input: { crewId: strictCrewId, inputs: { topic: 'ssrf' } } },
          strictKey,
        )
      ).startRun.run.id;
      const failed = async (webhookId: string) =>
        until(`FAILED delivery of ${webhookId}`, async () => {
          const d = await gqlOk(strict.url, DELIVERIES, { id: webhookId }, strictKey);
          const first = d.node.deliveries.edges[0]?.node;
          return first?.status === 'FAILED' ? first : undefined;
        });
      const loopback = await failed(loopbackHook);
      expect(loopback).toMatchObject({
        attempts: 1,
        lastStatusCode: null,
        lastError:
          'destination receiver.example.test resolves to 127.0.0.1, a loopback address (set TROUPE_WEBHOOK_ALLOW_PRIVATE=true to allow)',
        run: { id: runId },
      });
      expect(loopback.attemptLog).toEqual([{ statusCode: null, error: loopback.lastError }]);
      // One private address among public ones is enough to refuse the name.
      const mixed = await failed(mixedHook);
      expect(mixed.attempts).toBe(1);
      expect(mixed.lastError).toBe(
        'destination mixed.example.test resolves to 10.0.0.5, a private address (set TROUPE_WEBHOOK_ALLOW_PRIVATE=true to allow)',
      );
      // Not retried: the loop keeps polling, and neither name is looked up again.
      const seen = lookups.length;
      await new Promise((r) => setTimeout(r, 400));
      expect(lookups.length).toBe(seen);
      expect(lookups.filter((h) => h === 'receiver.example.test')).toHaveLength(1);
      expect(receiver.received).toHaveLength(0);
    } finally {
      await receiver.close();
    }
  });
});

describe(`inbound hooks (${BACKEND})`, () => {
  let secret: string;
  let hookPath: string;
  let otherCrewId: string;
  let otherKey: string;

  const post = (p: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
  const runCount = async () =>
    (await gqlOk(server.url, '{ runs(first: 100) { edges { node { id } } } }', {}, key)).runs.edges.length;

  beforeAll(async () => {
    const d = await gqlOk(
      server.url,
      'mutation($id: ID!) { createInboundHook(crewId: $id) { hook { id path crew { id } } secret } }',
      { id: crewId },
      key,
    );
    secret = d.createInboundHook.secret;
    hookPath = d.createInboundHook.hook.path;
    expect(secret).toMatch(/^trhk_/);
    expect(hookPath).toBe(`/hooks/crews/${encodeURIComponent(crewId)}/runs`);
    const other = await createTenant(server.url, ADMIN_KEY, 'other');
    otherKey = other.key;
    otherCrewId = (await gqlOk(server.url, CREATE_CREW, { input: { ...CREW, name: 'theirs' } }, otherKey))
      .createCrew.crew.id;
    await gqlOk(
      server.url,
      'mutation($id: ID!) { createInboundHook(crewId: $id) { secret } }',
      { id: otherCrewId },
      otherKey,
    );
  });

  test('a signed request starts a run that executes', async () => {
    const body = JSON.stringify({ inputs: { topic: 'from n8n' } });
    const r = await post(hookPath, body, { 'x-troupe-signature': sign(secret, body) });
    expect(r.status).toBe(202);
    expect(r.body.status).toBe('QUEUED');
    const done = await until('the hooked run', async () => {
      const d = await gqlOk(
        server.url,
        'query($id: ID!) { run(id: $id) { status inputs crew { id } } }',
        {
          id: r.body.runId,
        },
        key,
      );
      return d.run.status === 'SUCCEEDED' ? d.run : undefined;
    });
    expect(done).toMatchObject({ inputs: { topic: 'from n8n' }, crew: { id: crewId } });
    // The same idempotencyKey (a sender's retry, signed afresh) does not start a second run.
    const keyed = JSON.stringify({ inputs: { topic: 'k' }, idempotencyKey: 'zap-1' });
    const first = await post(hookPath, keyed, { 'x-troupe-signature': sign(secret, keyed) });
    expect(first.status).toBe(202);
    const second = await post(hookPath, keyed, {
      'x-troupe-signature': sign(secret, keyed, Math.floor(Date.now() / 1000) - 1),
    });
    expect(second.status).toBe(409);
    expect(second.body.runId).toBe(first.body.runId);
  });

  test('unsigned, badly signed, stale, replayed, wrong-crew, bad-input and oversized requests start nothing', async () => {
    const body = JSON.stringify({ inputs: { topic: 'refused' } });
    const good = sign(secret, body);
    expect((await post(hookPath, body, { 'x-troupe-signature': good })).status).toBe(202);
    const before = await runCount();

    const unsigned = await post(hookPath, body);
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error).toMatchObject({
      code: 'UNAUTHENTICATED',
      message: expect.stringMatching(/Missing X-Troupe-Signature/),
    });

    const wrongSecret = await post(hookPath, body, { 'x-troupe-signature': sign(`${secret}x`, body) });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.body.error.message).toMatch(/does not match/);

    const tampered = await post(hookPath, body.replace('refused', 'tampered'), {
      'x-troupe-signature': good,
    });
    expect(tampered.status).toBe(401);

    const malformed = await post(hookPath, body, { 'x-troupe-signature': 'sha256=abc' });
    expect(malformed.status).toBe(401);
    expect(malformed.body.error.message).toMatch(/Malformed/);

    const stale = await post(hookPath, body, {
      'x-troupe-signature': sign(secret, body, Math.floor(Date.now() / 1000) - 301),
    });
    expect(stale.status).toBe(401);
    expect(stale.body.error.message).toMatch(/outside the 5-minute window/);

    const replay = await post(hookPath, body, { 'x-troupe-signature': good });
    expect(replay.status).toBe(409);
    expect(replay.body.error.message).toMatch(/Replayed request/);
    // The same signature written differently is the same request, not a new one.
    const [t, v1] = good.split(',').map((part) => part.split('=')[1]!);
    for (const variant of [
      `t=${t},v1=${v1!.toUpperCase()}`,
      `t=0${t},v1=${v1}`,
      ` t=${t} , v1=${v1} `,
      `t=${t},v1=${v1},x=1`,
      `t=${t},v1=${'0'.repeat(64)},v1=${v1}`,
    ]) {
      const r = await post(hookPath, body, { 'x-troupe-signature': variant });
      expect({ variant, status: r.status }).toEqual({ variant, status: 409 });
    }

    // Another tenant's crew: our secret does not sign for it.
    const theirs = await post(`/hooks/crews/${encodeURIComponent(otherCrewId)}/runs`, body, {
      'x-troupe-signature': sign(secret, body),
    });
    expect(theirs.status).toBe(401);
    // A crew that does not exist, or that has no hook, or an id of something else.
    const missing = Buffer.from('Crew:cl000000000000000000000000').toString('base64');
    for (const id of [missing, 'garbage', Buffer.from('Run:x').toString('base64')]) {
      const r = await post(`/hooks/crews/${encodeURIComponent(id)}/runs`, body, {
        'x-troupe-signature': good,
      });
      expect(r.status).toBe(404);
      expect(r.body.error.message).toBe('No inbound hook for this crew.');
    }
    const noHook = (await gqlOk(server.url, CREATE_CREW, { input: { ...CREW, name: 'no hook' } }, key))
      .createCrew.crew.id;
    expect(
      (await post(`/hooks/crews/${encodeURIComponent(noHook)}/runs`, body, { 'x-troupe-signature': good }))
        .status,
    ).toBe(404);

    const noTopic = JSON.stringify({ inputs: {} });
    const badInput = await post(hookPath, noTopic, { 'x-troupe-signature': sign(secret, noTopic) });
    expect(badInput.status).toBe(400);
    expect(badInput.body.error).toMatchObject({ code: 'BAD_INPUT', field: 'inputs.topic' });
    const notJson = 'inputs=1';
    expect(
      (await post(hookPath, notJson, { 'x-troupe-signature': sign(secret, notJson) })).body.error.field,
    ).toBe('body');

    const huge = JSON.stringify({ inputs: { topic: 'x'.repeat(30_000) } });
    const oversized = await post(hookPath, huge, { 'x-troupe-signature': sign(secret, huge) });
    expect(oversized.status).toBe(413);

    const get = await fetch(`${server.url}${hookPath}`);
    expect(get.status).toBe(405);

    expect(await runCount()).toBe(before);
    const otherRuns = await gqlOk(server.url, '{ runs(first: 100) { edges { node { id } } } }', {}, otherKey);
    expect(otherRuns.runs.edges).toHaveLength(0);
    // The signature digest is only a lookup key, never a secret at rest.
    expect(createHash('sha256').update(good).digest('hex')).toHaveLength(64);
  });

  test("one idempotencyKey sent to two crews' hooks starts a run of each", async () => {
    // A sender fanning one event (its own id) out to two crews.
    const second = (await gqlOk(server.url, CREATE_CREW, { input: { ...CREW, name: 'second hooked' } }, key))
      .createCrew.crew.id;
    const d = await gqlOk(
      server.url,
      'mutation($id: ID!) { createInboundHook(crewId: $id) { hook { path } secret } }',
      { id: second },
      key,
    );
    const event = JSON.stringify({ inputs: { topic: 'fan-out' }, idempotencyKey: 'evt_42' });
    const a = await post(hookPath, event, { 'x-troupe-signature': sign(secret, event) });
    const b = await post(d.createInboundHook.hook.path, event, {
      'x-troupe-signature': sign(d.createInboundHook.secret, event),
    });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.body.runId).not.toBe(a.body.runId);
    const crewOf = async (id: string) =>
      (await gqlOk(server.url, 'query($id: ID!) { run(id: $id) { crew { id } } }', { id }, key)).run.crew.id;
    expect([await crewOf(a.body.runId), await crewOf(b.body.runId)]).toEqual([crewId, second]);
    // Each hook still refuses its own repeat.
    const again = await post(d.createInboundHook.hook.path, event, {
      'x-troupe-signature': sign(d.createInboundHook.secret, event, Math.floor(Date.now() / 1000) - 2),
    });
    expect(again.status).toBe(409);
    expect(again.body.runId).toBe(b.body.runId);
  });

  test('the same request twice at once starts one run, and both answers name it', async () => {
    const event = JSON.stringify({ inputs: { topic: 'twice at once' }, idempotencyKey: 'evt_twice' });
    const signature = sign(secret, event);
    const answers = await Promise.all(
      [1, 2, 3].map(() => post(hookPath, event, { 'x-troupe-signature': signature })),
    );
    const started = answers.filter((a) => a.status === 202);
    expect(started).toHaveLength(1);
    const runId = started[0]!.body.runId;
    for (const a of answers.filter((x) => x.status !== 202)) {
      expect(a.status).toBe(409);
      expect(a.body.runId).toBe(runId);
    }
    // A caller's own key cannot take the place of a hook's: "hook:" keys are kept for hooks.
    const taken = await gql(
      server.url,
      'mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }',
      { input: { crewId, inputs: { topic: 'x' }, idempotencyKey: 'hook:abc:evt_next' } },
      key,
    );
    expect(taken.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_INPUT', field: 'input.idempotencyKey' });
  });

  test('deleting the hook retires its secret', async () => {
    const d = await gqlOk(
      server.url,
      'query($id: ID!) { crew(id: $id) { inboundHook { id } } }',
      { id: crewId },
      key,
    );
    await gqlOk(
      server.url,
      'mutation($id: ID!) { deleteInboundHook(id: $id) { deletedId } }',
      {
        id: d.crew.inboundHook.id,
      },
      key,
    );
    const body = JSON.stringify({ inputs: { topic: 'late' } });
    const r = await post(hookPath, body, { 'x-troupe-signature': sign(secret, body) });
    expect(r.status).toBe(404);
  });
});
