/**
 * Resharding under traffic with MIN_REPLICA_ACKS=1 (short form): the store pipelines each send (and each
 * resume page, each join) with WAIT, a pipeline whose redirects ioredis does not follow: the store does
 * (fb5f361: a MOVED refreshes the slot map and the pipeline goes again; ASK and TRYAGAIN are retried a few
 * times). Each slot stays half-moved for 300 ms (keys on both masters: ASK, TRYAGAIN).
 * A redirect still not followed after those retries is answered `unavailable` and resent by the client.
 */
import { CLUSTER_RESHARD_SHORT, runClusterReshardDrill } from './cluster-reshard';
import { expectIntegrity } from './support/expect-integrity';

describe('drill: Redis Cluster resharding under traffic, MIN_REPLICA_ACKS=1', () => {
  it('every redirect followed (or answered unavailable and resent), 0 lost, 0 duplicated', async () => {
    const result = await runClusterReshardDrill({ ...CLUSTER_RESHARD_SHORT, minReplicaAcks: 1, holdMs: 300 });
    const f = result.integrity;
    expectIntegrity(f);
    expect(result.internal).toBe(0);
    expect(f.members).toBeGreaterThanOrEqual(20);
    expect(f.acknowledged).toBeGreaterThan(100);
    expect(result.slotsMoved).toBe(CLUSTER_RESHARD_SHORT.rounds * CLUSTER_RESHARD_SHORT.moves);
    expect(result.slotsMisplaced).toBe(0);
    expect(result.nodeRedirects.MOVED + result.nodeRedirects.ASK).toBeGreaterThan(0);
    expect(result.nodeRedirects.CROSSSLOT).toBe(0);
    expect(result.unavailableThenAcked).toBe(result.unavailableMessages);
    expect(result.gaveUp).toBe(0);
    expect(result.seqCountersBehind).toBe(0);
  }, 150_000);
});
