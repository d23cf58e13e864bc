/**
 * A Redis Cluster master killed under traffic with MIN_REPLICA_ACKS=1 (short form): every ack waited for
 * the room's master's replica (WAIT per shard), so the promoted replica holds every acknowledged message;
 * until the killed node is back as its replica, its rooms' sends are `unavailable` and resent. (Passes
 * since fb5f361: before it, the store's script + WAIT pipeline did not follow MOVED, and once the killed
 * node was back as a replica the killed master's rooms were answered `internal` for good.)
 */
import { CLUSTER_FAILOVER_SHORT, runClusterFailoverDrill } from './cluster-failover';
import { expectIntegrity } from './support/expect-integrity';

describe('drill: Redis Cluster master killed, replica promoted, MIN_REPLICA_ACKS=1', () => {
  it('0 acknowledged lost, 0 duplicated, the killed master’s rooms recover once the promoted replica has a replica', async () => {
    const result = await runClusterFailoverDrill({ ...CLUSTER_FAILOVER_SHORT, minReplicaAcks: 1 });
    const f = result.integrity;
    const [event] = result.events;
    expectIntegrity(f);
    expect(result.internal).toBe(0);
    expect(f.members).toBeGreaterThanOrEqual(20);
    expect(f.acknowledged).toBeGreaterThan(100);
    expect(event?.recoverMs).toBeDefined();
    expect(event?.allRecoveredMs).toBeDefined();
    expect(event?.replicaBackMs).toBeDefined();
    expect(result.unavailableMessages).toBeGreaterThan(0);
    expect(result.unavailableThenAcked).toBe(result.unavailableMessages);
    expect(result.gaveUp).toBe(0);
    expect(result.seqCountersBehind).toBe(0);
  }, 150_000);
});
