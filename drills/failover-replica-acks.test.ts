/**
 * Drill 1 with replica-confirmed acks (short form): the planned failover loses no acknowledged message
 * when every ack waited for the replica (the node that is promoted at the next failover).
 */
import { FAILOVER_SHORT, runFailoverDrill } from './failover';
import { expectFailoverHolds } from './support/expect-failover';

describe('drill: Redis primary failover with MIN_REPLICA_ACKS=1', () => {
  it('loses no acknowledged message across a READONLY failover and a reset failover', async () => {
    const result = await runFailoverDrill({ ...FAILOVER_SHORT, minReplicaAcks: 1 });
    expectFailoverHolds(result);
  }, 180_000);
});
