/** Drill 1 (short form): Redis primary failovers under steady traffic lose no acknowledged message. */
import { FAILOVER_SHORT, runFailoverDrill } from './failover';
import { expectFailoverHolds } from './support/expect-failover';

describe('drill: Redis primary failover', () => {
  it('loses no acknowledged message across a READONLY failover and a reset failover', async () => {
    const result = await runFailoverDrill(FAILOVER_SHORT);
    expectFailoverHolds(result);
  }, 180_000);
});
