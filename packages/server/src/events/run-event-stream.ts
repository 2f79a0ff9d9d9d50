import type { EventBus } from './event-bus.js';
import { type RunLogPage, type StoredRunEvent, TERMINAL_EVENT_TYPES } from './run-event-log.js';

/**
 * Where a log's events come from: the durable log and the live channel its writer publishes on.
 * A run's log by default; a thread's log numbers the same events by `threadSeq` and never ends.
 */
export interface RunEventSource {
  bus: EventBus;
  channel: string;
  /** Durable events after `afterSeq`, ascending, possibly only the first page. */
  load(afterSeq: number): Promise<StoredRunEvent[]>;
  /** The log's last sequence number once it is closed (the run ended), else null. */
  closedAt(): Promise<number | null>;
  /**
   * Optional, replaces load and closedAt: a page with the log's state read with it (one round
   * trip; no extra read to find the end of the log).
   */
  page?: (afterSeq: number) => Promise<RunLogPage>;
  /** An event's number in this log. Default: its run sequence number. */
  seqOf?: (e: StoredRunEvent) => number;
  /** Whether the log ends with this event. Default: the run's terminal events. */
  isLast?: (e: StoredRunEvent) => boolean;
}

export interface StreamOptions {
  afterSeq?: number;
  signal?: AbortSignal;
  /** Re-read the log when nothing live arrived for this long (covers messages lost in transit). */
  pollMs?: number;
}

export function encodeLiveEvent(e: StoredRunEvent): string {
  return JSON.stringify(e);
}

/**
 * Live messages decoded recently: a message reaches every subscriber of its channel at once, and
 * decoding it once gives them all the same event object (whose execution is then shared too, see
 * http/shared-event-execution.ts). Events are never modified after decoding.
 */
const recentlyDecoded = new Map<string, StoredRunEvent>();
const RECENT_LIMIT = 256;

function decodeLiveEvent(message: string): StoredRunEvent | undefined {
  const known = recentlyDecoded.get(message);
  if (known) return known;
  try {
    const e = JSON.parse(message) as StoredRunEvent & { at: string };
    const event = { ...e, at: new Date(e.at) };
    recentlyDecoded.set(message, event);
    if (recentlyDecoded.size > RECENT_LIMIT) recentlyDecoded.delete(recentlyDecoded.keys().next().value!);
    return event;
  } catch {
    return undefined;
  }
}

/**
 * A run's events after `afterSeq` (see `runEventGenerator`). Ending it early (`return()`, which
 * GraphQL servers call when a client unsubscribes or disconnects) takes effect at once: a
 * generator's own `return()` would wait for the next event, holding the bus subscription of an
 * idle or stalled run until then.
 */
export function streamRunEvents(
  source: RunEventSource,
  opts: StreamOptions = {},
): AsyncGenerator<StoredRunEvent> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  if (opts.signal?.aborted) controller.abort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  const generator = runEventGenerator(source, { ...opts, signal: controller.signal });
  const stop = () => {
    opts.signal?.removeEventListener('abort', onAbort);
    controller.abort();
  };
  const stream: AsyncGenerator<StoredRunEvent> = {
    next: (...args) => generator.next(...args),
    return(value) {
      stop();
      return generator.return(value);
    },
    throw(error) {
      stop();
      return generator.throw(error);
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}

/**
 * A run's events after `afterSeq`, each exactly once and in order, ending after the terminal event.
 * It subscribes first, then replays the durable log, then switches to live messages; a live
 * message that skips ahead (a gap), a bus reconnect or a quiet period makes it re-read the log,
 * so nothing published while it was not listening is lost and nothing is yielded twice.
 * Writers must publish an event only after the transaction that stored it has committed.
 */
async function* runEventGenerator(
  source: RunEventSource,
  opts: StreamOptions = {},
): AsyncGenerator<StoredRunEvent> {
  let last = opts.afterSeq ?? 0;
  const seqOf = source.seqOf ?? ((e: StoredRunEvent) => e.seq);
  const isLast = source.isLast ?? ((e: StoredRunEvent) => TERMINAL_EVENT_TYPES.has(e.type));
  const live: StoredRunEvent[] = [];
  let wake: (() => void) | undefined;
  let reread = true;
  const nudge = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const unsubscribe = await source.bus.subscribe(source.channel, (m) => {
    const e = decodeLiveEvent(m);
    if (e) {
      live.push(e);
      nudge();
    }
  });
  const offReconnect = source.bus.onReconnect(() => {
    reread = true;
    nudge();
  });
  const onAbort = () => nudge();
  opts.signal?.addEventListener('abort', onAbort);
  const pollMs = opts.pollMs ?? 5000;
  try {
    for (;;) {
      if (opts.signal?.aborted) return;
      if (reread) {
        reread = false;
        if (source.page) {
          for (;;) {
            const page = await source.page(last);
            for (const e of page.events) {
              if (seqOf(e) !== last + 1) continue;
              last = seqOf(e);
              yield e;
              if (isLast(e)) return;
            }
            if (page.closed && last >= page.lastSeq) return;
            // Caught up with the log as it was (or stuck behind a hole, which the next read fills).
            if (last >= page.lastSeq || page.events.length === 0) break;
          }
        } else {
          for (;;) {
            const page = await source.load(last);
            for (const e of page) {
              if (seqOf(e) !== last + 1) continue;
              last = seqOf(e);
              yield e;
              if (isLast(e)) return;
            }
            if (page.length === 0) break;
          }
          const closed = await source.closedAt();
          if (closed !== null && last >= closed) return;
        }
      }
      while (live.length > 0) {
        const e = live.shift()!;
        const seq = seqOf(e);
        if (seq <= last) continue; // already seen (replayed from the log)
        if (seq > last + 1) {
          // Missed something: the log has it.
          live.unshift(e);
          reread = true;
          break;
        }
        last = seq;
        yield e;
        if (isLast(e)) return;
      }
      if (reread || live.length > 0) continue;
      await new Promise<void>((resolve) => {
        // An abort while the log was being read found no one to wake: it must not wait out pollMs.
        if (opts.signal?.aborted) return resolve();
        wake = resolve;
        const timer = setTimeout(() => {
          reread = true;
          nudge();
        }, pollMs);
        timer.unref?.();
        const done = resolve;
        wake = () => {
          clearTimeout(timer);
          done();
        };
      });
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    offReconnect();
    await unsubscribe();
  }
}
