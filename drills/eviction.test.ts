/**
 * Eviction (short form), `noeviction`: a cache with a tiny maxmemory refuses writes with `unavailable`
 * and loses nothing acknowledged. (`volatile-lru`: eviction-volatile-lru.test.ts; one stack per file, as
 * the handlers keep warm state per process.)
 */
import { EVICTION_SHORT, runEvictionDrill } from './eviction';

describe('drill: full cache (noeviction)', () => {
  it('noeviction: refused writes are answered unavailable, nothing acknowledged is lost, rooms intact', async () => {
    const result = await runEvictionDrill(EVICTION_SHORT.noeviction);
    const f = result.integrity;
    expect(result.fullAfterMs).toBeDefined();
    expect(result.refusals.unavailable).toBeGreaterThan(0);
    expect(result.refusals).toEqual({ unavailable: result.refusals.unavailable });
    expect(result.evictedKeys).toBe(0);
    expect(f.acknowledged).toBeGreaterThan(50);
    expect(f.examples).toEqual([]);
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBe(0);
    expect(f.seqConflicts).toBe(0);
    expect(f.cursorsBehind).toBe(0);
    expect(f.historyMismatch).toBe(0);
    expect(f.storeGaps).toBe(0);
    expect(f.unreadRooms).toBe(0);
    expect(result.corruptedRooms).toBe(0);
    expect(result.byteCountMismatch).toBe(0);
  }, 150_000);
});
