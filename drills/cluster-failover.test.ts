/**
 * A Redis Cluster master killed under traffic (short form, MIN_REPLICA_ACKS=0): the cluster promotes its
 * replica after cluster-node-timeout; the killed master's rooms are answered `unavailable` meanwhile (the
 * senders resend), the other masters' rooms only while the cluster is down. Nothing acknowledged is lost:
 * on this machine the replica gets each write with its reply (with MIN_REPLICA_ACKS=0 nothing more is
 * promised: `lostOutsideWindow` counts losses that asynchronous replication would not explain).
 */
import { CLUSTER_FAILOVER_SHORT, runClusterFailoverDrill } from './cluster-failover';
import { expectIntegrity } from './support/expect-integrity';

describe('drill: Redis Cluster master killed, replica promoted', () => {
  it('MIN_REPLICA_ACKS=0: the promoted replica serves the rooms, 0 lost, 0 duplicated, senders recover', async () => {
    const result = await runClusterFailoverDrill(CLUSTER_FAILOVER_SHORT);
    const f = result.integrity;
    const [event] = result.events;
    expectIntegrity(f);
    expect(f.members).toBeGreaterThanOrEqual(20);
    expect(f.acknowledged).toBeGreaterThan(100);
    expect(result.events).toHaveLength(1);
    expect(event?.promotedPort).toBeGreaterThan(0);
    expect(event?.recoverMs).toBeDefined();
    expect(event?.allRecoveredMs).toBeDefined();
    expect(event?.replicaBackMs).toBeDefined();
    expect(result.internal).toBe(0);
    expect(result.unavailableThenAcked).toBe(result.unavailableMessages);
    expect(result.gaveUp).toBe(0);
    expect(result.lostOutsideWindow).toBe(0);
    expect(result.seqCountersBehind).toBe(0);
  }, 150_000);
});
