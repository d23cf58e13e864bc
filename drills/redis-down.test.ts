/** Drill 2 (short form): Redis crashes and hangs mid-traffic; requests fail fast, the service heals itself. */
import { FAIL_FAST_MS, RECOVER_MS, REDIS_DOWN_SHORT, runRedisDownDrill } from './redis-down';
import { withMachineDelay } from './support/bounds';

describe('drill: Redis unavailable', () => {
  it('fails requests fast with unavailable, leaves no partial state and recovers by itself', async () => {
    const result = await runRedisDownDrill(REDIS_DOWN_SHORT);
    const f = result.figures;
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBe(0);
    expect(f.gaveUp).toBe(0);
    // The product's bounds plus what this machine adds to any request (support/bounds.ts): on a quiet
    // machine 2.5 s to fail and 3 s to recover, as the Redis client's timeouts and backoff give.
    const failFast = withMachineDelay(FAIL_FAST_MS, result.machineDelayMs);
    const recover = withMachineDelay(RECOVER_MS, result.machineDelayMs);
    for (const phase of result.phases) {
      // Requests failed during the outage, each with an `unavailable` error frame from the function
      // itself: one that hung would meet the Lambda timeout and get the gateway's error instead.
      expect(phase.failures.unavailable).toBeGreaterThan(0);
      expect(Object.keys(phase.failures).filter((k) => k !== 'unavailable')).toEqual([]);
      // Within the Redis client's timeouts (not at the Lambda timeout, whatever the machine adds).
      expect(phase.errorMaxMs).toBeLessThan(failFast);
      expect(phase.errorMaxMs).toBeLessThan(result.lambdaTimeoutMs);
      expect(phase.handshakeStatus).toBe('500');
      expect(phase.handshakeMs).toBeLessThan(failFast);
      expect(phase.handshakeMs).toBeLessThan(result.lambdaTimeoutMs);
      // Back without anyone's help: a send started after Redis returned is acknowledged soon
      // (undefined: never).
      expect(phase.recoverMs).toBeLessThan(recover);
    }
    for (const room of result.rooms) {
      expect(room).toMatchObject({ contiguous: true, membersConsistent: true });
      expect(room.seq).toBeGreaterThan(0);
    }
  }, 150_000);
});
