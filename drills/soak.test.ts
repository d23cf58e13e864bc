/**
 * Drill 8 (short form): 300 connections in 15 rooms for 30 s, a message per member every 40 s; no loss,
 * memory and keys steady. Sized for a busy 2-core machine (CI with a second CI run beside it);
 * `npm run drill:soak` is the 1,000-connection form (a message every 20 s).
 */
import { runSoakDrill, SOAK_SHORT } from './soak';

describe('drill: soak', () => {
  it('delivers every acknowledged message with the server memory and Redis keys steady', async () => {
    const r = await runSoakDrill(SOAK_SHORT);
    expect(r.connected).toBe(SOAK_SHORT.connections);
    expect(r.figures.acknowledged).toBeGreaterThan(0);
    expect(r.figures.lost).toBe(0);
    expect(r.figures.duplicated).toBe(0);
    expect(r.figures.gaveUp).toBe(0);
    expect(r.serverErrors).toBe(0);
    expect(r.rssGrowth).toBeLessThanOrEqual(SOAK_SHORT.maxRssGrowth);
    // Four keys per room (seq, log, members, info), unchanged through the second half.
    expect(r.steadyKeys).toEqual({ min: SOAK_SHORT.rooms * 4, max: SOAK_SHORT.rooms * 4 });
    expect(r.keysAfterLeave.connectionState).toBe(0);
    expect(r.keysAfterLeave.withoutTtl).toBe(0);
  }, 240_000);
});
