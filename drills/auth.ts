/**
 * Drill 7: auth attacks, over real sockets against the local stack serving template.yaml.
 *
 * Handshake attacks (SPEC §3): each forged or broken token must fail the handshake with 401, a valid
 * token for another room (or no room) with 403, and no socket may open. Two verifier modes run:
 *   - `hs256`: the stack verifies HS256 tokens with its secret (JWT_SECRET), as `npm run dev` does;
 *   - `jwks`:  the stack verifies RS256 tokens against a JWKS served on 127.0.0.1 (JWKS_URL), as with
 *              Cognito or Auth0; here the HS/RS confusion attack (an HS256 token whose HMAC key is the
 *              server's public key) must fail too.
 * In-connection attacks (SPEC §4, hs256 mode): a spoofed `from`/`userId`/`role` in a body (the message is
 * delivered under the sender's real identity), a send to another room and a student's `endClass`
 * (`forbidden`, nothing delivered or stored elsewhere), a flood past the rate limit (`rate_limited` for the
 * excess, only accepted messages delivered, the socket stays open and works again after a pause).
 *
 * Long form: `npm run drill:auth` (the same drill: it is short).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';
import { HandshakeRefused, TestClient } from '../integration/support/client';
import { parseArgs, runMain } from './support/args';
import { RedisNode, waitFor } from './support/redis-node';
import { report } from './support/report';
import { type DrillStack, startDrillStack } from './support/stack';

export type AuthMode = 'hs256' | 'jwks';

export interface AttackOutcome {
  name: string;
  expected: number;
  /** The handshake's HTTP status (101 when the socket opened). */
  got: number;
}

export interface AuthDrillResult {
  mode: AuthMode;
  handshakes: AttackOutcome[];
  /** Handshake attacks not answered as SPEC §3 says (0). */
  wronglyAnswered: number;
  /** The control: a valid token opens the socket. */
  validOpens: boolean;
  /** In-connection attacks (hs256 mode only). */
  session?: SessionFigures;
  line: string;
}

export interface SessionFigures {
  /** The spoofed body arrived with the sender's own identity. */
  spoofIgnored: boolean;
  spoofFrom: unknown;
  otherRoomAnswer: string;
  otherRoomDelivered: number;
  studentEndClassAnswer: string;
  studentEndClassSpoofAnswer: string;
  teacherStillConnected: boolean;
  floodSent: number;
  floodAcked: number;
  floodRateLimited: number;
  floodOther: string[];
  floodDelivered: number;
  floodSocketOpen: boolean;
  afterPauseAcked: boolean;
}

const ROOM = 'auth-room';
const OTHER_ROOM = 'auth-other';
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function handshake(url: string): Promise<number> {
  try {
    const client = await TestClient.connect(url, 'attacker');
    await client.close();
    return 101;
  } catch (error) {
    if (error instanceof HandshakeRefused) return error.status;
    throw error;
  }
}

/** A JWKS endpoint on 127.0.0.1 serving one public key. */
async function serveJwks(jwk: JWK): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/.well-known/jwks.json`, server };
}

/** Signs claims as the stack's own issuer would (HS256 with its secret, or RS256 with the JWKS key). */
type Signer = (claims: Record<string, unknown>) => Promise<string>;

function tamper(token: string, claims: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64(claims)}.${signature}`;
}

