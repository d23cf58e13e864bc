/** Reconnect timing: exponential backoff with full jitter (a uniform delay in [0, min(cap, base * 2^n))). */

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  random?: () => number;
}

/** The full-jitter delay before attempt `attempt` (counted from 0). */
export function fullJitterDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** Counts attempts since the last success and gives the delay before the next one. */
export class Backoff {
  private attempts = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** Attempts made since the last `reset()`. */
  get attempt(): number {
    return this.attempts;
  }

  /** The delay before the next attempt; counts it. */
  next(): number {
    const delay = fullJitterDelay(
      this.attempts,
      this.options.baseMs,
      this.options.maxMs,
      this.options.random,
    );
    this.attempts += 1;
    return delay;
  }

  reset(): void {
    this.attempts = 0;
  }
}
