/** Drill 3 (short form): 410/429/500/slow answers to a share of posts; nothing acknowledged is lost. */
import { FAULTS_SHORT, runFaultsDrill } from './mgmt-faults';

describe('drill: management API faults', () => {
  it('recovers every acknowledged message through resume and prunes the stale connections', async () => {
    const result = await runFaultsDrill(FAULTS_SHORT);
    const f = result.figures;
    for (const kind of ['410', '429', '500', 'slow'] as const)
      expect(result.injected[kind]).toBeGreaterThan(0);
    expect(f.acknowledged).toBeGreaterThan(100);
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBe(0);
    expect(f.gaveUp).toBe(0);
    expect(f.recovered).toBeGreaterThan(0);
    expect(result.stalesLeft).toBe(0);
    expect(result.staleFrames).toBe(0);
  }, 120_000);
});
