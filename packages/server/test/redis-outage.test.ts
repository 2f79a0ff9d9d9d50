// Redis away while runs execute in this process (`troupe serve` without workers, its live events on
// Redis): live publishing is best effort, so the durable log must not slow down, and subscribers
// must still get every event from the log.
import { createOpenAICompatibleTestServer, type OpenAICompatibleTestServer } from '@troupe/agents/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { EventBus } from '../src/events/event-bus.js';
import { createRedisEventBus } from '../src/events/redis-event-bus.js';
import { ADMIN_KEY, BACKEND, startTestServer, type TestServer } from './support/backend.js';
import { CREATE_CREW, createTenant, gqlOk, OPENAI_CREW, startRunId } from './support/graphql-client.js';
import { type PrivateRedis, privateRedis } from './support/process-cluster.js';
import { sseSubscribe } from './support/sse-client.js';

describe.runIf(BACKEND === 'postgres')('Redis away during a run', () => {
  let llm: OpenAICompatibleTestServer;
  let redis: PrivateRedis;
  let bus: EventBus;
  let server: TestServer;

  beforeAll(async () => {
    llm = await createOpenAICompatibleTestServer();
    redis = await privateRedis();
    bus = await createRedisEventBus({ url: redis.url, prefix: 'outage:' });
    server = await startTestServer({ bus, providers: { openai: { baseUrl: llm.url, apiKey: 'test' } } });
  });

  afterAll(async () => {
    // Back, so that the bus can say goodbye.
    await redis?.start().catch(() => {});
    await server?.closeAll();
    await bus?.close();
    await redis?.kill();
    await llm?.close();
  });

  test('a streaming run is stored at its own pace, and a new subscriber reads it all from the log', async () => {
    const { key } = await createTenant(server.url, ADMIN_KEY, 'outage');
    const crewId = (await gqlOk(server.url, CREATE_CREW, { input: OPENAI_CREW }, key)).createCrew.crew.id;
    const words = Array.from({ length: 40 }, (_, i) => `w${i} `);
    llm.setFallback(() => ({ text: words, chunkDelayMs: 25 }));
    await redis.kill();
    const t0 = Date.now();
    const runId = await startRunId(server.url, key, crewId, { topic: 'x' });
    await server.executor.idle();
    // ~1 s of streaming, about twenty batches: each one used to wait for its publish to give up
    // (up to ~20 s) before the next was stored.
    expect(Date.now() - t0).toBeLessThan(8000);
    const run = await gqlOk(
      server.url,
      'query($id: ID!) { run(id: $id) { status output } }',
      { id: runId },
      key,
    );
    expect(run.run).toEqual({ status: 'SUCCEEDED', output: words.join('') });
    // Redis still away: a subscriber gets the whole log, and the stream ends with the run.
    const t1 = Date.now();
    const seen: { seq: number; type: string }[] = [];
    for await (const r of sseSubscribe(
      server.url,
      'subscription($id: ID!) { runEvents(runId: $id) { seq type } }',
      { id: runId },
      key,
    ))
      seen.push(r.data.runEvents);
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_e, i) => i + 1));
    expect(seen.at(-1)?.type).toBe('RUN_SUCCEEDED');
    expect(Date.now() - t1).toBeLessThan(4000);
  });
});
