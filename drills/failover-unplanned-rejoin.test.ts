/**
 * Unplanned failover (short form), members resuming during the cut: a few senders, so that the members
 * whose sockets drop halfway through the cut do read the old primary's history (writes no replica
 * confirmed) before it dies. Their cursors must not keep seqs that the promoted replica gives to other
 * messages. One stack per file: the handlers keep warm state per process.
 */
import { runUnplannedFailoverDrill, UNPLANNED_REJOIN_SHORT } from './failover-unplanned';
import { expectUnplannedHolds } from './support/expect-unplanned';

describe('drill: unplanned Redis failover, members resuming during the cut', () => {
  it('loses no acknowledged message for members that resumed from the primary during the cut', async () => {
    const result = await runUnplannedFailoverDrill(UNPLANNED_REJOIN_SHORT);
    expect(result.integrity.acknowledged).toBeGreaterThan(5);
    expectUnplannedHolds(result);
  }, 60_000);
});
