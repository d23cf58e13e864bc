/** Drill 7, JWKS mode (RS256, as with Cognito or Auth0): the same attacks plus HS/RS key confusion. */
import { runAuthDrill } from './auth';

describe('drill: auth attacks (JWKS, RS256)', () => {
  it('refuses every forged token, including HS256 keyed with the public key', async () => {
    const r = await runAuthDrill('jwks');
    expect(r.handshakes.filter((h) => h.got !== h.expected)).toEqual([]);
    expect(r.handshakes.some((h) => h.name.startsWith('HS256 keyed'))).toBe(true);
    expect(r.validOpens).toBe(true);
  }, 60_000);
});
