/**
 * Token verification with jose. HS256 against a shared secret, or RS256/ES256 against a JWKS URL.
 * `verifyToken` throws `TokenError` (a 401) for anything wrong with the token itself; whether the user
 * may enter a given room (a 403) is `canJoin`'s question.
 */
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { AuthSettings } from './config';
import { isValidRoomId, Role } from './protocol';

/** Tokens longer than this are refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;
const MAX_ID_LENGTH = 128;
const MAX_NAME_LENGTH = 100;

export class TokenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TokenError';
  }
}

export interface Identity {
  userId: string;
  name: string;
  role: typeof Role.Teacher | typeof Role.Student;
  rooms: string[];
}

export type Verifier = (token: string) => Promise<JWTPayload>;

/** A verifier for the settings; `secret` is the HS256 secret already resolved (from env or Secrets Manager). */
export function createVerifier(settings: AuthSettings, secret?: string): Verifier {
  const options = {
    issuer: settings.issuer,
    audience: settings.audience,
    requiredClaims: ['exp', 'sub'],
    clockTolerance: 5,
  };
  if (settings.jwksUrl) {
    const jwks: JWTVerifyGetKey = createRemoteJWKSet(new URL(settings.jwksUrl), { timeoutDuration: 3000 });
    return async (token) =>
      (await jwtVerify(token, jwks, { ...options, algorithms: ['RS256', 'ES256'] })).payload;
  }
  if (!secret) throw new TokenError('No token secret configured');
  const key = new TextEncoder().encode(secret);
  return async (token) => (await jwtVerify(token, key, { ...options, algorithms: ['HS256'] })).payload;
}

function isShortString(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

/** Checks the claims SPEC §3 names; throws TokenError when one is missing or of the wrong type. */
export function identityFromClaims(claims: JWTPayload): Identity {
  const { sub, name, role, rooms } = claims as JWTPayload & Record<string, unknown>;
  if (!isShortString(sub, MAX_ID_LENGTH)) throw new TokenError('Token has no valid sub');
  if (name !== undefined && !isShortString(name, MAX_NAME_LENGTH))
    throw new TokenError('Token name is invalid');
  if (role !== undefined && role !== Role.Teacher && role !== Role.Student) {
    throw new TokenError('Token role must be teacher or student');
  }
  if (!Array.isArray(rooms) || !rooms.every((r) => isShortString(r, MAX_ID_LENGTH))) {
    throw new TokenError('Token rooms must be an array of room ids');
  }
  return { userId: sub, name: name ?? sub, role: role ?? Role.Student, rooms };
}

/** Verifies signature, algorithm, expiry and claims. Any failure is a TokenError carrying the cause. */
export async function verifyToken(verify: Verifier, token: string | undefined): Promise<Identity> {
  if (!token) throw new TokenError('Missing token');
  if (token.length > MAX_TOKEN_LENGTH) throw new TokenError('Token too long');
  let claims: JWTPayload;
  try {
    claims = await verify(token);
  } catch (error) {
    const reason = error instanceof errors.JOSEError ? error.code : 'ERR_UNKNOWN';
    throw new TokenError(`Token rejected (${reason})`, { cause: error });
  }
  return identityFromClaims(claims);
}

export function canJoin(identity: Identity, classRoomId: string | undefined): classRoomId is string {
  return isValidRoomId(classRoomId) && identity.rooms.includes(classRoomId);
}
