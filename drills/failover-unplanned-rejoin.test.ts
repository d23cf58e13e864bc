/**
 * Unplanned failover (short form), members rejoining during the cut: one listener per room drops its
 * socket halfway through the cut and rejoins, and resumes during a lull in the conversation, so its
 * read does reach the old primary while that holds writes no replica confirmed. Afterwards it must not
 * hold seqs that the promoted replica gives to other messages, and it must still be in the room (get
 * messages live). One stack per file: the handlers keep warm state per process.
 */
import { runUnplannedFailoverDrill, UNPLANNED_REJOIN_SHORT } from './failover-unplanned';
import { expectUnplannedHolds } from './support/expect-unplanned';

describe('drill: unplanned Redis failover, members resuming during the cut', () => {
  it('loses no acknowledged message for members that resumed from the primary during the cut', async () => {
    const result = await runUnplannedFailoverDrill(UNPLANNED_REJOIN_SHORT);
    expect(result.integrity.acknowledged).toBeGreaterThan(100);
    expect(result.integrity.members).toBeGreaterThanOrEqual(20);
    // Each rejoining member's resume reached the old primary during the cut: served, or refused as unavailable.
    expect(Object.keys(result.rejoinAnswers).filter((a) => a !== 'history' && a !== 'unavailable')).toEqual(
      [],
    );
    expectUnplannedHolds(result);
  }, 60_000);
});
