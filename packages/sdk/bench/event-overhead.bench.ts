// Per-event client overhead: 100,000 graphql-ws `next` frames through the SDK's stream machinery
// (WebSocket transport, resume bookkeeping, async iteration) against JSON.parse of the same frames.
// A stand-in WebSocket delivers the frames, so no network or server time is counted.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { accumulateRun, createTroupeClient, initialRunState, type WebSocketConstructor } from '../src/index';

const here = path.dirname(fileURLToPath(import.meta.url));
const EVENTS = 100_000;
const ROUNDS = 5;
const BATCH = 500; // frames per macrotask, like a busy socket

const frames = Array.from({ length: EVENTS }, (_, i) =>
  JSON.stringify({
    id: '1',
    type: 'next',
    payload: {
      data: {
        runEvents: {
          seq: i + 1,
          type: 'TOKEN',
          at: '2026-01-01T00:00:00.000Z',
          taskRunId: 'VGFza1J1bjox',
          delta: `w${i} `,
          data: { taskName: 'write', agentName: 'writer' },
        },
      },
    },
  }),
);

/** Answers the graphql-ws handshake, then sends every frame and `complete`. */
class FrameSocket {
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor() {
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.();
    });
  }
  send(text: string) {
    const { type } = JSON.parse(text) as { type: string };
    if (type === 'connection_init') setTimeout(() => this.onmessage?.({ data: '{"type":"connection_ack"}' }));
    if (type === 'subscribe') {
      let next = 0;
      const pump = () => {
        const end = Math.min(next + BATCH, frames.length);
        for (; next < end; next++) this.onmessage?.({ data: frames[next] });
        if (next < frames.length) setImmediate(pump);
        else this.onmessage?.({ data: '{"id":"1","type":"complete"}' });
      };
      setImmediate(pump);
    }
  }
  close() {
    this.readyState = 3;
  }
}

// A client per stream: the frames carry subscription id "1", a client's first (its later streams
// share the socket under new ids).
const newClient = () =>
  createTroupeClient({
    url: 'http://troupe.invalid',
    apiKey: 'tk',
    webSocketImpl: FrameSocket as unknown as WebSocketConstructor,
    streamLingerMs: 0,
  });

async function jsonParseOnly(): Promise<number> {
  const start = performance.now();
  let sum = 0;
  for (let i = 0; i < frames.length; i += BATCH) {
    for (let j = i; j < Math.min(i + BATCH, frames.length); j++)
      sum += JSON.parse(frames[j] as string).payload.data.runEvents.seq;
    await new Promise((r) => setImmediate(r));
  }
  if (sum <= 0) throw new Error('unreachable');
  return performance.now() - start;
}

async function sdkStream(accumulate: boolean): Promise<number> {
  const client = newClient();
  const start = performance.now();
  let count = 0;
  let state = initialRunState;
  for await (const event of client.runs.stream('UnVuOjE=')) {
    count++;
    if (accumulate) state = accumulateRun(state, event);
  }
  if (count !== EVENTS) throw new Error(`expected ${EVENTS} events, got ${count}`);
  return performance.now() - start;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const variants: Array<[string, () => Promise<number>]> = [
  ['JSON.parse of each frame (baseline)', jsonParseOnly],
  ['runs.stream(): parse + dispatch + for await', () => sdkStream(false)],
  ['runs.stream() + accumulateRun (text per task)', () => sdkStream(true)],
];
// Warm-up (also loads the lazy stream chunk).
for (const [, run] of variants) await run();
const results: Record<string, number> = {};
for (const [name, run] of variants) {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) times.push(await run());
  results[name] = median(times);
}
const baseline = results[variants[0]![0]] as number;
const rows = variants.map(([name]) => {
  const ms = results[name] as number;
  return {
    what: name,
    totalMs: +ms.toFixed(1),
    usPerEvent: +((ms * 1000) / EVENTS).toFixed(3),
    eventsPerSec: Math.round(EVENTS / (ms / 1000)),
    vsJsonParse: +(ms / baseline).toFixed(2),
  };
});
console.table(rows);
const out = path.resolve(here, '../bench-results');
mkdirSync(out, { recursive: true });
writeFileSync(
  path.join(out, 'event-overhead.json'),
  `${JSON.stringify({ events: EVENTS, rounds: ROUNDS, batch: BATCH, node: process.version, rows }, null, 2)}\n`,
);
