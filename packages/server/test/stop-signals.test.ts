// How a `troupe` server answers SIGINT, SIGTERM and SIGHUP, with its signals, clock and exit in
// the test's hands (cli.test.ts sends real signals to a real `troupe dev`).
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { onStopSignals, REPEAT_WINDOW_MS } from '../src/stop-signals.js';

let signals: EventEmitter;
let clock: number;
let exits: number[];
let lines: string[];
const start = (graceMs = 10_000) =>
  onStopSignals({
    graceMs,
    announce: (s) => `${s}: shutting down`,
    signals,
    exit: (code) => void exits.push(code),
    now: () => clock,
    log: (l) => void lines.push(l),
    warn: (l) => void lines.push(l),
  });
const flush = () => new Promise((r) => setImmediate(r));

beforeEach(() => {
  signals = new EventEmitter();
  clock = 0;
  exits = [];
  lines = [];
});
afterEach(() => vi.useRealTimers());

test('while starting, a signal stops the process at once, with 128 + its number', () => {
  start();
  signals.emit('SIGTERM');
  expect(exits).toEqual([143]);
  expect(lines).toEqual(['troupe: SIGTERM while starting: stopping']);
});

test('once started, a signal shuts down gracefully and exits 0; SIGHUP too', async () => {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    signals = new EventEmitter();
    exits = [];
    lines = [];
    let closed = false;
    start().started(async () => {
      closed = true;
    });
    signals.emit(signal);
    await flush();
    expect(closed).toBe(true);
    expect(exits).toEqual([0]);
    expect(lines).toEqual([`${signal}: shutting down`]);
  }
});

test('the same signal again within the repeat window is the same stop; later, or another signal, stops at once', async () => {
  let finish!: () => void;
  start().started(() => new Promise<void>((r) => (finish = r)));
  signals.emit('SIGINT');
  clock += REPEAT_WINDOW_MS - 1;
  signals.emit('SIGINT'); // `npm run dev` forwarding the terminal's Ctrl-C
  await flush();
  expect(exits).toEqual([]);
  clock += 1;
  signals.emit('SIGINT'); // Ctrl-C again, a second later
  expect(exits).toEqual([130]);
  expect(lines.at(-1)).toBe('troupe: SIGINT during the shutdown: stopping now, before it finished');
  finish();

  signals = new EventEmitter();
  exits = [];
  start().started(() => new Promise<void>(() => {}));
  signals.emit('SIGINT');
  signals.emit('SIGTERM');
  expect(exits).toEqual([143]);
});

test('a shutdown that overruns its grace, or fails, stops the process with exit 1 and says why', async () => {
  vi.useFakeTimers();
  start(5000).started(() => new Promise<void>(() => {}));
  signals.emit('SIGTERM');
  vi.advanceTimersByTime(4999);
  expect(exits).toEqual([]);
  vi.advanceTimersByTime(1);
  expect(exits).toEqual([1]);
  expect(lines.at(-1)).toBe('troupe: the shutdown did not finish within 5 s: stopping now');
  vi.useRealTimers();

  signals = new EventEmitter();
  exits = [];
  start().started(async () => {
    throw new Error('the database would not close');
  });
  signals.emit('SIGTERM');
  await flush();
  expect(exits).toEqual([1]);
  expect(lines.at(-1)).toBe('troupe: the shutdown failed: the database would not close');
});
