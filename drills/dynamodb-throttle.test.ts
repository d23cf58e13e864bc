/** DynamoDB drill 2 (short form): a share of the store's requests answered with DynamoDB's throttling errors. */
import { runThrottleDrill, THROTTLE_SHORT } from './dynamodb';
import { expectIntegrity } from './support/expect-integrity';

describe('drill: DynamoDB throttling', () => {
  it('never acknowledges a message it then loses: refused attempts are `unavailable` and resent', async () => {
    const r = await runThrottleDrill(THROTTLE_SHORT);
    const f = r.figures;
    // The throttling was real: the proxy answered writes (and reads) with DynamoDB's throttling errors.
    expect(r.throttled.writes).toBeGreaterThan(0);
    expect(r.ackedUnderThrottle).toBeGreaterThanOrEqual(THROTTLE_SHORT.acks);
    // Every message was acknowledged in the end (resent after `unavailable`, or retried by the SDK).
    expect(f.gaveUp).toBe(0);
    expect(f.acknowledged).toBe(f.sent);
    expect(r.unavailableThenAcked).toBe(r.unavailableMessages);
    // Every refused attempt was answered `unavailable`: no internal error, no timeout, no handler failure.
    expect(Object.keys(r.failures).filter((k) => k !== 'unavailable')).toEqual([]);
    expect(r.gatewayErrors).toBe(0);
    // Nothing acknowledged is lost, from the store or from a member; no seq twice, no gap.
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBe(0);
    expect(f.storedUnacked).toBe(0);
    expectIntegrity(r.integrity);
    expect(r.integrity.lostFromStore).toBe(0);
    for (const table of r.tables) expect(table).toMatchObject({ holes: [] });
  }, 300_000);
});
