/** Drill 6 (short form): 10,000+ broken frames through real sockets; each refused as SPEC §4 says. */
import { FUZZ_SHORT, runFuzzDrill } from './fuzz';

describe('drill: bad input fuzz', () => {
  it('answers every broken frame with its error or close code, and nothing else happens', async () => {
    const result = await runFuzzDrill(FUZZ_SHORT);
    expect(result.failure).toBeUndefined();
    expect(result.framesTried).toBeGreaterThanOrEqual(10_000);
    expect(result.serverErrors).toBe(0);
    expect(result.observerFrames).toBe(0);
    expect(result.stateUnchanged).toBe(true);
    expect(result.healthyAfter).toBe(true);
  }, 120_000);
});
