/** The planned failover drill's assertions, shared by its short forms (jest only). */
import type { FailoverDrillResult } from '../failover';
import { withMachineDelay } from './bounds';

export function expectFailoverHolds(result: FailoverDrillResult): void {
  const f = result.figures;
  expect(f.acknowledged).toBeGreaterThan(100);
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBe(0);
  expect(f.gaveUp).toBe(0);
  expect(result.seqCountersIntact).toBe(true);
  expect(f.delivered + f.recovered + f.own).toBe(f.expected);
  expect(result.failovers).toHaveLength(2);
  // Sends go through again within 5 s of a failover's start (plus what this machine adds to any
  // request); a failover the store never recovers from leaves it undefined.
  expect(result.recoverMs).toBeLessThan(withMachineDelay(5000, result.machineDelayMs));
}
