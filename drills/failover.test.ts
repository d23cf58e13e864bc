/** Drill 1 (short form): Redis primary failovers under steady traffic lose no acknowledged message. */
import { FAILOVER_SHORT, runFailoverDrill } from './failover';

describe('drill: Redis primary failover', () => {
  it('loses no acknowledged message across a READONLY failover and a reset failover', async () => {
    const result = await runFailoverDrill(FAILOVER_SHORT);
    const f = result.figures;
    expect(f.acknowledged).toBeGreaterThan(100);
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBe(0);
    expect(f.gaveUp).toBe(0);
    expect(result.seqCountersIntact).toBe(true);
    expect(f.delivered + f.recovered + f.own).toBe(f.expected);
    expect(result.failovers).toHaveLength(2);
    expect(result.recoverMs).toBeLessThan(5000);
  }, 60_000);
});
