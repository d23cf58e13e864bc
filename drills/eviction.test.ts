/**
 * Eviction (short form), `noeviction`: a cache with a tiny maxmemory refuses writes with `unavailable`
 * and loses nothing acknowledged. (`volatile-lru`: eviction-volatile-lru.test.ts; one stack per file, as
 * the handlers keep warm state per process.)
 */
import { EVICTION_SHORT, runEvictionDrill } from './eviction';
import { expectIntegrity } from './support/expect-integrity';

describe('drill: full cache (noeviction)', () => {
  it('noeviction: refused writes are answered unavailable, nothing acknowledged is lost, rooms intact', async () => {
    const result = await runEvictionDrill(EVICTION_SHORT.noeviction);
    const f = result.integrity;
    expectIntegrity(f);
    expect(result.fullAfterMs).toBeDefined();
    expect(result.refusals.unavailable).toBeGreaterThan(0);
    expect(result.refusals).toEqual({ unavailable: result.refusals.unavailable });
    expect(result.evictedKeys).toBe(0);
    expect(f.acknowledged).toBeGreaterThan(50);
    expect(result.corruptedRooms).toBe(0);
    expect(result.byteCountMismatch).toBe(0);
  }, 150_000);
});
