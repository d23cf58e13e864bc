/** Local development tokens: HS256, signed with the local JWT_SECRET (never used on AWS). */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT } from 'jose';

export interface TokenClaims {
  userId: string;
  name?: string;
  role?: 'teacher' | 'student';
  rooms: string[];
  /** Lifetime in seconds (default 8 hours). */
  ttlSeconds?: number;
}

export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function mintToken(secret: string, claims: TokenClaims): Promise<string> {
  return new SignJWT({
    name: claims.name ?? claims.userId,
    role: claims.role ?? 'student',
    rooms: claims.rooms,
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (claims.ttlSeconds ?? 8 * 3600))
    .sign(new TextEncoder().encode(secret));
}

/** Where `npm run dev` keeps the generated local secret, so tokens survive a restart. */
export const LOCAL_SECRET_FILE = join(__dirname, '..', '.local', 'jwt-secret');

/** JWT_SECRET, else the secret `npm run dev` generated, else undefined. */
export function localSecret(): string | undefined {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  return existsSync(LOCAL_SECRET_FILE) ? readFileSync(LOCAL_SECRET_FILE, 'utf8').trim() : undefined;
}
