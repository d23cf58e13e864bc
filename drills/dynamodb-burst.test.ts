/** DynamoDB drill 1 (short form): every member of a room of 50 sends at the same instant, several rounds. */
import { BURST_SHORT, runBurstDrill } from './dynamodb';
import { expectIntegrity } from './support/expect-integrity';

describe('drill: DynamoDB, 50 members sending to one room at once', () => {
  it('gives every message its own seq, 1..sent with no gap, stored and delivered to everyone', async () => {
    const r = await runBurstDrill(BURST_SHORT);
    const f = r.figures;
    const sent = BURST_SHORT.members * BURST_SHORT.rounds;
    expect(f.sent).toBe(sent);
    expect(f.gaveUp).toBe(0);
    expect(f.acknowledged).toBe(sent);
    // Every ack its own seq, and together exactly 1..sent: no gap, none twice.
    expect(r.distinctSeqs).toBe(sent);
    expect(r.ackedSeqs).toEqual(Array.from({ length: sent }, (_, i) => i + 1));
    expect(f.duplicated).toBe(0);
    expect(f.storedUnacked).toBe(0);
    // Every member holds every message (live, or through resume).
    expect(f.lost).toBe(0);
    expect(f.delivered + f.recovered + f.own).toBe(f.expected);
    // The store: its counter at sent, every message in the table (the newest perhaps in the state item only).
    expect(r.table.seq).toBe(sent);
    expect(r.table.holes).toEqual([]);
    // Read back through `resume`: nothing acknowledged missing from the store or a member, no seq given twice,
    // every member's cursor at the room's last seq with the store's history.
    expectIntegrity(r.integrity);
    expect(r.integrity.lostFromStore).toBe(0);
    // Refused attempts (resent) are `unavailable` only; no handler failed or timed out.
    expect(Object.keys(f.failures).filter((k) => k !== 'unavailable')).toEqual([]);
    expect(r.gatewayErrors).toBe(0);
  }, 240_000);
});
