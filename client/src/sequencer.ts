/**
 * Delivery in `seq` order, once each: frames at or below the last delivered `seq` are duplicates and
 * dropped; frames past a gap wait in a buffer until the gap is filled (by `resume`) or declared lost.
 * Pure: no timers, no I/O.
 */

export interface Sequenced {
  seq: number;
}

export interface PushResult<T> {
  /** Frames now deliverable, in order (empty when the frame was a duplicate or is waiting behind a gap). */
  deliver: T[];
  /** True when the frame was dropped as a duplicate. */
  duplicate: boolean;
}

export class Sequencer<T extends Sequenced> {
  private last: number;
  private readonly waiting = new Map<number, T>();

  constructor(lastSeq = 0) {
    this.last = lastSeq;
  }

  /** The highest `seq` delivered (every lower one was delivered or declared lost). */
  get lastSeq(): number {
    return this.last;
  }

  /** Frames waiting behind a gap. */
  get buffered(): number {
    return this.waiting.size;
  }

  /** True when frames wait for a missing `seq`. */
  get hasGap(): boolean {
    return this.waiting.size > 0;
  }

  /** The lowest waiting `seq`, if any. */
  get firstBuffered(): number | undefined {
    let lowest: number | undefined;
    for (const seq of this.waiting.keys()) if (lowest === undefined || seq < lowest) lowest = seq;
    return lowest;
  }

  /** Accepts one frame; returns what can be delivered now. */
  push(frame: T): PushResult<T> {
    if (!Number.isSafeInteger(frame.seq) || frame.seq <= this.last || this.waiting.has(frame.seq)) {
      return { deliver: [], duplicate: true };
    }
    this.waiting.set(frame.seq, frame);
    return { deliver: this.drain(), duplicate: false };
  }

  /**
   * Declares every missing `seq` up to `seq` lost (history no longer holds them) and delivers what
   * waited behind them, in order.
   */
  skipTo(seq: number): T[] {
    const out: T[] = [];
    while (this.last < seq) {
      const next = this.waiting.get(this.last + 1);
      if (next) this.waiting.delete(this.last + 1);
      this.last += 1;
      if (next) out.push(next);
    }
    return out.concat(this.drain());
  }

  /** Starts over after `lastSeq` (the room's sequence was reset), forgetting what waits. */
  reset(lastSeq = 0): void {
    this.last = lastSeq;
    this.waiting.clear();
  }

  private drain(): T[] {
    const out: T[] = [];
    for (let next = this.waiting.get(this.last + 1); next; next = this.waiting.get(this.last + 1)) {
      this.waiting.delete(this.last + 1);
      this.last += 1;
      out.push(next);
    }
    return out;
  }
}
