/** The unplanned failover drill's assertions, shared by its short forms (jest only). */
import type { UnplannedFailoverResult } from '../failover-unplanned';
import { withMachineDelay } from './bounds';
import { expectIntegrity } from './expect-integrity';

export function expectUnplannedHolds(result: UnplannedFailoverResult): void {
  const f = result.integrity;
  expectIntegrity(f);
  expect(result.cutOffMembers).toBe(0);
  expect(result.gaveUp).toBe(0);
  expect(result.acksAfterPromotion).toBeGreaterThan(0);
  // Sends go through within 10 s of the promotion (plus what this machine adds to any request); a
  // promoted node the functions never reach leaves it undefined.
  expect(result.recoverMs).toBeLessThan(withMachineDelay(10_000, result.machineDelayMs));
}
