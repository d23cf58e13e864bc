/** Drill 5 (short form): SendMessage cut off by its timeout mid-broadcast; the gap is seen and recovered. */
import { runTimeoutDrill, TIMEOUT_SHORT } from './timeout';

describe('drill: handler cut off mid-broadcast', () => {
  it('lets the members that missed a message recover it, and the sender resend it once', async () => {
    const result = await runTimeoutDrill(TIMEOUT_SHORT);
    const f = result.figures;
    expect(result.cutOff).toBeGreaterThan(0);
    // The sender of a cut-off message got API Gateway's error, not an ack, and resent it.
    expect(f.failures['gateway: Internal server error']).toBeGreaterThan(0);
    expect(f.recovered).toBeGreaterThan(0);
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBe(0);
    expect(f.gaveUp).toBe(0);
  }, 60_000);
});