/** The handshake attacks of both modes, with the status SPEC §3 gives each. */
async function handshakeAttacks(sign: Signer, mode: AuthMode, publicPem?: string) {
  const valid = { sub: 'mallory', name: 'Mallory', role: 'student', rooms: [ROOM] };
  const exp = now() + 600;
  const attacker = await generateKeyPair('RS256');
  const wrongSecret = new TextEncoder().encode('not-the-secret-not-the-secret-123');
  const list: [string, number, string | undefined, string | undefined][] = [
    ['no token', 401, undefined, ROOM],
    ['malformed token', 401, 'not.a.jwt', ROOM],
    ['alg none', 401, `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...valid, exp })}.`, ROOM],
    [
      'wrong secret',
      401,
      await new SignJWT({ ...valid })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(exp)
        .sign(wrongSecret),
      ROOM,
    ],
    [
      "RS256 with the attacker's own key",
      401,
      await new SignJWT({ ...valid })
        .setProtectedHeader({ alg: 'RS256', kid: 'drill' })
        .setExpirationTime(exp)
        .sign(attacker.privateKey),
      ROOM,
    ],
    ['expired', 401, await sign({ ...valid, exp: now() - 60 }), ROOM],
    ['not yet valid (nbf in 1 h)', 401, await sign({ ...valid, exp, nbf: now() + 3600 }), ROOM],
    ['no exp', 401, await sign({ ...valid }), ROOM],
    ['missing sub', 401, await sign({ name: 'Mallory', role: 'student', rooms: [ROOM], exp }), ROOM],
    ['rooms not an array', 401, await sign({ ...valid, rooms: ROOM, exp }), ROOM],
    ['role admin', 401, await sign({ ...valid, role: 'admin', exp }), ROOM],
    [
      'tampered payload (role teacher, another room)',
      401,
      tamper(await sign({ ...valid, exp }), { ...valid, role: 'teacher', rooms: [ROOM, OTHER_ROOM], exp }),
      OTHER_ROOM,
    ],
    ['oversized token (9 KB)', 401, await sign({ ...valid, exp, pad: 'p'.repeat(9000) }), ROOM],
    ['valid token, room not in its rooms', 403, await sign({ ...valid, exp }), OTHER_ROOM],
    ['valid token, no classRoomId', 403, await sign({ ...valid, exp }), undefined],
  ];
  if (mode === 'jwks' && publicPem) {
    // HS/RS confusion: HMAC keyed with the server's public key, the classic attack on verifiers that take
    // the algorithm from the token.
    for (const [label, key] of [
      ['PEM', publicPem],
      ['PEM without headers', publicPem.replace(/-----[^-]+-----|\s/g, '')],
    ] as const) {
      list.push([
        `HS256 keyed with the server's public key (${label})`,
        401,
        await new SignJWT({ ...valid })
          .setProtectedHeader({ alg: 'HS256', kid: 'drill' })
          .setExpirationTime(exp)
          .sign(new TextEncoder().encode(key)),
        ROOM,
      ]);
    }
  }
  return list;
}

async function sessionAttacks(stack: DrillStack): Promise<SessionFigures> {
  const teacher = await TestClient.connect(
    await stack.memberUrl({ userId: 'teacher', name: 'Tess', role: 'teacher' }, ROOM),
    'teacher',
  );
  const student = await TestClient.connect(
    await stack.memberUrl({ userId: 'student', name: 'Sam', role: 'student' }, ROOM),
    'student',
  );
  const outsider = await TestClient.connect(
    await stack.memberUrl({ userId: 'outsider', name: 'Olga', role: 'student' }, OTHER_ROOM),
    'outsider',
  );
  try {
    // A spoofed identity in the body: delivered, but under the sender's real identity.
    const spoof = await student.request(
      {
        action: 'sendMessage',
        kind: 'chat',
        data: 'I am the teacher',
        clientMsgId: 'spoof',
        from: { userId: 'teacher', name: 'Tess', role: 'teacher' },
        userId: 'teacher',
        role: 'teacher',
        name: 'Tess',
      },
      'ack',
    );
    const spoofed = await teacher.nextOfType('message', { seq: spoof.seq as number });
    const spoofFrom = spoofed.from as Record<string, unknown>;
    const spoofIgnored =
      spoofFrom.userId === 'student' && spoofFrom.role === 'student' && spoofFrom.name === 'Sam';

    // Another room's id in the body: forbidden, the other room gets nothing.
    const other = await student.request(
      { action: 'sendMessage', kind: 'chat', data: 'hi there', classRoomId: OTHER_ROOM, clientMsgId: 'x' },
      'error',
    );
    // A student's endClass, plain and with a spoofed role.
    const end = await student.request({ action: 'endClass' }, 'error');
    const endSpoof = await student.request(
      { action: 'endClass', role: 'teacher', userId: 'teacher', from: { role: 'teacher' } },
      'error',
    );

    // A flood: 200 messages at once, past the burst of 40. The spoofed message above took a token: let
    // the bucket refill (20/s, so 50 ms a token) so that the flood starts with the whole burst.
    await sleep(250);
    const floodSent = 200;
    const before = teacher.framesWhere((f) => f.type === 'message').length;
    for (let i = 0; i < floodSent; i++) {
      student.send({ action: 'sendMessage', kind: 'chat', data: { i }, clientMsgId: `flood-${i}` });
    }
    const answers = () =>
      student.framesWhere(
        (f) =>
          (f.type === 'ack' || f.type === 'error') &&
          typeof f.clientMsgId === 'string' &&
          f.clientMsgId.startsWith('flood-'),
      );
    await waitFor(() => answers().length >= floodSent, 'an answer to every flood frame', 30_000, 20);
    const floodAcked = answers().filter((f) => f.type === 'ack').length;
    const floodRateLimited = answers().filter((f) => f.type === 'error' && f.code === 'rate_limited').length;
    const floodOther = answers()
      .filter((f) => f.type === 'error' && f.code !== 'rate_limited')
      .map((f) => String(f.code));
    await waitFor(
      () => teacher.framesWhere((f) => f.type === 'message').length - before >= floodAcked,
      'the accepted flood messages at the teacher',
      10_000,
    ).catch(() => undefined);
    // Let late frames arrive: more than the accepted ones would be a leak past the limiter.
    await sleep(300);
    const floodDelivered = teacher.framesWhere((f) => f.type === 'message').length - before;
    const floodSocketOpen = student.isOpen;

    // The bucket refills: after a pause the student can send again.
    await sleep(1000);
    const again = await student.request(
      { action: 'sendMessage', kind: 'chat', data: 'after the pause', clientMsgId: 'after-pause' },
      'ack',
      { clientMsgId: 'after-pause' },
    );

    return {
      spoofIgnored,
      spoofFrom,
      otherRoomAnswer: String(other.code),
      otherRoomDelivered: outsider.framesWhere((f) => f.type === 'message').length,
      studentEndClassAnswer: String(end.code),
      studentEndClassSpoofAnswer: String(endSpoof.code),
      teacherStillConnected:
        teacher.isOpen && teacher.framesWhere((f) => f.type === 'classEnded').length === 0,
      floodSent,
      floodAcked,
      floodRateLimited,
      floodOther,
      floodDelivered,
      floodSocketOpen,
      afterPauseAcked: typeof again.seq === 'number',
    };
  } finally {
    await Promise.all([teacher.close(), student.close(), outsider.close()]);
  }
}

