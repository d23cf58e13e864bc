import {
  type BackoffPolicy,
  DEFAULT_BACKOFF,
  fullJitterDelay,
  nextDelay,
} from '../../layers/shared/src/backoff';

/** A deterministic generator in [0, 1) (mulberry32). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const policy: BackoffPolicy = { baseMs: 100, capMs: 1000, maxAttempts: 4, reserveMs: 500 };

describe('Function: fullJitterDelay', () => {
  it.each([
    [0, 100],
    [1, 200],
    [2, 400],
    [3, 800],
    [4, 1000],
    [10, 1000],
  ])('stays in [0, %p) for attempt %p', (attempt, ceiling) => {
    // Prepare
    const random = seeded(attempt + 1);

    // Act
    const delays = Array.from({ length: 500 }, () => fullJitterDelay(attempt, policy, random));

    // Assess
    for (const delay of delays) {
      expect(Number.isInteger(delay)).toBe(true);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(ceiling);
    }
    expect(Math.max(...delays)).toBeGreaterThan(ceiling / 2);
  });

  it('returns 0 for random 0 and just under the ceiling for random close to 1', () => {
    // Prepare
    const low = () => 0;
    const high = () => 0.999999;

    // Act
    const results = [fullJitterDelay(3, policy, low), fullJitterDelay(3, policy, high)];

    // Assess
    expect(results).toEqual([0, 799]);
  });
});

describe('Function: nextDelay', () => {
  const half = () => 0.5;

  it('uses the first backoff step after the first failed attempt', () => {
    // Prepare & Act
    const delay = nextDelay(1, 10_000, policy, half);

    // Assess
    expect(delay).toBe(50);
  });

  it('grows with the attempts made', () => {
    // Prepare & Act
    const delays = [1, 2, 3].map((attempts) => nextDelay(attempts, 10_000, policy, half));

    // Assess
    expect(delays).toEqual([50, 100, 200]);
  });

  it.each([[4], [5], [100]])('stops once %p attempts were made (maxAttempts 4)', (attempts) => {
    // Prepare & Act
    const delay = nextDelay(attempts, 10_000, policy, half);

    // Assess
    expect(delay).toBeUndefined();
  });

  it('stops when the time left after the delay is within reserveMs', () => {
    // Prepare: the delay is 50 ms, the reserve 500 ms
    const remaining = [551, 550, 549, 100, 0, -10];

    // Act
    const delays = remaining.map((ms) => nextDelay(1, ms, policy, half));

    // Assess
    expect(delays).toEqual([50, undefined, undefined, undefined, undefined, undefined]);
  });

  it('uses the default policy and Math.random when none is given', () => {
    // Prepare
    const spy = jest.spyOn(Math, 'random').mockReturnValue(0.5);

    // Act
    const delay = nextDelay(1, 10_000);
    const exhausted = nextDelay(DEFAULT_BACKOFF.maxAttempts, 10_000);
    spy.mockRestore();

    // Assess
    expect(delay).toBe(DEFAULT_BACKOFF.baseMs / 2);
    expect(exhausted).toBeUndefined();
  });
});
