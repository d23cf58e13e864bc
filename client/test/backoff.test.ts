import { Backoff, fullJitterDelay } from '../src/backoff';

describe('Function: fullJitterDelay', () => {
  it.each([
    [0, 500],
    [1, 1000],
    [3, 4000],
    [6, 30_000],
    [100, 30_000],
  ])('stays in [0, ceiling) for attempt %p (ceiling %p)', (attempt, ceiling) => {
    // Prepare
    const lowest = () => 0;
    const highest = () => 0.999_999;

    // Act
    const low = fullJitterDelay(attempt, 500, 30_000, lowest);
    const high = fullJitterDelay(attempt, 500, 30_000, highest);

    // Assess
    expect(low).toBe(0);
    expect(high).toBe(ceiling - 1);
  });

  it('spreads delays over the whole range (full jitter, not equal jitter)', () => {
    // Prepare & Act
    const delays = Array.from({ length: 2000 }, () => fullJitterDelay(2, 100, 10_000));

    // Assess
    expect(Math.min(...delays)).toBeLessThan(40);
    expect(Math.max(...delays)).toBeGreaterThan(360);
  });
});

describe('Class: Backoff', () => {
  it('doubles the ceiling per attempt and starts over after reset', () => {
    // Prepare
    const backoff = new Backoff({ baseMs: 100, maxMs: 1000, random: () => 0.5 });

    // Act
    const first = [backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()];
    const attempts = backoff.attempt;
    backoff.reset();
    const afterReset = backoff.next();

    // Assess
    expect(first).toEqual([50, 100, 200, 400, 500]);
    expect(attempts).toBe(5);
    expect(afterReset).toBe(50);
  });
});