export async function runAuthDrill(mode: AuthMode): Promise<AuthDrillResult> {
  const node = await RedisNode.start();
  let stack: DrillStack | undefined;
  let jwks: Server | undefined;
  try {
    let sign: Signer;
    let publicPem: string | undefined;
    if (mode === 'jwks') {
      const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: 'drill', alg: 'RS256', use: 'sig' };
      publicPem = await exportSPKI(publicKey);
      const served = await serveJwks(jwk);
      jwks = served.server;
      stack = await startDrillStack({
        redisUrl: node.url,
        env: { JWKS_URL: served.url, JWT_SECRET: '' },
      });
      sign = (claims) =>
        new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'drill' }).sign(privateKey);
    } else {
      stack = await startDrillStack({ redisUrl: node.url });
      const key = new TextEncoder().encode(stack.secret);
      sign = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key);
    }
    const s = stack;
    const url = (token: string | undefined, room: string | undefined) => {
      const query = new URLSearchParams();
      if (room !== undefined) query.set('classRoomId', room);
      if (token !== undefined) query.set('token', token);
      return `${s.url}?${query}`;
    };

    const handshakes: AttackOutcome[] = [];
    for (const [name, expected, token, room] of await handshakeAttacks(sign, mode, publicPem)) {
      handshakes.push({ name, expected, got: await handshake(url(token, room)) });
    }
    const validToken = await sign({
      sub: 'alice',
      name: 'Alice',
      role: 'student',
      rooms: [ROOM],
      exp: now() + 600,
    });
    const validOpens = (await handshake(url(validToken, ROOM))) === 101;
    const session = mode === 'hs256' ? await sessionAttacks(s) : undefined;
    const wronglyAnswered = handshakes.filter((h) => h.got !== h.expected).length;
    const line = report(`auth-${mode}`, {
      handshake_attacks: handshakes.length,
      refused_401: handshakes.filter((h) => h.got === 401).length,
      refused_403: handshakes.filter((h) => h.got === 403).length,
      wrongly_answered: wronglyAnswered,
      sockets_opened_by_attacks: handshakes.filter((h) => h.got === 101).length,
      valid_control_opens: validOpens,
      spoof_ignored: session?.spoofIgnored,
      other_room: session?.otherRoomAnswer,
      other_room_delivered: session?.otherRoomDelivered,
      student_end_class: session?.studentEndClassAnswer,
      student_end_class_spoofed_role: session?.studentEndClassSpoofAnswer,
      flood_sent: session?.floodSent,
      flood_acked: session?.floodAcked,
      flood_rate_limited: session?.floodRateLimited,
      flood_delivered: session?.floodDelivered,
      flood_socket_open: session?.floodSocketOpen,
      after_pause_acked: session?.afterPauseAcked,
      server_errors: s.counts.errors + s.counts.timeouts,
    });
    for (const h of handshakes.filter((x) => x.got !== x.expected)) {
      process.stdout.write(`[drill auth-${mode}] ${h.name}: HTTP ${h.got}, expected ${h.expected}\n`);
    }
    return { mode, handshakes, wronglyAnswered, validOpens, session, line };
  } finally {
    await stack?.stop();
    await new Promise((resolve) => (jwks ? jwks.close(resolve) : resolve(undefined)));
    await node.stop();
  }
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const mode = (args.get('mode') ?? 'hs256') as AuthMode;
    if (mode !== 'hs256' && mode !== 'jwks') throw new Error('--mode must be hs256 or jwks');
    const result = await runAuthDrill(mode);
    return result.wronglyAnswered === 0 && result.validOpens;
  });
}
