/**
 * e2e comparison server: Socket.IO with @socket.io/redis-adapter (two ioredis clients, pub/sub), doing
 * per message what a typical Socket.IO classroom server does with the same guarantees of order and
 * history: verify the same JWT at the handshake, join the room, and per message one Redis round trip
 * (a script: INCR seq, ZADD to the log, trim, TTLs), then broadcast the same JSON frame to the room
 * through the adapter and ack the sender. It does not rate limit or dedupe (ours does, in the same
 * single round trip). Started by bench/run.ts as a child process.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import Redis from 'ioredis';
import { jwtVerify } from 'jose';
import { Server } from 'socket.io';
import { answerParent, BENCH_JWT_SECRET_ENV, send } from './protocol';

const STORE = `
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, ARGV[1] .. seq .. ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[3]) + 1))
redis.call('EXPIRE', KEYS[1], 86400)
redis.call('EXPIRE', KEYS[2], 86400)
return seq
`;

interface Identity {
  userId: string;
  name: string;
  role: string;
  classRoomId: string;
}

async function main(): Promise<void> {
  const redisUrl = `${process.env.BENCH_REDIS_URL as string}/3`;
  const key = new TextEncoder().encode(process.env[BENCH_JWT_SECRET_ENV] as string);
  const store = new Redis(redisUrl);
  await store.flushdb();
  // EVALSHA after the first call (ioredis custom command), as the handlers do.
  store.defineCommand('storeMessage', { numberOfKeys: 2, lua: STORE });
  const storeMessage = (store as unknown as Record<string, (...args: (string | number)[]) => Promise<number>>)
    .storeMessage as (...args: (string | number)[]) => Promise<number>;
  const pub = new Redis(redisUrl);
  const sub = pub.duplicate();
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], adapter: createAdapter(pub, sub) });

  io.use(async (socket, next) => {
    try {
      const classRoomId = String(socket.handshake.query.classRoomId ?? '');
      const { payload } = await jwtVerify(String(socket.handshake.auth.token ?? ''), key, {
        algorithms: ['HS256'],
      });
      const rooms = Array.isArray(payload.rooms) ? payload.rooms : [];
      if (!classRoomId || !rooms.includes(classRoomId)) return next(new Error('forbidden'));
      socket.data.identity = {
        userId: String(payload.sub),
        name: String(payload.name ?? payload.sub),
        role: String(payload.role ?? 'student'),
        classRoomId,
      } satisfies Identity;
      next();
    } catch {
      next(new Error('unauthorized'));
    }
  });

  io.on('connection', (socket) => {
    const me = socket.data.identity as Identity;
    void socket.join(me.classRoomId);
    const member = { userId: me.userId, name: me.name, role: me.role };
    socket.to(me.classRoomId).emit('presence', JSON.stringify({ type: 'presence', event: 'join', member }));
    socket.on('sendMessage', async (body: { kind?: string; data?: unknown }, ack?: (a: unknown) => void) => {
      try {
        const id = randomUUID();
        const head = `{"type":"message","classRoomId":${JSON.stringify(me.classRoomId)},"seq":`;
        const tail = `,"id":${JSON.stringify(id)},"from":${JSON.stringify(member)},"kind":${JSON.stringify(
          body.kind ?? 'chat',
        )},"data":${JSON.stringify(body.data ?? null)},"sentAt":${Date.now()}}`;
        const room = `room:{${me.classRoomId}}`;
        const seq = Number(await storeMessage.call(store, `${room}:seq`, `${room}:log`, head, tail, 1000));
        socket.to(me.classRoomId).emit('message', `${head}${seq}${tail}`);
        ack?.({ type: 'ack', seq, id });
      } catch {
        ack?.({ type: 'error', code: 'internal' });
      }
    });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  answerParent(() => process.exit(0));
  send({ type: 'ready', url: `http://127.0.0.1:${port}` });
}

main().catch((error: unknown) => {
  console.error('socket.io server failed:', error);
  process.exit(1);
});
