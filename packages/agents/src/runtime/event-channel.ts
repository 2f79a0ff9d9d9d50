import type { RunEvent, RunEventInput } from '../events/run-event.js';

/**
 * Ordered, gap-free event queue with one consumer. Sequence numbers are assigned at emit time,
 * so they follow emission order exactly. After `close()` further emits are dropped.
 * Hand-written iterator (no async generator) because every streamed token passes through here.
 */
export class EventChannel {
  private seq: number;
  private buffer: RunEvent[] = [];
  private head = 0;
  private waiting: ((result: IteratorResult<RunEvent>) => void) | undefined;
  private closed = false;
  private buffering = true;
  private lastMs = 0;
  private lastIso = '';

  constructor(
    private readonly runId: string,
    firstSequence: number,
    private readonly listener?: (event: RunEvent) => void,
    private readonly onListenerError?: (error: unknown) => void,
  ) {
    this.seq = firstSequence;
  }

  /** Stop keeping events for an iterator (nobody will read them). */
  discard(): void {
    this.buffering = false;
    this.buffer = [];
    this.head = 0;
  }

  private timestamp(): string {
    const now = Date.now();
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.lastIso = new Date(now).toISOString();
    }
    return this.lastIso;
  }

  /** `input` must be a fresh object: it becomes the event. */
  emit(input: RunEventInput): RunEvent | undefined {
    if (this.closed) return undefined;
    const event = input as RunEvent;
    event.seq = this.seq++;
    event.runId = this.runId;
    event.timestamp = this.timestamp();
    // Queued before the listener sees it: a listener that emits (cancelling the run from onEvent
    // emits RUN_CANCELLED) queues its events after this one, in sequence order.
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting({ value: event, done: false });
    } else if (this.buffering) {
      this.buffer.push(event);
    }
    if (this.listener) {
      try {
        this.listener(event);
      } catch (error) {
        // An observer must not break the producer mid-step; the run fails right after.
        const report = this.onListenerError;
        if (report) queueMicrotask(() => report(error));
      }
    }
    return event;
  }

  close(): void {
    this.closed = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<RunEvent>> {
    if (this.head < this.buffer.length) {
      const event = this.buffer[this.head]!;
      this.head++;
      if (this.head === this.buffer.length) {
        this.buffer = [];
        this.head = 0;
      }
      return Promise.resolve({ value: event, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  /** Drops whatever is still buffered. */
  stop(): void {
    this.buffer = [];
    this.head = 0;
  }
}
