import { generateKeyPair, SignJWT } from 'jose';
import {
  canJoin,
  createVerifier,
  type Identity,
  identityFromClaims,
  MAX_TOKEN_LENGTH,
  TokenError,
  verifyToken,
} from '../../layers/shared/src/auth';

const SECRET = 'unit-test-secret-of-a-reasonable-length!';
const key = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

const claims = { name: 'Ann', role: 'teacher', rooms: ['room-1', 'room-2'] };

/** An HS256 token; `edit` adjusts the builder (expiry, issuer...) before signing. */
async function hs256(
  payload: Record<string, unknown> = claims,
  edit: (jwt: SignJWT) => SignJWT = (jwt) => jwt.setSubject('user-1').setExpirationTime('10m'),
  secret: Uint8Array = key,
): Promise<string> {
  return edit(new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).setIssuedAt()).sign(secret);
}

async function rejection(promise: Promise<unknown>): Promise<TokenError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TokenError);
    return error as TokenError;
  }
  throw new Error('expected a TokenError');
}

describe('Function: verifyToken', () => {
  const verify = createVerifier({ secret: SECRET }, SECRET);

  it('returns the identity of a valid HS256 token', async () => {
    // Prepare
    const token = await hs256();

    // Act
    const identity = await verifyToken(verify, token);

    // Assess
    expect(identity).toEqual({ userId: 'user-1', name: 'Ann', role: 'teacher', rooms: ['room-1', 'room-2'] });
  });

  it('defaults name to sub and role to student', async () => {
    // Prepare
    const token = await hs256({ rooms: [] });

    // Act
    const identity = await verifyToken(verify, token);

    // Assess
    expect(identity).toEqual({ userId: 'user-1', name: 'user-1', role: 'student', rooms: [] });
  });

  it.each([[undefined], ['']])('rejects a missing token (%p)', async (token) => {
    // Prepare & Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toBe('Missing token');
  });

  it('rejects an expired token', async () => {
    // Prepare
    const token = await hs256(claims, (jwt) => jwt.setSubject('user-1').setExpirationTime(now() - 60));

    // Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toBe('Token rejected (ERR_JWT_EXPIRED)');
  });

  it('rejects a token that is not valid yet (nbf in the future)', async () => {
    // Prepare
    const token = await hs256(claims, (jwt) =>
      jwt
        .setSubject('user-1')
        .setExpirationTime('10m')
        .setNotBefore(now() + 600),
    );

    // Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toBe('Token rejected (ERR_JWT_CLAIM_VALIDATION_FAILED)');
  });

  it('rejects a token signed with another secret', async () => {
    // Prepare
    const token = await hs256(claims, undefined, new TextEncoder().encode('another-secret-entirely'));

    // Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toBe('Token rejected (ERR_JWS_SIGNATURE_VERIFICATION_FAILED)');
  });

  it('rejects an unsecured token (alg none)', async () => {
    // Prepare
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...claims, sub: 'user-1', exp: now() + 600 })}.`;

    // Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toMatch(/^Token rejected \(ERR_/);
  });

  it('rejects an RS256 token presented to the HS256 verifier', async () => {
    // Prepare
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject('user-1')
      .setExpirationTime('10m')
      .sign(privateKey);

    // Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toBe('Token rejected (ERR_JOSE_ALG_NOT_ALLOWED)');
  });

  it('rejects a token whose payload was tampered with', async () => {
    // Prepare
    const [header, , signature] = (await hs256()).split('.');
    const payload = b64url({
      ...claims,
      rooms: ['room-1', 'room-2', 'room-9'],
      sub: 'user-1',
      exp: now() + 600,
    });
    const token = `${header}.${payload}.${signature}`;

    // Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toBe('Token rejected (ERR_JWS_SIGNATURE_VERIFICATION_FAILED)');
  });

  it.each([
    ['not a JWT', 'not-a-jwt'],
    ['two segments', 'a.b'],
    ['garbage segments', 'a.b.c'],
  ])('rejects a malformed token (%s)', async (_case, token) => {
    // Prepare & Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toMatch(/^Token rejected \(ERR_/);
  });

  it('rejects a token without sub', async () => {
    // Prepare
    const token = await hs256(claims, (jwt) => jwt.setExpirationTime('10m'));

    // Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toBe('Token rejected (ERR_JWT_CLAIM_VALIDATION_FAILED)');
  });

  it('rejects a token without exp', async () => {
    // Prepare
    const token = await hs256(claims, (jwt) => jwt.setSubject('user-1'));

    // Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toBe('Token rejected (ERR_JWT_CLAIM_VALIDATION_FAILED)');
  });

  it.each([
    ['rooms is a string', { ...claims, rooms: 'room-1' }, 'Token rooms must be an array of room ids'],
    ['rooms is missing', { name: 'Ann' }, 'Token rooms must be an array of room ids'],
    ['rooms holds a number', { ...claims, rooms: ['room-1', 2] }, 'Token rooms must be an array of room ids'],
    ['role is invalid', { ...claims, role: 'admin' }, 'Token role must be teacher or student'],
    ['role is system', { ...claims, role: 'system' }, 'Token role must be teacher or student'],
    ['name is empty', { ...claims, name: '' }, 'Token name is invalid'],
  ])('rejects a signed token whose %s', async (_case, payload, message) => {
    // Prepare
    const token = await hs256(payload);

    // Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toBe(message);
  });

  it('rejects a token over 8192 characters without verifying it', async () => {
    // Prepare
    const token = await hs256({ ...claims, pad: 'x'.repeat(MAX_TOKEN_LENGTH) });
    const spy = jest.fn(verify);

    // Act
    const error = await rejection(verifyToken(spy, token));

    // Assess
    expect(token.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    expect(error.message).toBe('Token too long');
    expect(spy).not.toHaveBeenCalled();
  });

  it('turns a non-jose failure of the verifier into a TokenError', async () => {
    // Prepare
    const failing = async () => {
      throw new Error('boom');
    };

    // Act
    const error = await rejection(verifyToken(failing, 'a.b.c'));

    // Assess
    expect(error.message).toBe('Token rejected (ERR_UNKNOWN)');
    expect((error.cause as Error).message).toBe('boom');
  });
});

describe('Function: createVerifier', () => {
  it('throws a TokenError when there is neither a JWKS URL nor a secret', () => {
    // Prepare
    const settings = { secretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:jwt' };

    // Act & Assess
    expect(() => createVerifier(settings)).toThrow(TokenError);
  });

  it('checks issuer and audience when they are set', async () => {
    // Prepare
    const verify = createVerifier(
      { secret: SECRET, issuer: 'https://issuer', audience: 'classroom' },
      SECRET,
    );
    const sign = (iss?: string, aud?: string) =>
      hs256(claims, (jwt) => {
        const built = jwt.setSubject('user-1').setExpirationTime('10m');
        if (iss) built.setIssuer(iss);
        if (aud) built.setAudience(aud);
        return built;
      });

    // Act
    const good = await verifyToken(verify, await sign('https://issuer', 'classroom'));
    const errors = await Promise.all([
      rejection(verifyToken(verify, await sign(undefined, 'classroom'))),
      rejection(verifyToken(verify, await sign('https://other', 'classroom'))),
      rejection(verifyToken(verify, await sign('https://issuer'))),
      rejection(verifyToken(verify, await sign('https://issuer', 'other'))),
    ]);

    // Assess
    expect(good.userId).toBe('user-1');
    for (const error of errors)
      expect(error.message).toBe('Token rejected (ERR_JWT_CLAIM_VALIDATION_FAILED)');
  });

  it('ignores issuer and audience when they are not set', async () => {
    // Prepare
    const verify = createVerifier({ secret: SECRET }, SECRET);
    const token = await hs256(claims, (jwt) =>
      jwt.setSubject('user-1').setExpirationTime('10m').setIssuer('anyone').setAudience('anything'),
    );

    // Act
    const identity = await verifyToken(verify, token);

    // Assess
    expect(identity.userId).toBe('user-1');
  });

  it('refuses an HS256 token on a JWKS verifier before fetching any key', async () => {
    // Prepare: the URL points nowhere; a fetch would fail with another code
    const verify = createVerifier({ jwksUrl: 'https://127.0.0.1:9/.well-known/jwks.json' }, SECRET);
    const token = await hs256();

    // Act
    const error = await rejection(verifyToken(verify, token));

    // Assess
    expect(error.message).toBe('Token rejected (ERR_JOSE_ALG_NOT_ALLOWED)');
  });
});

describe('Function: identityFromClaims', () => {
  it.each([
    ['sub is missing', { rooms: [] }],
    ['sub is empty', { sub: '', rooms: [] }],
    ['sub is too long', { sub: 'u'.repeat(129), rooms: [] }],
    ['name is too long', { sub: 'u', name: 'n'.repeat(101), rooms: [] }],
    ['a room id is empty', { sub: 'u', rooms: [''] }],
  ])('throws a TokenError when %s', (_case, payload) => {
    // Prepare & Act & Assess
    expect(() => identityFromClaims(payload)).toThrow(TokenError);
  });
});

describe('Function: canJoin', () => {
  const odd = ['}r', 'r{x}', 'a b', 'r/1', 'é', 'x'.repeat(129), 'ok.room:1_-'];
  const identity: Identity = { userId: 'u', name: 'U', role: 'student', rooms: ['room-1', ...odd] };

  it.each([
    ['a listed room', 'room-1', true],
    ['a listed room of every allowed character class', 'ok.room:1_-', true],
    ['a listed room starting with a closing brace (hash tag)', '}r', false],
    ['a listed room with braces', 'r{x}', false],
    ['a listed room with a space', 'a b', false],
    ['a listed room with a slash', 'r/1', false],
    ['a listed room with a non-ASCII letter', 'é', false],
    ['a listed room of 129 characters', 'x'.repeat(129), false],
    ['another room', 'room-2', false],
    ['an empty room id', '', false],
    ['no room id', undefined, false],
    ['a prefix of a listed room', 'room', false],
  ])('answers for %s', (_case, classRoomId, expected) => {
    // Prepare & Act
    const allowed = canJoin(identity, classRoomId);

    // Assess
    expect(allowed).toBe(expected);
  });
});
