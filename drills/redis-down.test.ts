/** Drill 2 (short form): Redis crashes and hangs mid-traffic; requests fail fast, the service heals itself. */
import { REDIS_DOWN_SHORT, runRedisDownDrill } from './redis-down';

describe('drill: Redis unavailable', () => {
  it('fails requests fast with unavailable, leaves no partial state and recovers by itself', async () => {
    const result = await runRedisDownDrill(REDIS_DOWN_SHORT);
    const f = result.figures;
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBe(0);
    expect(f.gaveUp).toBe(0);
    for (const phase of result.phases) {
      // Requests failed during the outage, each with an `unavailable` error frame within about a second.
      expect(phase.failures.unavailable).toBeGreaterThan(0);
      expect(Object.keys(phase.failures).filter((k) => k !== 'unavailable')).toEqual([]);
      expect(phase.errorMaxMs).toBeLessThan(2500);
      expect(phase.handshakeStatus).toBe('500');
      expect(phase.handshakeMs).toBeLessThan(2500);
      // Back without anyone's help: a send started after Redis returned is acknowledged soon.
      expect(phase.recoverMs).toBeLessThan(3000);
    }
    for (const room of result.rooms) {
      expect(room).toMatchObject({ contiguous: true, membersConsistent: true });
      expect(room.seq).toBeGreaterThan(0);
    }
  }, 60_000);
});
