/** The unplanned failover drill's assertions, shared by its short forms (jest only). */
import type { UnplannedFailoverResult } from '../failover-unplanned';
import { withMachineDelay } from './bounds';

export function expectUnplannedHolds(result: UnplannedFailoverResult): void {
  const f = result.integrity;
  // The examples first: they say which member missed what.
  expect(f.examples).toEqual([]);
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBe(0);
  expect(f.seqConflicts).toBe(0);
  expect(f.cursorsBehind).toBe(0);
  expect(f.historyMismatch).toBe(0);
  expect(f.storeGaps).toBe(0);
  expect(f.unreadRooms).toBe(0);
  expect(result.cutOffMembers).toBe(0);
  expect(result.gaveUp).toBe(0);
  expect(result.acksAfterPromotion).toBeGreaterThan(0);
  // Sends go through within 10 s of the promotion (plus what this machine adds to any request); a
  // promoted node the functions never reach leaves it undefined.
  expect(result.recoverMs).toBeLessThan(withMachineDelay(10_000, result.machineDelayMs));
}
