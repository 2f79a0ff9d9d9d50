import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../src/db/database.js';
import { SqlText } from '../src/db/sql-text.js';
import { createInProcessEventBus, type EventBus } from '../src/events/event-bus.js';
import { createRedisEventBus } from '../src/events/redis-event-bus.js';
import { appendRunEvents, type NewRunEvent, readRunLogPage } from '../src/events/run-event-log.js';
import {
  encodeLiveEvent,
  LIVE_QUEUE_BYTES,
  LIVE_QUEUE_LIMIT,
  openRunEventStream,
  type RunEventSource,
  streamRunEvents,
} from '../src/events/run-event-stream.js';
import { BACKEND, createTestDatabase, type TestDatabase } from './support/backend.js';

const REDIS_URL = process.env.TROUPE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let tdb: TestDatabase;
let db: Database;
const tenantId = randomUUID();

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.database;
  await db.withTenant(tenantId, (tx) => tx.tenant.create({ data: { id: tenantId, name: 'stream' } }));
});
afterAll(() => tdb?.close());

async function newRun(): Promise<string> {
  return db.withTenant(tenantId, async (tx) => {
    const crew = await tx.crew.create({ data: { tenantId, name: 'c' } });
    const version = await tx.crewVersion.create({
      data: { tenantId, crewId: crew.id, version: 1, definition: {} },
    });
    const run = await tx.run.create({
      data: { tenantId, crewId: crew.id, crewVersionId: version.id, inputs: {} },
    });
    return run.id;
  });
}

const token = (i: number): NewRunEvent => ({ type: 'TOKEN', taskRunId: null, delta: `t${i} `, data: null });
const done: NewRunEvent = { type: 'RUN_SUCCEEDED', taskRunId: null, delta: null, data: { output: 'ok' } };

/** Stores a batch (one transaction), then publishes it: the writer's side of the contract. */
/** As executors write: a terminal event and the run's final status in one transaction, published after it. */
async function write(bus: EventBus, runId: string, events: NewRunEvent[], publish = true) {
  const stored = await db.withTenant(tenantId, async (tx) => {
    const appended = await appendRunEvents(tx, tenantId, runId, events);
    if (events.some((e) => e.type === 'RUN_SUCCEEDED'))
      await tx.run.update({ where: { id: runId }, data: { status: 'SUCCEEDED' } });
    return appended;
  });
  if (publish) for (const e of stored) await bus.publish(`run:${runId}`, encodeLiveEvent(e));
  return stored;
}

function source(bus: EventBus, runId: string): RunEventSource {
  return {
    page: (after: number) => readRunLogPage(db, tenantId, runId, after, 50),
    bus,
    channel: `run:${runId}`,
  };
}

