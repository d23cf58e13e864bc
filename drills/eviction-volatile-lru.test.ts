/**
 * Eviction (short form), `volatile-lru` (a stack without the noeviction parameter group): rooms' keys
 * are evicted, their sequences restart under a new epoch and every member follows it to the store's
 * history.
 */
import { EVICTION_SHORT, runEvictionDrill } from './eviction';
import { expectIntegrity } from './support/expect-integrity';

describe('drill: full cache (volatile-lru)', () => {
  it('volatile-lru: evicted rooms get a new epoch and every member recovers the store history', async () => {
    const result = await runEvictionDrill(EVICTION_SHORT['volatile-lru']);
    const f = result.integrity;
    expect(result.evictedKeys).toBeGreaterThan(0);
    expect(result.otherRefusals).toBe(0);
    expect(f.roomsWithNewEpoch).toBeGreaterThan(0);
    expect(f.epochResets).toBeGreaterThan(0);
    expect(f.membersOnStoreEpoch).toBe(f.members);
    expectIntegrity(f, { evicted: true });
    expect(result.corruptedRooms).toBe(0);
  }, 150_000);
});
