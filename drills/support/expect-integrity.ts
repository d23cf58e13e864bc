/** The integrity assertions every Redis drill makes on its members' view (jest only). */
import type { IntegrityFigures } from './integrity';

/**
 * Nothing acknowledged lost (unless keys were evicted: `evicted`, where the store's history is the
 * reference), nothing duplicated, no seq given twice, every cursor caught up, every member's history the
 * store's, no gap in the stored seqs, every room read back.
 */
export function expectIntegrity(f: IntegrityFigures, { evicted = false } = {}): void {
  if (!evicted) {
    // The examples first: they say which member missed what.
    expect(f.examples).toEqual([]);
    expect(f.lost).toBe(0);
  }
  expect(f.duplicated).toBe(0);
  expect(f.seqConflicts).toBe(0);
  expect(f.cursorsBehind).toBe(0);
  expect(f.historyMismatch).toBe(0);
  expect(f.storeGaps).toBe(0);
  expect(f.unreadRooms).toBe(0);
}
