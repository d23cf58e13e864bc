/** Drill 4 (short form): missed $disconnect, half-open and dropped connections; what Redis keeps after. */
import { runStaleDrill, TTL_SECONDS } from './stale';

describe('drill: stale connections and leftover state', () => {
  it('prunes what $disconnect missed and leaves only expiring keys behind', async () => {
    const r = await runStaleDrill();
    expect(r.joinedTogether.members).toBe(r.joinedTogether.joined);
    expect(r.halfOpen).toEqual({ vanished: 2, pruned: 2, idleClosed: 2 });
    expect(r.dropped).toEqual({ dropped: 2, removed: 2 });
    // The two $disconnects were really missed, then the next broadcast pruned them.
    expect(r.missedDisconnect).toEqual({ missed: 2, leftAfterMiss: 2, prunedAfter: 2 });
    // A room nobody can prune any more: every key it left expires within the room TTL.
    for (const key of r.abandoned.keys) {
      expect(key.pttl).toBeGreaterThan(0);
      expect(key.pttl).toBeLessThanOrEqual(TTL_SECONDS * 1000);
    }
    expect(r.abandoned.maxMemberExpiryMs).toBeLessThanOrEqual(TTL_SECONDS * 1000);
    // Rooms everyone left cleanly: no connection state; history and short-lived entries, all expiring.
    for (const key of r.afterClean.keys) {
      expect(key.key).toMatch(/:(state|log|rl:.+|dedupe:.+)$/);
      expect(key.pttl).toBeGreaterThan(0);
      expect(key.pttl).toBeLessThanOrEqual(TTL_SECONDS * 1000);
    }
  }, 120_000);
});
