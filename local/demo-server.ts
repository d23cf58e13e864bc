/**
 * The demo classroom page for `npm run dev` (local mode only), served through the gateway's
 * `httpHandler`: the built page from web/dist at `/`, and `POST /dev/token`, which mints a local token
 * for whoever asks. That endpoint exists only here, on the loopback dev server; nothing like it is
 * deployed to AWS, where tokens come from the school's own sign-in.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { mintToken } from './tokens';

export interface DemoOptions {
  /** The built page (web/dist). */
  distDir: string;
  /** The local JWT secret the authorizer checks. */
  secret: string;
  /** The WebSocket API's stage (its URL is `ws://HOST/STAGE`). */
  stage: string;
}

/** What `POST /dev/token` answers. */
export interface DevTokenResponse {
  token: string;
  userId: string;
  name: string;
  role: 'teacher' | 'student';
  classRoomId: string;
  /** The WebSocket API URL as seen from the browser. */
  url: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_BODY = 4096;

/** A gateway `httpHandler` serving the demo page and the dev token endpoint. */
export function demoHttpHandler(
  options: DemoOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/dev/token') {
      void devToken(req, res, options).catch(() => {
        if (!res.headersSent) json(res, 500, { message: 'Internal error' });
      });
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    return serveStatic(path, res, options.distDir);
  };
}

function serveStatic(path: string, res: ServerResponse, distDir: string): boolean {
  const relative = path === '/' ? 'index.html' : decodeURIComponent(path.slice(1));
  const file = normalize(join(distDir, relative));
  if (!file.startsWith(normalize(distDir) + sep)) return false;
  if (!existsSync(file) || !statSync(file).isFile()) {
    if (path !== '/') return false;
    const text = 'The demo page is not built: run `npm run build:web` (npm run dev does it first).\n';
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
    return true;
  }
  const body = readFileSync(file);
  res
    .writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': body.length,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    })
    .end(body);
  return true;
}

async function devToken(req: IncomingMessage, res: ServerResponse, options: DemoOptions): Promise<void> {
  if (req.method !== 'POST') {
    req.resume();
    json(res, 405, { message: 'Use POST' });
    return;
  }
  // Only the page itself may ask: JSON (which a cross-site form cannot send) and, when the browser says
  // where the request comes from, the same host.
  const origin = req.headers.origin;
  if (origin && hostOf(origin) !== req.headers.host) {
    req.resume();
    json(res, 403, { message: 'Cross-origin requests are not allowed' });
    return;
  }
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    req.resume();
    json(res, 415, { message: 'Send JSON' });
    return;
  }
  const body = await readBody(req);
  if (body === undefined) {
    json(res, 413, { message: 'Body too large' });
    return;
  }
  let input: Record<string, unknown>;
  try {
    input = JSON.parse(body) as Record<string, unknown>;
  } catch {
    json(res, 400, { message: 'Body is not JSON' });
    return;
  }
  const name = typeof input.name === 'string' ? input.name.trim() : '';
  const role = input.role === 'teacher' ? 'teacher' : input.role === 'student' ? 'student' : undefined;
  const classRoomId = typeof input.classRoomId === 'string' ? input.classRoomId : '';
  const userId =
    input.userId === undefined ? `${slug(name)}-${randomBytes(3).toString('hex')}` : String(input.userId);
  if (!name || name.length > 40 || !role || !ID.test(classRoomId) || !ID.test(userId)) {
    json(res, 400, {
      message:
        'Give name (1-40 chars), role (teacher or student), classRoomId and optionally userId ([A-Za-z0-9_-]{1,64})',
    });
    return;
  }
  const token = await mintToken(options.secret, {
    userId,
    name,
    role,
    rooms: [classRoomId],
    ttlSeconds: 3600,
  });
  const response: DevTokenResponse = {
    token,
    userId,
    name,
    role,
    classRoomId,
    url: `ws://${req.headers.host}/${options.stage}`,
  };
  json(res, 200, response);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res
    .writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    })
    .end(body);
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 24) || 'user'
  );
}
