/** The cluster resharding drill's assertions, shared by its short forms (jest only). */
import { CLUSTER_RESHARD_SHORT, type ClusterReshardResult } from '../cluster-reshard';
import { expectIntegrity } from './expect-integrity';

/** With the short form's rounds and moves. */
export function expectReshardHolds(result: ClusterReshardResult): void {
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
}
