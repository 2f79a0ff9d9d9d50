// Proofs with real OS processes: two `troupe serve` and two `troupe worker` processes on one
// Postgres database and Redis prefix. Postgres only (workers are processes of their own).
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ADMIN_KEY, BACKEND } from '../support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, OPENAI_CREW } from '../support/graphql-client.js';
import { makePdf } from '../support/pdf.js';
import {
  type Cluster,
  isGapless,
  RUN_EVENTS,
  type SeenEvent,
  startCluster,
  tokenText,
  wsSubscribeRun,
} from '../support/process-cluster.js';
import { sseSubscribe } from '../support/sse-client.js';

const CREW = OPENAI_CREW;
const RUN = `query($id: ID!) { run(id: $id) { status output taskRuns { task { name } status output attempts } } }`;
const START = 'mutation($input: StartRunInput!) { startRun(input: $input) { run { id status } } }';

const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i} `);

async function waitFor(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const secondTaskStreaming = (events: SeenEvent[], tokens = 1) => {
  const i = events.findIndex(
    (e, k) => e.type === 'TASK_STARTED' && events.slice(0, k).some((x) => x.type === 'TASK_STARTED'),
  );
  return i >= 0 && events.slice(i).filter((e) => e.type === 'TOKEN').length >= tokens;
};

describe.runIf(BACKEND === 'postgres')('real processes: 2 servers, 2 workers', () => {
  let llm: OpenAICompatibleTestServer;
  let cluster: Cluster;
  let key: string;
  let crewId: string;
  let A: string;
  let B: string;

  beforeAll(async () => {
    llm = await createOpenAICompatibleTestServer();
    cluster = await startCluster({
      servers: 2,
      workers: 2,
      workerConcurrency: 1,
      lockMs: 1000,
      // Each worker calls the LLM with its own key: the test server's request log says who ran what.
      workerEnv: (i) => ({ OPENAI_BASE_URL: llm.url, OPENAI_API_KEY: `worker-${i}` }),
    });
    A = cluster.servers[0]!.url;
    B = cluster.servers[1]!.url;
    ({ key } = await createTenant(A, ADMIN_KEY, 'proofs'));
    crewId = (await gqlOk(B, CREATE_CREW, { input: CREW }, key)).createCrew.crew.id;
  });

  afterAll(async () => {
    await cluster?.close();
    await llm?.close();
  });

  const startRun = async (server: string, topic: string) =>
    (await gqlOk(server, START, { input: { crewId, inputs: { topic } } }, key)).startRun.run as {
      id: string;
      status: string;
    };
  const readRun = async (id: string) => (await gqlOk(A, RUN, { id }, key)).run;
  const workerOf = (needle: string) =>
    llm.chatRequests
      .filter((r) => JSON.stringify(r.body).includes(needle))
      .map((r) => String(r.headers.authorization).replace('Bearer ', ''));

  /** Every token streamed equals the tasks' stored outputs; the last task's tokens equal the run's output. */
  function expectTextMatches(events: SeenEvent[], run: { output: string; taskRuns: { output: string }[] }) {
    expect(tokenText(events)).toBe(run.taskRuns.map((t) => t.output).join(''));
    const lastTask = events.findLastIndex((e) => e.type === 'TASK_STARTED');
    expect(tokenText(events.slice(lastTask))).toBe(run.output);
  }

  test('horizontal: runs started on server B stream to subscribers on server A, whichever worker runs them', async () => {
    llm.setFallback((req) => {
      const topic = /about (h\d+)|Research (h\d+)/.exec(JSON.stringify(req.body));
      return { text: words(15, `${topic?.[1] ?? topic?.[2] ?? 'x'}-`), chunkDelayMs: 10 };
    });
    const runs = await Promise.all(Array.from({ length: 6 }, (_, i) => startRun(B, `h${i}`)));
    const subs = runs.map((r) => wsSubscribeRun(A, key, r.id));
    try {
      const outcomes = await Promise.all(subs.map((s) => s.done));
      expect(outcomes).toEqual(runs.map(() => 'complete'));
      for (const [i, r] of runs.entries()) {
        const events = subs[i]!.events;
        expect(isGapless(events)).toBe(true);
        expect(events.length).toBeGreaterThan(8);
        expect(events[0]!.type).toBe('RUN_STARTED');
        expect(events.at(-1)!.type).toBe('RUN_SUCCEEDED');
        const run = await readRun(r.id);
        expect(run.status).toBe('SUCCEEDED');
        expectTextMatches(events, run);
      }
      const used = new Set(runs.flatMap((_r, i) => workerOf(`Research h${i}`)));
      expect([...used].sort()).toEqual(['worker-0', 'worker-1']);
    } finally {
      await Promise.all(subs.map((s) => s.dispose()));
    }
  });

  test('crash: a worker SIGKILLed in the second task; the other worker finishes; the first task is not paid twice', async () => {
    llm.setFallback((req) => {
      if (JSON.stringify(req.body).includes('Research crash')) return { text: 'Crash notes here.' };
      return { text: words(60, 'c'), chunkDelayMs: 40 };
    });
    const run = await startRun(B, 'crash');
    const sub = wsSubscribeRun(A, key, run.id);
    try {
      await waitFor(() => secondTaskStreaming(sub.events, 3), 'the second task to stream');
      const holder = workerOf('Write about crash').at(-1)!;
      const index = Number(holder.replace('worker-', ''));
      const killedAt = Date.now();
      expect(await cluster.workers[index]!.kill('SIGKILL')).toBe('SIGKILL');
      expect(await sub.done).toBe('complete');
      const recoveredIn = Date.now() - killedAt;
      const events = sub.events;
      // The subscriber stayed connected through the crash and saw every sequence number once.
      expect(isGapless(events)).toBe(true);
      expect(events.filter((e) => e.type === 'RUN_STARTED')).toHaveLength(2);
      expect(events.at(-1)!.type).toBe('RUN_SUCCEEDED');
      expect(workerOf('Research crash')).toEqual([holder]);
      const writers = workerOf('Write about crash');
      expect(writers).toHaveLength(2);
      expect(writers[1]).not.toBe(holder);
      const stored = await readRun(run.id);
      expect(stored.status).toBe('SUCCEEDED');
      expect(stored.taskRuns.map((t: { attempts: number }) => t.attempts)).toEqual([1, 2]);
      const lastTask = events.findLastIndex((e) => e.type === 'TASK_STARTED');
      expect(tokenText(events.slice(lastTask))).toBe(stored.output);
      expect(recoveredIn).toBeLessThan(15_000);
      console.log(`crash proof: the run finished ${recoveredIn} ms after the SIGKILL`);
    } finally {
      await sub.dispose();
      const dead = cluster.workers.findIndex((w) => w.child.signalCode !== null);
      if (dead >= 0) await cluster.startWorker(dead);
    }
  });

  test('reconnect over graphql-ws: the socket is dropped mid-stream, the client resumes from its last seq', async () => {
    llm.setFallback((req) => {
      if (JSON.stringify(req.body).includes('Research ws-drop')) return { text: words(5, 'n') };
      return { text: words(80, 'w'), chunkDelayMs: 15 };
    });
    const run = await startRun(A, 'ws-drop');
    const first = wsSubscribeRun(A, key, run.id);
    await waitFor(() => secondTaskStreaming(first.events, 10), 'tokens of the second task');
    first.terminate();
    expect(await first.done).toBe('error');
    const seen = [...first.events];
    // Resume on the other server, after the last sequence number this client saw.
    const second = wsSubscribeRun(B, key, run.id, seen.at(-1)!.seq);
    try {
      expect(await second.done).toBe('complete');
      const all = [...seen, ...second.events];
      expect(second.events.length).toBeGreaterThan(0);
      expect(isGapless(all)).toBe(true);
      expect(all.at(-1)!.type).toBe('RUN_SUCCEEDED');
      expectTextMatches(all, await readRun(run.id));
    } finally {
      await Promise.all([first.dispose(), second.dispose()]);
    }
  });

  test('reconnect over SSE: the connection is torn down mid-stream, the client resumes from its last seq', async () => {
    llm.setFallback((req) => {
      if (JSON.stringify(req.body).includes('Research sse-drop')) return { text: words(5, 'n') };
      return { text: words(80, 's'), chunkDelayMs: 15 };
    });
    const run = await startRun(B, 'sse-drop');
    const seen: SeenEvent[] = [];
    const abort = new AbortController();
    let dropped = false;
    try {
      for await (const r of sseSubscribe(A, RUN_EVENTS, { runId: run.id, afterSeq: 0 }, key, abort.signal)) {
        seen.push(r.data.runEvents);
        if (secondTaskStreaming(seen, 10)) {
          dropped = true;
          abort.abort(); // destroys the TCP connection: no complete, no clean end of stream
        }
      }
    } catch (err) {
      expect((err as Error).name).toBe('AbortError');
    }
    expect(dropped).toBe(true);
    const rest: SeenEvent[] = [];
    for await (const r of sseSubscribe(B, RUN_EVENTS, { runId: run.id, afterSeq: seen.at(-1)!.seq }, key))
      rest.push(r.data.runEvents);
    const all = [...seen, ...rest];
    expect(rest.length).toBeGreaterThan(0);
    expect(isGapless(all)).toBe(true);
    expect(all.at(-1)!.type).toBe('RUN_SUCCEEDED');
    expectTextMatches(all, await readRun(run.id));
  });
  test('documents: a PDF uploaded to server A is processed by a worker process and found by a search on server B', async () => {
    const pdf = makePdf([
      'Quarterly board meetings are held in the Oslo office.',
      'Minutes are filed within a week.',
    ]);
    const res = await fetch(`${A}/documents`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/pdf',
        'x-troupe-document-name': encodeURIComponent('board minutes.pdf'),
      },
      body: Buffer.from(pdf),
    });
    expect(res.status).toBe(201);
    const id = ((await res.json()) as { document: { id: string } }).document.id;
    // The servers only store it (runs and documents are the workers' work).
    let doc: { status: string; progress: number; error: string | null } = {
      status: 'PENDING',
      progress: 0,
      error: null,
    };
    const t0 = Date.now();
    while (doc.status !== 'READY' && doc.status !== 'FAILED' && Date.now() - t0 < 20_000) {
      await new Promise((r) => setTimeout(r, 100));
      doc = (await gqlOk(B, 'query($id: ID!) { document(id: $id) { status progress error } }', { id }, key))
        .document;
    }
    expect(doc).toEqual({ status: 'READY', progress: 1, error: null });
    const hits = (
      await gqlOk(
        B,
        'query($q: String!) { searchDocuments(input: { query: $q, limit: 1 }) { content document { name } } }',
        { q: 'where are board meetings held' },
        key,
      )
    ).searchDocuments;
    expect(hits[0]).toMatchObject({ document: { name: 'board minutes.pdf' } });
    expect(hits[0].content).toContain('Oslo office');
  });
});
