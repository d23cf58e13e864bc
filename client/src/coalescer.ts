/**
 * Coalescing: items pushed within a short window (whiteboard points, say) go out as one message, since
 * API Gateway bills per message and the server rate-limits each connection. One batch is in flight at a
 * time, so batches arrive in order; a batch that fails for a passing reason (rate limit, timeout) is
 * resent unchanged with the same key, so the server's `clientMsgId` dedupe keeps it from being stored twice.
 */
import type { Timers } from './types';

export interface CoalescerOptions<T> {
  /** How long items gather after the first one before they are sent. */
  windowMs: number;
  /** Sends one batch; `key` is the same for every retry of that batch. */
  send: (items: T[], key: number) => Promise<unknown>;
  /** Combines gathered items before sending (e.g. {@link mergeStrokes}). */
  merge?: (items: T[]) => T[];
  /** Largest batch, as JSON length of its items. Default 24 000 (under the 32 KB frame limit). */
  maxBatchBytes?: number;
  /** True when a failed batch should be resent (default: never). */
  retryable?: (error: unknown) => boolean;
  /** First retry delay, doubled per retry up to 5 s. Default 250 ms. */
  retryDelayMs?: number;
  /** A batch that failed for good (not retryable). */
  onError?: (error: unknown, items: T[]) => void;
  timers?: Timers;
}

interface Batch<T> {
  key: number;
  items: T[];
  retries: number;
}

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export class Coalescer<T> {
  private queue: T[] = [];
  private inFlight?: Batch<T>;
  private timer?: unknown;
  private nextKey = 1;
  private idleWaiters: Array<() => void> = [];
  private readonly timers: Timers;

  constructor(private readonly options: CoalescerOptions<T>) {
    this.timers = options.timers ?? defaultTimers;
  }

  /** Items not yet acknowledged (gathered or in flight). */
  get pending(): number {
    return this.queue.length + (this.inFlight?.items.length ?? 0);
  }

  /** Adds one item; it is sent with the others of its window. */
  push(item: T): void {
    this.queue.push(item);
    if (this.timer === undefined && !this.inFlight) this.arm(this.options.windowMs);
  }

  /** Sends what has gathered now; resolves once every item pushed so far has been sent or dropped. */
  flush(): Promise<void> {
    if (!this.inFlight && this.queue.length > 0) {
      this.disarm();
      this.sendNext();
    }
    if (!this.inFlight && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Forgets what has not been sent (in-flight batches still settle). */
  clear(): void {
    this.disarm();
    this.queue = [];
    if (!this.inFlight) this.settleIdle();
  }

  private arm(ms: number): void {
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.sendNext();
    }, ms);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private sendNext(): void {
    if (this.inFlight || this.queue.length === 0) return;
    const merged = this.options.merge ? this.options.merge(this.queue) : this.queue;
    const limit = this.options.maxBatchBytes ?? 24_000;
    let bytes = 0;
    let count = 0;
    for (const item of merged) {
      const size = JSON.stringify(item).length + 1;
      if (count > 0 && bytes + size > limit) break;
      bytes += size;
      count += 1;
    }
    this.inFlight = { key: this.nextKey++, items: merged.slice(0, count), retries: 0 };
    this.queue = merged.slice(count);
    this.attempt(this.inFlight);
  }

  private attempt(batch: Batch<T>): void {
    this.options.send(batch.items, batch.key).then(
      () => this.done(),
      (error: unknown) => {
        if (this.options.retryable?.(error)) {
          const base = this.options.retryDelayMs ?? 250;
          const delay = Math.min(5000, base * 2 ** batch.retries);
          batch.retries += 1;
          this.timers.setTimeout(() => this.attempt(batch), delay);
          return;
        }
        this.options.onError?.(error, batch.items);
        this.done();
      },
    );
  }

  private done(): void {
    this.inFlight = undefined;
    if (this.queue.length === 0) {
      this.settleIdle();
      return;
    }
    // More gathered while the batch was out: with waiters, at once; else after a window.
    if (this.idleWaiters.length > 0) this.sendNext();
    else if (this.timer === undefined) this.arm(this.options.windowMs);
  }

  private settleIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** A piece of a whiteboard stroke: points in board coordinates (0..1), drawn as one polyline. */
export interface StrokeSegment {
  strokeId: string;
  color: string;
  width: number;
  points: Array<[number, number]>;
}

/**
 * Joins consecutive segments of the same stroke into one polyline (the shared point where one segment
 * ends and the next starts is kept once). Use as the `merge` of a whiteboard coalescer.
 */
export function mergeStrokes(items: StrokeSegment[]): StrokeSegment[] {
  const out: StrokeSegment[] = [];
  for (const item of items) {
    const last = out[out.length - 1];
    if (last && last.strokeId === item.strokeId && last.color === item.color && last.width === item.width) {
      const tail = last.points[last.points.length - 1];
      const head = item.points[0];
      const skip = tail && head && tail[0] === head[0] && tail[1] === head[1] ? 1 : 0;
      last.points.push(...item.points.slice(skip));
    } else {
      out.push({ ...item, points: [...item.points] });
    }
  }
  return out;
}
