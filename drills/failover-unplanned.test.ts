/**
 * Unplanned failover (short form): the replication link cut while the primary takes writes, the primary
 * killed, the replica promoted. With replica-confirmed acks no acknowledged message is lost.
 */
import { runUnplannedFailoverDrill, UNPLANNED_SHORT } from './failover-unplanned';
import { expectUnplannedHolds } from './support/expect-unplanned';

describe('drill: unplanned Redis failover (replication cut, primary killed)', () => {
  it('loses no acknowledged message with MIN_REPLICA_ACKS=1 (24 sending members)', async () => {
    const result = await runUnplannedFailoverDrill(UNPLANNED_SHORT);
    expect(result.integrity.members).toBeGreaterThanOrEqual(20);
    expect(result.integrity.acknowledged).toBeGreaterThan(100);
    expect(result.unavailableDuringCut).toBeGreaterThan(0);
    expectUnplannedHolds(result);
  }, 180_000);
});
