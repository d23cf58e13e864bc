/**
 * Resharding under traffic (short form): the slots of the busiest rooms move between the masters of a
 * local Redis Cluster, four rounds of two, while 21 members send; every redirect is followed and nothing
 * acknowledged is lost or duplicated (MIN_REPLICA_ACKS=0, the local default).
 */
import { CLUSTER_RESHARD_SHORT, runClusterReshardDrill } from './cluster-reshard';
import { expectReshardHolds } from './support/expect-reshard';

describe('drill: Redis Cluster resharding under traffic', () => {
  it('moves busy rooms’ slots between masters: every redirect followed, 0 lost, 0 duplicated, cursors converge', async () => {
    const result = await runClusterReshardDrill(CLUSTER_RESHARD_SHORT);
    expectReshardHolds(result);
  }, 150_000);
});
