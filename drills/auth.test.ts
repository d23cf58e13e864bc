/** Drill 7, HS256 mode: forged and broken tokens, spoofed identities, other rooms, endClass, a flood. */
import { runAuthDrill } from './auth';

describe('drill: auth attacks (HS256 secret)', () => {
  it('refuses every attack as SPEC §3–§4 say and keeps serving', async () => {
    const r = await runAuthDrill('hs256');
    expect(r.handshakes.filter((h) => h.got !== h.expected)).toEqual([]);
    expect(r.handshakes.length).toBeGreaterThanOrEqual(15);
    expect(r.validOpens).toBe(true);
    const s = r.session;
    if (!s) throw new Error('the session attacks did not run');
    expect(s.spoofFrom).toEqual({ userId: 'student', name: 'Sam', role: 'student' });
    expect(s.otherRoomAnswer).toBe('forbidden');
    expect(s.otherRoomDelivered).toBe(0);
    expect(s.studentEndClassAnswer).toBe('forbidden');
    expect(s.studentEndClassSpoofAnswer).toBe('forbidden');
    expect(s.teacherStillConnected).toBe(true);
    // Burst 40 plus what refills at 20/s while the flood is processed; the rest refused.
    expect(s.floodAcked).toBeGreaterThanOrEqual(40);
    expect(s.floodAcked).toBeLessThan(s.floodSent);
    expect(s.floodOther).toEqual([]);
    expect(s.floodAcked + s.floodRateLimited).toBe(s.floodSent);
    expect(s.floodDelivered).toBe(s.floodAcked);
    expect(s.floodSocketOpen).toBe(true);
    expect(s.afterPauseAcked).toBe(true);
  }, 60_000);
});
