/**
 * Resharding under traffic (short form): the slots of the busiest rooms move between the masters of a
 * local Redis Cluster, four rounds of two, while 21 members send; every redirect is followed and nothing
 * acknowledged is lost or duplicated (MIN_REPLICA_ACKS=0, the local default).
 */
import { CLUSTER_RESHARD_SHORT, runClusterReshardDrill } from './cluster-reshard';
import { expectIntegrity } from './support/expect-integrity';

describe('drill: Redis Cluster resharding under traffic', () => {
  it('moves busy rooms’ slots between masters: every redirect followed, 0 lost, 0 duplicated, cursors converge', async () => {
    const result = await runClusterReshardDrill(CLUSTER_RESHARD_SHORT);
    const f = result.integrity;
    expectIntegrity(f);
    expect(f.members).toBeGreaterThanOrEqual(20);
    expect(f.acknowledged).toBeGreaterThan(100);
    expect(result.slotsMoved).toBe(CLUSTER_RESHARD_SHORT.rounds * CLUSTER_RESHARD_SHORT.moves);
    expect(result.slotsMisplaced).toBe(0);
    // Redirects did happen, and every one was followed: no request failed for it, and what was answered
    // `unavailable` meanwhile (a TRYAGAIN outlasting the command timeout) was acknowledged once resent.
    expect(result.nodeRedirects.MOVED + result.nodeRedirects.ASK).toBeGreaterThan(0);
    expect(result.nodeRedirects.CROSSSLOT).toBe(0);
    expect(result.internal).toBe(0);
    expect(result.unavailableThenAcked).toBe(result.unavailableMessages);
    expect(result.gaveUp).toBe(0);
    expect(result.seqCountersBehind).toBe(0);
  }, 150_000);
});
