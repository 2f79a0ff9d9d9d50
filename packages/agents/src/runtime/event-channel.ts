import type { RunEvent, RunEventInput } from '../events/run-event.js';

/**
 * Ordered, gap-free event queue with one consumer. Sequence numbers are assigned at emit time,
 * so they follow emission order exactly. After `close()` further emits are dropped.
 */
export class EventChannel {
  private seq: number;
  private readonly buffer: RunEvent[] = [];
  private head = 0;
  private wake: (() => void) | undefined;
  private closed = false;
  private buffering = true;

  constructor(
    private readonly runId: string,
    firstSequence: number,
    private readonly listener?: (event: RunEvent) => void,
  ) {
    this.seq = firstSequence;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stop keeping events for an iterator (nobody will read them). */
  discard(): void {
    this.buffering = false;
    this.buffer.length = 0;
    this.head = 0;
  }

  emit(input: RunEventInput): RunEvent | undefined {
    if (this.closed) return undefined;
    const event = {
      ...input,
      seq: this.seq++,
      runId: this.runId,
      timestamp: new Date().toISOString(),
    } as RunEvent;
    if (this.buffering) this.buffer.push(event);
    this.listener?.(event);
    const wake = this.wake;
    if (wake) {
      this.wake = undefined;
      wake();
    }
    return event;
  }

  close(): void {
    this.closed = true;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *events(): AsyncGenerator<RunEvent> {
    while (true) {
      if (this.head < this.buffer.length) {
        const event = this.buffer[this.head]!;
        this.head++;
        if (this.head > 1024 && this.head * 2 > this.buffer.length) {
          this.buffer.splice(0, this.head);
          this.head = 0;
        }
        yield event;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }
}
