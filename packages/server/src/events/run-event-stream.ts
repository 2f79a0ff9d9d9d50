import type { EventBus } from './event-bus.js';
import { type RunLogPage, type StoredRunEvent, TERMINAL_EVENT_TYPES } from './run-event-log.js';

/**
 * Where a log's events come from: the durable log and the live channel its writer publishes on.
 * A run's log by default; a thread's log numbers the same events by `threadSeq` and never ends.
 */
export interface RunEventSource {
  bus: EventBus;
  channel: string;
  /**
   * Durable events after `afterSeq`, ascending (possibly only the first page), with the log's state
   * read with them: one round trip, no extra read to find the end of the log.
   */
  page(afterSeq: number): Promise<RunLogPage>;
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
 * The last live message decoded: a bus hands a message to every subscriber of its channel in one
 * go, and decoding it once gives them all the same event object (whose execution is then shared
 * too, see http/shared-event-execution.ts). An event's fields are never modified after decoding
 * (that execution keeps its results on the event, under a symbol).
 *
 * One message, not a cache of recent ones: anything still referenced when the garbage collector
 * runs is copied, and what a cache keeps alive at one collection is moved to the old generation at
 * the next, where only a full collection frees it. With 100 runs streaming 5,000 events a second,
 * a cache of 256 made every young collection copy about 1 MB more and take twice as long.
 */
let lastMessage: string | undefined;
let lastEvent: StoredRunEvent | undefined;

function decodeLiveEvent(message: string): StoredRunEvent | undefined {
  if (message === lastMessage) return lastEvent;
  try {
    const e = JSON.parse(message) as StoredRunEvent & { at: string };
    const event = { ...e, at: new Date(e.at) };
    lastMessage = message;
    lastEvent = event;
    return event;
  } catch {
    return undefined;
  }
}

/**
 * Live messages kept for a reader that has not taken them yet (a slow client's subscription), at
 * most this many and this many bytes of messages since its queue was last empty; beyond either, it
 * drops them and catches up from the log, so a client that stops reading holds no more than that.
 */
export const LIVE_QUEUE_LIMIT = 1000;
export const LIVE_QUEUE_BYTES = 4 * 1024 * 1024;

/** The live side of a stream: messages on its channel since it subscribed, and who waits for them. */
interface LiveFeed {
  /** Decoded messages not taken yet, in arrival order. */
  events: StoredRunEvent[];
  /** Length of the messages queued since `events` was last empty (compared with LIVE_QUEUE_BYTES). */
  queuedBytes: number;
  /** The log must be (re-)read: at first, after a bus reconnect, a gap or a quiet period. */
  reread: boolean;
  /** Wakes the reader waiting for a message, if any. */
  nudge(): void;
  /** Waits for a message, a nudge or `pollMs` (then asks for a re-read). */
  wait(pollMs: number): Promise<void>;
  /** Ends the subscription (once; later calls do nothing). */
  close(): Promise<void>;
}

async function listen(source: RunEventSource): Promise<LiveFeed> {
  let wake: (() => void) | undefined;
  // One timer per feed for the quiet period, re-armed when it fires: a wait only notes when it
  // began (a fan-out of one event to N subscribers would otherwise set and clear N timers).
  let waitingSince = 0;
  let quietMs = 0;
  let timer: NodeJS.Timeout | undefined;
  const onTimer = () => {
    timer = undefined;
    if (!wake) return; // not waiting: the next wait arms it again
    const left = waitingSince + quietMs - performance.now();
    if (left > 1) {
      timer = setTimeout(onTimer, left);
      timer.unref?.();
      return;
    }
    feed.reread = true;
    feed.nudge();
  };
  const feed: LiveFeed = {
    events: [],
    queuedBytes: 0,
    reread: true,
    nudge() {
      const w = wake;
      wake = undefined;
      w?.();
    },
    wait(pollMs) {
      return new Promise<void>((resolve) => {
        waitingSince = performance.now();
        quietMs = pollMs;
        wake = resolve;
        if (!timer) {
          timer = setTimeout(onTimer, pollMs);
          timer.unref?.();
        }
      });
    },
    close: async () => {},
  };
  const unsubscribe = await source.bus.subscribe(source.channel, (m) => {
    const e = decodeLiveEvent(m);
    if (!e) return;
    const queued = feed.events.length;
    feed.queuedBytes = (queued === 0 ? 0 : feed.queuedBytes) + m.length;
    // A message is always queued behind none: one larger than the limit is not a reader behind.
    if (queued === 0 || (queued < LIVE_QUEUE_LIMIT && feed.queuedBytes <= LIVE_QUEUE_BYTES))
      feed.events.push(e);
    else {
      // A reader this far behind (a slow client) catches up from the log instead of from memory.
      feed.events.length = 0;
      feed.reread = true;
    }
    feed.nudge();
  });
  const offReconnect = source.bus.onReconnect(() => {
    feed.reread = true;
    feed.nudge();
  });
  let closing: Promise<void> | undefined;
  feed.close = () => {
    closing ??= (async () => {
      clearTimeout(timer);
      offReconnect();
      await unsubscribe();
    })();
    return closing;
  };
  return feed;
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
  return stoppable(opts, (signal) => runEventGenerator(source, { ...opts, signal }));
}

export interface OpenStreamOptions extends StreamOptions {
  /** The error to throw when the first page finds the log's owner not `visible` to the reader. */
  notVisible: () => Error;
}

/**
 * streamRunEvents, with its first page read before it returns (the source must read pages): the
 * page says whether the reader may see the log at all, so a subscription's authorisation and its
 * first events take one round trip, and a log the reader may not see throws `notVisible()` here,
 * before anything streams (thrown from a GraphQL subscribe resolver, the client gets it as the
 * subscription's one result). As with streamRunEvents, the bus subscription is in place before the
 * log is read. Unlike streamRunEvents it holds that subscription before the first next(): the
 * consumer must call return() or abort `signal` even if it never reads (an HTTP request's signal
 * covers a client that leaves while the subscription is being set up: GraphQL over SSE then never
 * touches the stream).
 */
export async function openRunEventStream(
  source: RunEventSource,
  opts: OpenStreamOptions,
): Promise<AsyncGenerator<StoredRunEvent>> {
  if (!source.page) throw new Error('openRunEventStream: the source must read pages');
  const feed = await listen(source);
  let first: RunLogPage;
  try {
    first = await source.page(opts.afterSeq ?? 0);
  } catch (e) {
    await feed.close();
    throw e;
  }
  if (!first.visible) {
    await feed.close();
    throw opts.notVisible();
  }
  const { notVisible: _, ...streamOpts } = opts;
  // The generator may never start (a client that leaves at once): closing the feed is then ours.
  return stoppable(
    opts,
    (signal) => runEventGenerator(source, { ...streamOpts, signal }, { feed, first }),
    feed.close,
  );
}

/**
 * A generator whose `return()` stops it at once (see streamRunEvents); `cleanup` runs after it, or
 * when `opts.signal` aborts (the generator may not have started: then nothing else would run it).
 */
function stoppable(
  opts: StreamOptions,
  make: (signal: AbortSignal) => AsyncGenerator<StoredRunEvent>,
  cleanup?: () => Promise<void>,
): AsyncGenerator<StoredRunEvent> {
  const controller = new AbortController();
  // A consumer that aborts may never call next() or return(): the cleanup is then the signal's.
  const onAbort = () => {
    controller.abort();
    void cleanup?.();
  };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  const generator = make(controller.signal);
  const stop = () => {
    opts.signal?.removeEventListener('abort', onAbort);
    controller.abort();
  };
  const stream: AsyncGenerator<StoredRunEvent> = {
    next: (...args) => generator.next(...args),
    async return(value) {
      stop();
      try {
        return await generator.return(value);
      } finally {
        await cleanup?.();
      }
    },
    async throw(error) {
      stop();
      try {
        return await generator.throw(error);
      } finally {
        await cleanup?.();
      }
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
 * `opened`: a subscription already made and the first page read after it (openRunEventStream).
 */
async function* runEventGenerator(
  source: RunEventSource,
  opts: StreamOptions = {},
  opened?: { feed: LiveFeed; first: RunLogPage },
): AsyncGenerator<StoredRunEvent> {
  let last = opts.afterSeq ?? 0;
  const seqOf = source.seqOf ?? ((e: StoredRunEvent) => e.seq);
  const isLast = source.isLast ?? ((e: StoredRunEvent) => TERMINAL_EVENT_TYPES.has(e.type));
  const feed = opened?.feed ?? (await listen(source));
  let first = opened?.first;
  const live = feed.events;
  // Noted here, not read from the signal for every event (its getter is not free).
  let aborted = opts.signal?.aborted ?? false;
  const onAbort = () => {
    aborted = true;
    feed.nudge();
  };
  opts.signal?.addEventListener('abort', onAbort);
  const pollMs = opts.pollMs ?? 5000;
  try {
    for (;;) {
      if (aborted) return;
      if (feed.reread) {
        feed.reread = false;
        for (;;) {
          const page = first ?? (await source.page(last));
          first = undefined;
          for (const e of page.events) {
            if (seqOf(e) !== last + 1) continue;
            last = seqOf(e);
            yield e;
            // A terminal event ends the stream only where it ends the log: one with events after
            // it, or one of a run that is going again (retryRun), is not the run's end.
            if (isLast(e) && page.closed && last >= page.lastSeq) return;
          }
          if (page.closed && last >= page.lastSeq) return;
          // Caught up with the log as it was (or stuck behind a hole, which the next read fills).
          if (last >= page.lastSeq || page.events.length === 0) break;
        }
      }
      while (live.length > 0) {
        const e = live.shift()!;
        const seq = seqOf(e);
        if (seq <= last) {
          // Already seen (replayed from the log). The last one seen, terminal, coming live: the log
          // was read as it committed (its status before, its events after), so the page did not
          // say closed; the live copy says the run has ended.
          if (seq === last && isLast(e)) return;
          continue;
        }
        if (seq > last + 1) {
          // Missed something: the log has it.
          live.unshift(e);
          feed.reread = true;
          break;
        }
        last = seq;
        yield e;
        if (isLast(e)) return;
      }
      if (feed.reread || live.length > 0) continue;
      // An abort while the log was being read found no one to wake: it must not wait out pollMs.
      if (aborted) return;
      await feed.wait(pollMs);
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await feed.close();
  }
}
