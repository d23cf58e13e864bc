/**
 * Unplanned failover (short form), members rejoining during the cut: one listener per room drops its
 * socket halfway through the cut and rejoins during a lull in the conversation, so its handshake and
 * resume reach the old primary while that holds writes no replica confirmed. The handshake is refused
 * (its membership cannot be confirmed) or the resume answers only confirmed history (or unavailable);
 * afterwards the member must not hold seqs that the promoted replica gives to other messages, and it
 * must be back in the room (get messages live). One stack per file: the handlers keep warm state per process.
 */
import { runUnplannedFailoverDrill, UNPLANNED_REJOIN_SHORT } from './failover-unplanned';
import { expectUnplannedHolds } from './support/expect-unplanned';

describe('drill: unplanned Redis failover, members resuming during the cut', () => {
  it('loses no acknowledged message for members that rejoined the old primary during the cut', async () => {
    const result = await runUnplannedFailoverDrill(UNPLANNED_REJOIN_SHORT);
    expect(result.integrity.acknowledged).toBeGreaterThan(100);
    expect(result.integrity.members).toBeGreaterThanOrEqual(20);
    // Each rejoining member met the old primary during the cut: its handshake refused (membership not
    // confirmed), or its resume served confirmed history or refused as unavailable.
    const met = new Set(['history', 'unavailable', 'refused HTTP 500']);
    expect(Object.keys(result.rejoinAnswers).filter((a) => !met.has(a))).toEqual([]);
    expectUnplannedHolds(result);
  }, 180_000);
});
