/** Retry timing for posts to the management API: full-jitter exponential backoff within a deadline. */

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  maxAttempts: number;
  /** Time kept free before the Lambda deadline for the handler to finish its work. */
  reserveMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 50, capMs: 1000, maxAttempts: 6, reserveMs: 500 };

/** Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)). `attempt` counts from 0. */
export function fullJitterDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/**
 * The delay before the next attempt, or undefined when no attempt is left or when waiting would run past
 * the time the Lambda has left.
 */
export function nextDelay(
  attemptsMade: number,
  remainingMs: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number | undefined {
  if (attemptsMade >= policy.maxAttempts) return undefined;
  const delay = fullJitterDelay(attemptsMade - 1, policy, random);
  return remainingMs - delay > policy.reserveMs ? delay : undefined;
}
