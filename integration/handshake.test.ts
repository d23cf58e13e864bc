/** SPEC §3: the handshake. 200 with a valid token; 401 for a missing, malformed, badly signed or expired token; 403 for a room the token does not list, a room id outside SPEC §3's characters, or no classRoomId. No socket opens on refusal. */
import { SignJWT } from 'jose';
import { HandshakeRefused, TestClient } from './support/client';
import { describeTarget, itRequires, member, uniqueRoom } from './support/target';

async function refusal(url: string): Promise<number> {
  try {
    const client = await TestClient.connect(url);
    client.terminate();
  } catch (error) {
    if (error instanceof HandshakeRefused) return error.status;
    throw error;
  }
  throw new Error('the handshake succeeded; a refusal was expected');
}

/** A token for `room` that is well formed but signed with a secret the stack does not have. */
function forgedToken(room: string): Promise<string> {
  return new SignJWT({ name: 'Alice', role: 'teacher', rooms: [room] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('alice')
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode('some-other-secret-that-is-long-enough-000'));
}

describeTarget('handshake', {}, (ctx) => {
  const alice = member('alice');

  it('opens the socket for a valid token whose rooms list the classRoomId (101, then usable)', async () => {
    const room = uniqueRoom('hs');
    const client = await TestClient.connect(
      ctx.target.wsUrl({ classRoomId: room, token: await ctx.target.token({ ...alice, rooms: [room] }) }),
    );
    expect(client.isOpen).toBe(true);
    expect(await client.request({ action: 'ping' }, 'pong')).toEqual({ type: 'pong' });
    await client.close();
  });

  it('answers 401 without a token', async () => {
    expect(await refusal(ctx.target.wsUrl({ classRoomId: uniqueRoom('hs') }))).toBe(401);
  });

  it('refuses a malformed, forged or expired token without opening a socket', async () => {
    const room = uniqueRoom('hs');
    const forged = await forgedToken(room);
    const expired = await ctx.target.token({ ...alice, rooms: [room], ttlSeconds: -120 });
    for (const token of ['not-a-jwt', forged, expired]) {
      // Any refusal: the exact status (401) is checked below where the target answers it.
      expect(await refusal(ctx.target.wsUrl({ classRoomId: room, token }))).toBeGreaterThanOrEqual(400);
    }
  });

  itRequires({ behaviour: 'unauthorized-401' }, 'answers 401 for a malformed token', async () => {
    expect(await refusal(ctx.target.wsUrl({ classRoomId: uniqueRoom('hs'), token: 'not-a-jwt' }))).toBe(401);
  });

  itRequires(
    { behaviour: 'unauthorized-401' },
    'answers 401 for a token signed with another secret',
    async () => {
      const room = uniqueRoom('hs');
      const forged = await forgedToken(room);
      expect(await refusal(ctx.target.wsUrl({ classRoomId: room, token: forged }))).toBe(401);
    },
  );

  itRequires({ behaviour: 'unauthorized-401' }, 'answers 401 for an expired token', async () => {
    const room = uniqueRoom('hs');
    const expired = await ctx.target.token({ ...alice, rooms: [room], ttlSeconds: -120 });
    expect(await refusal(ctx.target.wsUrl({ classRoomId: room, token: expired }))).toBe(401);
  });

  it('answers 403 when the token does not list the room', async () => {
    const token = await ctx.target.token({ ...alice, rooms: [uniqueRoom('other')] });
    expect(await refusal(ctx.target.wsUrl({ classRoomId: uniqueRoom('hs'), token }))).toBe(403);
  });

  it('answers 403 without a classRoomId', async () => {
    const token = await ctx.target.token({ ...alice, rooms: [uniqueRoom('hs')] });
    expect(await refusal(ctx.target.wsUrl({ token }))).toBe(403);
  });

  it.each([
    ['starts with a closing brace (it would break the hash tag)', (r: string) => `}${r}`],
    ['holds braces', (r: string) => `${r}{x}`],
    ['holds a space', (r: string) => `${r} b`],
  ])('answers 403 for a room id that %s, even when the token lists it', async (_case, make) => {
    const room = make(uniqueRoom('hs'));
    const token = await ctx.target.token({ ...alice, rooms: [room] });
    expect(await refusal(ctx.target.wsUrl({ classRoomId: room, token }))).toBe(403);
  });
});