async function collect(it: AsyncIterable<{ seq: number; delta: string | null; type: string }>) {
  const seqs: number[] = [];
  let text = '';
  for await (const e of it) {
    seqs.push(e.seq);
    text += e.delta ?? '';
  }
  return { seqs, text };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const buses: [string, () => Promise<EventBus>][] = [
  ['in-process', async () => createInProcessEventBus()],
  [
    'redis',
    () => createRedisEventBus({ url: REDIS_URL, prefix: `troupe-test:${randomBytes(4).toString('hex')}:` }),
  ],
];

describe.each(buses)(`run event log and stream (%s bus, ${BACKEND})`, (_name, makeBus) => {
  let bus: EventBus;
  beforeAll(async () => {
    bus = await makeBus();
  });
  afterAll(() => bus?.close());

  test('a log read as its end commits (status read before, events after) still ends when the end comes live', async () => {
    const runId = await newRun();
    const stored = await write(bus, runId, [...range(1, 3).map(token), done], false);
    // The page says the run is still going though it holds the terminal event (the race), once.
    let reads = 0;
    const racing: RunEventSource = {
      ...source(bus, runId),
      page: async (after) => {
        const page = await readRunLogPage(db, tenantId, runId, after, 50);
        return reads++ === 0 ? { ...page, closed: false } : page;
      },
    };
    const stream = collect(streamRunEvents(racing, { afterSeq: 0, pollMs: 60_000 }));
    await new Promise((r) => setTimeout(r, 100));
    // The writer publishes after its commit: the terminal event, live, a duplicate of the last seen.
    for (const e of stored) await bus.publish(`run:${runId}`, encodeLiveEvent(e));
    const ended = await Promise.race([
      stream.then((s) => s.seqs),
      new Promise<'still open'>((r) => setTimeout(() => r('still open'), 3000)),
    ]);
    expect(ended).toEqual(range(1, 4));
  });

  test('sequence numbers start at 1 and have no holes, even with concurrent writers', async () => {
    const runId = await newRun();
    await Promise.all(
      range(1, 8).map((w) =>
        write(
          bus,
          runId,
          range(1, 5).map((i) => token(w * 10 + i)),
          false,
        ),
      ),
    );
    const all = (await readRunLogPage(db, tenantId, runId, 0, 1000)).events;
    expect(all.map((e) => e.seq)).toEqual(range(1, 40));
  });

  test('a subscriber that joins mid-run gets every event once, in order, live after the replay', async () => {
    const runId = await newRun();
    await write(bus, runId, range(1, 30).map(token));
    const stream = collect(streamRunEvents(source(bus, runId), { afterSeq: 0 }));
    for (let b = 0; b < 10; b++) await write(bus, runId, range(31 + b * 10, 40 + b * 10).map(token));
    await write(bus, runId, [done]);
    const { seqs, text } = await stream;
    expect(seqs).toEqual(range(1, 131));
    expect(text).toBe(
      range(1, 130)
        .map((i) => `t${i} `)
        .join(''),
    );
  });

  test('resuming after a sequence number continues exactly there', async () => {
    const runId = await newRun();
    await write(bus, runId, [...range(1, 20).map(token), done]);
    const { seqs } = await collect(streamRunEvents(source(bus, runId), { afterSeq: 13 }));
    expect(seqs).toEqual(range(14, 21));
    const atEnd = await collect(streamRunEvents(source(bus, runId), { afterSeq: 21 }));
    expect(atEnd.seqs).toEqual([]);
  });

  test('live messages lost in transit are recovered from the log (gap detection)', async () => {
    const runId = await newRun();
    const stream = collect(streamRunEvents(source(bus, runId), { afterSeq: 0, pollMs: 60_000 }));
    await new Promise((r) => setTimeout(r, 50));
    await write(bus, runId, range(1, 5).map(token));
    await write(bus, runId, range(6, 10).map(token), false); // never published
    await write(bus, runId, [...range(11, 12).map(token), done]);
    expect((await stream).seqs).toEqual(range(1, 13));
  });

  test('events whose live message never came arrive anyway after the quiet period (pollMs), every time', async () => {
    const runId = await newRun();
    const it = streamRunEvents(source(bus, runId), { afterSeq: 0, pollMs: 100 });
    const got: number[] = [];
    const reading = (async () => {
      for await (const e of it) got.push(e.seq);
    })();
    await new Promise((r) => setTimeout(r, 30));
    await write(bus, runId, range(1, 2).map(token)); // published: arrives at once
    const until = async (n: number) => {
      for (let i = 0; i < 100 && got.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    };
    await until(2);
    // Stored, never published, twice, each after a quiet spell: each time the log is read again.
    for (const [from, to] of [
      [3, 4],
      [5, 6],
    ] as const) {
      await new Promise((r) => setTimeout(r, 250));
      const t0 = Date.now();
      await write(bus, runId, range(from, to).map(token), false);
      await until(to);
      expect(got).toEqual(range(1, to));
      expect(Date.now() - t0).toBeLessThan(1000);
    }
    await write(bus, runId, [done]);
    await reading;
    expect(got).toEqual(range(1, 7));
  });

  test('a reader far behind the live messages catches up from the log: every event once, in order', async () => {
    const runId = await newRun();
    const it = streamRunEvents(source(bus, runId), { afterSeq: 0, pollMs: 60_000 });
    await write(bus, runId, [token(1)]);
    expect((await it.next()).value?.seq).toBe(1);
    // It does not read while more messages than it may queue arrive.
    const many = LIVE_QUEUE_LIMIT + 200;
    await write(bus, runId, range(2, many).map(token));
    await write(bus, runId, [done]);
    const rest = await collect({ [Symbol.asyncIterator]: () => it });
    expect(rest.seqs).toEqual(range(2, many + 1));
  });

  test('a reader owed more than LIVE_QUEUE_BYTES of live messages catches up from the log; one large message alone does not make it', async () => {
    const runId = await newRun();
    let pages = 0;
    const counted: RunEventSource = {
      ...source(bus, runId),
      page: (after) => {
        pages++;
        return readRunLogPage(db, tenantId, runId, after, 50);
      },
    };
    const it = streamRunEvents(counted, { afterSeq: 0, pollMs: 60_000 });
    const big = (i: number, size: number): NewRunEvent => ({
      type: 'TOKEN',
      taskRunId: null,
      delta: `${i}:`.padEnd(size, 'x'),
      data: null,
    });
    await write(bus, runId, [token(1)]);
    expect((await it.next()).value?.seq).toBe(1);
    const afterFirst = pages;
    // Taken as it comes, a message larger than the limit is delivered live: no log read.
    await write(bus, runId, [big(2, LIVE_QUEUE_BYTES + 1000)]);
    expect((await it.next()).value?.seq).toBe(2);
    expect(pages).toBe(afterFirst);
    // Not read while 6 messages of a fifth of the limit arrive: the reader re-reads the log.
    await write(
      bus,
      runId,
      range(3, 8).map((i) => big(i, LIVE_QUEUE_BYTES / 5)),
    );
    await write(bus, runId, [done]);
    const rest = await collect({ [Symbol.asyncIterator]: () => it });
    expect(rest.seqs).toEqual(range(3, 9));
    expect(rest.text).toBe(
      range(3, 8)
        .map((i) => `${i}:`.padEnd(LIVE_QUEUE_BYTES / 5, 'x'))
        .join(''),
    );
    expect(pages).toBeGreaterThan(afterFirst);
  });

  test('a consumer that stops early unsubscribes', async () => {
    const runId = await newRun();
    await write(bus, runId, range(1, 10).map(token));
    const before = bus.subscriberCount();
    const it = streamRunEvents(source(bus, runId));
    for await (const e of it) if (e.seq === 3) break;
    expect(bus.subscriberCount()).toBe(before);
  });

  test('a consumer that leaves while the run is idle unsubscribes at once, not at the next event', async () => {
    const runId = await newRun();
    await write(bus, runId, range(1, 2).map(token));
    const before = bus.subscriberCount();
    const it = streamRunEvents(source(bus, runId), { pollMs: 60_000 });
    expect((await it.next()).value?.seq).toBe(1);
    expect((await it.next()).value?.seq).toBe(2);
    const pending = it.next(); // waits: the run is quiet
    await new Promise((r) => setTimeout(r, 20));
    expect(bus.subscriberCount()).toBe(before + 1);
    await expect(it.return(undefined)).resolves.toEqual({ done: true, value: undefined });
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
    expect(bus.subscriberCount()).toBe(before);
  });

  test('a consumer that leaves while the log is still being read ends at once, not after the quiet period', async () => {
    const runId = await newRun();
    await write(bus, runId, range(1, 2).map(token));
    const base = source(bus, runId);
    let readStarted!: () => void;
    const reading = new Promise<void>((r) => {
      readStarted = r;
    });
    // A slow database: the read that finds nothing new is still in flight when the consumer leaves.
    const slowly =
      <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        readStarted();
        await new Promise((r) => setTimeout(r, 100));
        return fn(...a);
      };
    const slow: RunEventSource = {
      ...base,
      page: slowly(base.page),
    };
    const it = streamRunEvents(slow, { afterSeq: 2, pollMs: 60_000 });
    const pending = it.next();
    await reading;
    const t0 = Date.now();
    await expect(it.return(undefined)).resolves.toEqual({ done: true, value: undefined });
    await expect(pending).resolves.toEqual({ done: true, value: undefined });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});

describe.each(buses)(`openRunEventStream (%s bus, ${BACKEND})`, (_name, makeBus) => {
  let bus: EventBus;
  beforeAll(async () => {
    bus = await makeBus();
  });
  afterAll(() => bus?.close());

  const notVisible = () => new Error('not visible');
  /** Pages read with a scope condition; `onPage` sees each read as it starts. */
  const scoped = (runId: string, scope: string, onPage?: () => void): RunEventSource => ({
    ...source(bus, runId),
    page: (after) => {
      onPage?.();
      return readRunLogPage(db, tenantId, runId, after, 50, new SqlText(scope));
    },
  });

  test('subscribes, then reads the first page before it returns; then streams without gaps or duplicates', async () => {
    const runId = await newRun();
    await write(bus, runId, range(1, 60).map(token));
    const before = bus.subscriberCount();
    const subscribedAtFirstRead: boolean[] = [];
    const it = await openRunEventStream(
      scoped(runId, 'TRUE', () => subscribedAtFirstRead.push(bus.subscriberCount() === before + 1)),
      { afterSeq: 0, notVisible },
    );
    expect(subscribedAtFirstRead).toEqual([true]);
    const stream = collect(it);
    for (let b = 0; b < 5; b++) await write(bus, runId, range(61 + b * 10, 70 + b * 10).map(token));
    await write(bus, runId, [done]);
    const { seqs } = await stream;
    expect(seqs).toEqual(range(1, 111));
    expect(bus.subscriberCount()).toBe(before);
  });

  test('a log the reader may not see throws notVisible() before anything streams, and unsubscribes', async () => {
    const runId = await newRun();
    await write(bus, runId, range(1, 3).map(token));
    const before = bus.subscriberCount();
    await expect(openRunEventStream(scoped(runId, 'FALSE'), { notVisible })).rejects.toThrow('not visible');
    await expect(openRunEventStream(scoped(randomUUID(), 'TRUE'), { notVisible })).rejects.toThrow(
      'not visible',
    );
    const page = await readRunLogPage(db, tenantId, runId, 0, 50, new SqlText('FALSE'));
    expect(page).toEqual({ events: [], lastSeq: 0, closed: true, visible: false });
    // Another tenant's run (row-level security) reads the same.
    const other = await readRunLogPage(db, randomUUID(), runId, 0);
    expect(other.visible).toBe(false);
    expect(bus.subscriberCount()).toBe(before);
  });

  test('a consumer that leaves before reading anything unsubscribes', async () => {
    const runId = await newRun();
    await write(bus, runId, range(1, 3).map(token));
    const before = bus.subscriberCount();
    const it = await openRunEventStream(scoped(runId, 'TRUE'), { notVisible });
    expect(bus.subscriberCount()).toBe(before + 1);
    await expect(it.return(undefined)).resolves.toEqual({ done: true, value: undefined });
    expect(bus.subscriberCount()).toBe(before);
  });
});
