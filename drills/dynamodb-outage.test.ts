/** DynamoDB drill 3 (short form): the store's endpoint refuses connections, then hangs; the service recovers. */
import { LAMBDA_TIMEOUT_MS, OUTAGE_SHORT, runOutageDrill } from './dynamodb';
import { expectIntegrity } from './support/expect-integrity';

describe('drill: DynamoDB unavailable', () => {
  it('fails sends fast with `unavailable`, refuses handshakes, leaves nothing partial and recovers', async () => {
    const r = await runOutageDrill(OUTAGE_SHORT);
    const f = r.figures;
    expect(f.gaveUp).toBe(0);
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBe(0);
    for (const phase of r.phases) {
      // Sends during the outage were answered, each with `unavailable`, within the store's client bound
      // (attempts × timeouts, plus this machine's delay), well inside the Lambda timeout.
      expect(phase.failures.unavailable).toBeGreaterThan(0);
      expect(Object.keys(phase.failures).filter((k) => k !== 'unavailable')).toEqual([]);
      expect(phase.errorMaxMs).toBeLessThan(phase.boundMs);
      expect(phase.boundMs).toBeLessThan(LAMBDA_TIMEOUT_MS);
      // A handshake during the outage is refused with 500, before the Lambda timeout.
      expect(phase.handshakeStatus).toBe('500');
      expect(phase.handshakeMs).toBeLessThan(phase.boundMs);
      // Back without a restart: a send begun after the endpoint returned is acknowledged.
      expect(phase.recoverMs).toBeDefined();
      expect(phase.recoverMs).toBeLessThan(phase.boundMs);
    }
    expect(r.gatewayTimeouts).toBe(0);
    expect(r.gatewayErrors).toBe(0);
    // Nothing partial: no gap, nothing acknowledged missing, no member item without its member.
    // Every member's cursor reached the room's last seq: no seq was taken without its message.
    expectIntegrity(r.integrity);
    expect(r.integrity.lostFromStore).toBe(0);
    for (const table of r.tables) expect(table.holes).toEqual([]);
    for (const room of r.members) expect(room.items).toBe(room.open);
  }, 240_000);
});
