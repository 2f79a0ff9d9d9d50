// Embedded mode: one `troupe dev` process (PGlite, runs execute in the server) against a
// zero-delay OpenAI-compatible test server in this process. Clients start runs over HTTP and
// follow them over graphql-ws, as an app would (one WebSocket per client, kept across its runs).
//  - trivial one-task runs, 20 clients: runs/s, and the server's RSS every 500 runs (flat?)
//  - 50 concurrent streaming runs: tokens/s delivered to subscribers
//  - first-token overhead: subscriber receives the first token minus the LLM server sending it
//    (the subscriber is attached by then: the server's path from LLM chunk to subscriber)
import { readFileSync, writeFileSync } from 'node:fs';
import { createOpenAICompatibleTestServer } from '@troupe/agents/testing';
import {
  ADMIN_KEY,
  type BenchEvent,
  BIN,
  GRAPHQL_READY,
  now,
  percentile,
  report,
  scaled,
  sleep,
  spawnReady,
  startRun,
  subscribeRun,
  tempDir,
  tenantAndCrew,
  wsClient,
} from './bench-kit.js';

const TRIVIAL_RUNS = scaled(2000);
const CLIENTS = 20;
const STREAMING_RUNS = 50;
const TOKENS_PER_RUN = 400;
const FIRST_TOKEN_RUNS = scaled(30);
const FIRST_CHUNK_MS = 50;

async function main() {
  const llm = await createOpenAICompatibleTestServer();
  let mode: 'trivial' | 'stream' | 'first' = 'trivial';
  let firstTokenSentAt = 0;
  const streamText = Array.from({ length: TOKENS_PER_RUN }, (_, i) => `t${i} `);
  llm.setFallback(() => {
    if (mode === 'stream') return { text: streamText };
    if (mode === 'first') {
      // The first text chunk goes out FIRST_CHUNK_MS after this returns (the test server pauses
      // chunkDelayMs before every text chunk, the first one included, so that pause must not be
      // counted as overhead), once the subscriber is attached. A timer fires no earlier than asked
      // (to its millisecond granularity), so taking the send time as now + FIRST_CHUNK_MS can only
      // overstate the overhead.
      firstTokenSentAt = now() + FIRST_CHUNK_MS;
      return { text: ['first ', 'second ', 'third'], chunkDelayMs: FIRST_CHUNK_MS };
    }
    return { text: 'ok' };
  });
  const data = tempDir('embedded');
  const server = await spawnReady(
    [BIN, 'dev', '--port', '0', '--data-dir', data.dir],
    { TROUPE_ADMIN_KEY: ADMIN_KEY, OPENAI_BASE_URL: llm.url, OPENAI_API_KEY: 'bench' },
    GRAPHQL_READY,
  );
  try {
    const { key, crewId } = await tenantAndCrew(server.url, { provider: 'OPENAI' });
    // One WebSocket per simulated client, reused across its runs, as an app on @troupe/sdk keeps it
    // (streamLingerMs, default 1000 ms): the bench used to reconnect and re-authenticate per run
    // (BENCH_LINGER=0 measures that way again).
    const clients = Array.from({ length: CLIENTS }, () =>
      wsClient(server.url, key, Number(process.env.BENCH_LINGER ?? 1000)),
    );
    const follow = async (
      client: ReturnType<typeof wsClient>,
      q: string,
      onEvent?: (e: BenchEvent) => void,
    ) => {
      const run = await startRun(server.url, key, crewId, q);
      let last = '';
      await subscribeRun(client, run, (e) => {
        last = e.type;
        onEvent?.(e);
      });
      if (last !== 'RUN_SUCCEEDED') throw new Error(`run ${run} ended with ${last}`);
    };

    // Trivial runs.
    for (let i = 0; i < 40; i++) await follow(clients[0]!, `warm${i}`);
    const rss: { runs: number; mb: number }[] = [{ runs: 0, mb: server.rss() / 2 ** 20 }];
    let started = 0;
    let finished = 0;
    const t0 = now();
    await Promise.all(
      clients.map(async (c) => {
        while (started < TRIVIAL_RUNS) {
          await follow(c, `r${started++}`);
          if (++finished % 500 === 0) rss.push({ runs: finished, mb: server.rss() / 2 ** 20 });
        }
      }),
    );
    const trivialMs = now() - t0;
    const runsPerSec = (TRIVIAL_RUNS / trivialMs) * 1000;
    await sleep(1000);
    const rssAfter = server.rss() / 2 ** 20;
    // BENCH_SMAPS=<file>: the server's /proc/<pid>/smaps after the trivial runs, to see where its RSS is.
    if (process.env.BENCH_SMAPS)
      writeFileSync(process.env.BENCH_SMAPS, readFileSync(`/proc/${server.child.pid}/smaps`));

    // 50 streaming runs at once.
    mode = 'stream';
    let tokens = 0;
    const t1 = now();
    await Promise.all(
      Array.from({ length: STREAMING_RUNS }, (_, i) =>
        follow(clients[i % CLIENTS]!, `s${i}`, (e) => {
          // A TOKEN event may carry several tokens (the server batches them): count the tokens.
          if (e.type === 'TOKEN') tokens += e.delta?.match(/t\d+ /g)?.length ?? 0;
        }),
      ),
    );
    const tokensPerSec = (tokens / (now() - t1)) * 1000;

    // First token: the subscriber's first TOKEN minus the LLM server's first chunk.
    mode = 'first';
    const overheads: number[] = [];
    for (let i = 0; i < FIRST_TOKEN_RUNS; i++) {
      let seen = false;
      await follow(clients[0]!, `f${i}`, (e) => {
        if (e.type === 'TOKEN' && !seen) {
          seen = true;
          overheads.push(now() - firstTokenSentAt);
        }
      });
    }
    await Promise.all(clients.map((c) => c.dispose()));

    const firstP50 = percentile(overheads, 50);
    const growth = rssAfter - rss[0]!.mb;
    report(
      'embedded',
      [
        {
          metric: `trivial runs, ${CLIENTS} clients (startRun + follow over WS)`,
          value: runsPerSec,
          unit: 'runs/s',
          goal: '>= 300 runs/s',
          met: runsPerSec >= 300,
        },
        {
          metric: `tokens delivered, ${STREAMING_RUNS} streaming runs x ${TOKENS_PER_RUN}`,
          value: tokensPerSec,
          unit: 'tokens/s',
          goal: '>= 10,000 tokens/s',
          met: tokensPerSec >= 10_000,
        },
        {
          metric: 'first-token overhead p50 (vs LLM server first chunk)',
          value: firstP50,
          unit: 'ms',
          goal: '< 5 ms',
          met: firstP50 < 5,
        },
        { metric: 'first-token overhead p99', value: percentile(overheads, 99), unit: 'ms' },
        { metric: 'server RSS before trivial runs', value: rss[0]!.mb, unit: 'MB' },
        {
          metric: `server RSS after ${TRIVIAL_RUNS} runs`,
          value: rssAfter,
          unit: 'MB',
          baseline: rss[0]!.mb,
          ratio: rssAfter / rss[0]!.mb,
          goal: '< 150 MB, flat',
          met: rssAfter < 150 && growth < 0.15 * rss[0]!.mb,
        },
      ],
      { rssSamples: rss, tokens, firstTokenSamples: overheads.length },
    );
  } finally {
    await server.stop();
    await llm.close();
    data.remove();
  }
}

await main();
