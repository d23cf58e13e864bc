/**
 * Resharding under traffic with MIN_REPLICA_ACKS=1 (short form): the store pipelines each send (and each
 * resume page, each join) with WAIT, a pipeline whose redirects ioredis does not follow: the store does
 * (fb5f361: a MOVED refreshes the slot map and the pipeline goes again; ASK and TRYAGAIN are retried a few
 * times). Each slot stays half-moved for 300 ms (keys on both masters: ASK, TRYAGAIN).
 * A redirect still not followed after those retries is answered `unavailable` and resent by the client.
 */
import { CLUSTER_RESHARD_SHORT, runClusterReshardDrill } from './cluster-reshard';
import { expectReshardHolds } from './support/expect-reshard';

describe('drill: Redis Cluster resharding under traffic, MIN_REPLICA_ACKS=1', () => {
  it('every redirect followed (or answered unavailable and resent), 0 lost, 0 duplicated', async () => {
    const result = await runClusterReshardDrill({ ...CLUSTER_RESHARD_SHORT, minReplicaAcks: 1, holdMs: 300 });
    expectReshardHolds(result);
  }, 150_000);
});
