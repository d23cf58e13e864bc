/**
 * The Client SDK against the local stack with replica-confirmed acks (MIN_REPLICA_ACKS=1) on a real
 * primary and replica. While the replica is cut off the server answers `unavailable`: the SDK resends the
 * same frame with the same clientMsgId until a replica confirms it (stored, delivered and acknowledged
 * once), or rejects with an UnavailableError when none ever does (nothing delivered).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Redis from 'ioredis';
import WebSocket from 'ws';
import type { LocalStack } from '../../test/support/local-stack';
import { type RedisProcess, startRedisServer } from '../../test/support/redis-server';
import { ClassroomClient } from '../src/client';
import { UnavailableError } from '../src/errors';
import type { ClassroomClientOptions, RoomMessage } from '../src/types';

if (process.env.TEST_STORE === 'dynamodb') {
  // Required here only: test/support/skip.ts loads local/function-env.ts, which must not be loaded before
  // beforeAll below sets MIN_REPLICA_ACKS (it reads the environment once, when it loads).
  const { skipFile } = require('../../test/support/skip') as typeof import('../../test/support/skip');
  skipFile(
    'replica-confirmed acks (Redis WAIT) are a Redis store feature; DynamoDB acknowledges a write once it is stored in several AZs',
    'dynamodb target',
  );
}

/** Frames each way, as `out:<action>` and `in:<type>[:<code>]`. */
const frames: string[] = [];

/** `ws`, with the frames it carries noted in `frames`. */
class NotingSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    this.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type?: string; code?: string };
      frames.push(`in:${frame.type}${frame.code ? `:${frame.code}` : ''}`);
    });
  }

  override send(data: string): void {
    frames.push(`out:${(JSON.parse(data) as { action?: string }).action}`);
    super.send(data);
  }
}

let primary: RedisProcess;
let replica: RedisProcess;
let primaryAdmin: Redis;
let replicaAdmin: Redis;
let stack: LocalStack;
let roomCounter = 0;
const clients: ClassroomClient[] = [];
const ENV_NAMES = ['REDIS_URL', 'MIN_REPLICA_ACKS', 'REPLICA_ACK_TIMEOUT_MS'] as const;
const savedEnv = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));

/** Waits until the replica is attached and online (`up`), or detached. */
async function replicaLink(up: boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const info = await primaryAdmin.info('replication');
    const online = /slave0:.*state=online/.test(info);
    const attached = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? 0);
    if (up ? online : attached === 0) return;
    await sleep(50);
  }
  throw new Error(`the replica did not ${up ? 'attach' : 'detach'} in 10 s`);
}

/** Cuts the replica off (it stops replicating): WAIT counts no replica. */
async function cutReplica(): Promise<void> {
  await replicaAdmin.call('REPLICAOF', 'NO', 'ONE');
  await replicaLink(false);
}

/** Attaches the replica again; resolves once it confirms writes (its first REPLCONF ACK can take 1 s). */
async function joinReplica(): Promise<void> {
  await replicaAdmin.call('REPLICAOF', '127.0.0.1', String(primary.port));
  await replicaLink(true);
  for (let i = 0; i < 100; i++) {
    await primaryAdmin.set('probe', String(i));
    if (Number(await primaryAdmin.call('WAIT', 1, 100)) >= 1) return;
  }
  throw new Error('the replica never confirmed a write');
}

beforeAll(async () => {
  // No diskless-sync delay: a replica that rejoins resyncs at once.
  primary = await startRedisServer(['--repl-diskless-sync-delay', '0']);
  replica = await startRedisServer(['--replicaof', '127.0.0.1', String(primary.port)]);
  primaryAdmin = new Redis(primary.url);
  replicaAdmin = new Redis(replica.url);
  await replicaLink(true);
  // local/function-env.ts reads these once, when it is loaded: set them before the stack's modules load.
  Object.assign(process.env, {
    REDIS_URL: primary.url,
    MIN_REPLICA_ACKS: '1',
    REPLICA_ACK_TIMEOUT_MS: '250',
  });
  const { startLocalStack } = await import('../../test/support/local-stack');
  stack = await startLocalStack();
}, 60_000);

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  frames.length = 0;
  if (Number(/connected_slaves:(\d+)/.exec(await primaryAdmin.info('replication'))?.[1] ?? 0) === 0) {
    await joinReplica();
  }
});

afterAll(async () => {
  await stack?.stop();
  for (const name of ENV_NAMES) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
  primaryAdmin?.disconnect();
  replicaAdmin?.disconnect();
  await replica?.stop();
  await primary?.stop();
});

async function join(
  room: string,
  userId: string,
  role: 'teacher' | 'student' = 'student',
  options: Partial<ClassroomClientOptions> = {},
) {
  const claims = { userId, role, rooms: [room] };
  const client = new ClassroomClient({
    url: stack.gateway.url,
    classRoomId: room,
    getToken: () => stack.token(claims),
    WebSocket: NotingSocket,
    // Resends for as long as a replica may take to come back here (each attempt waits up to 250 ms).
    unavailableRetries: 40,
    unavailableRetryBaseMs: 100,
    unavailableRetryMaxMs: 200,
    ...options,
  });
  clients.push(client);
  const messages: RoomMessage[] = [];
  client.on('message', (message) => messages.push(message));
  const synced = new Promise<void>((resolve) => client.once('synced', () => resolve()));
  await client.connect();
  await synced;
  return { client, messages };
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

const count = (frame: string) => frames.filter((f) => f === frame).length;

describe('Client SDK with replica-confirmed acks', () => {
  it('resends a message refused as unavailable until a replica confirms it: acked and delivered once', async () => {
    // Prepare
    const room = `sdk-replica-${Date.now().toString(36)}-${++roomCounter}`;
    const teacher = await join(room, 't1', 'teacher');
    const student = await join(room, 's1');
    const before = await teacher.client.send('chat', { text: 'before the cut' });
    await waitFor('the first message at the student', () => student.messages.length === 1);
    await cutReplica();

    // Act: the send is refused while the replica is away, then completes once it is back
    const sending = teacher.client.send('chat', { text: 'during the cut' }, { timeoutMs: 30_000 });
    await waitFor('an unavailable answer', () => count('in:error:unavailable') >= 1);
    const deliveredWhileCut = student.messages.length;
    await joinReplica();
    const result = await sending;
    await waitFor('the message at the student', () => student.messages.length === 2);
    await sleep(500);

    // Assess
    expect(deliveredWhileCut).toBe(1);
    expect(result.seq).toBe((before.seq as number) + 1);
    expect(count('out:sendMessage')).toBe(count('in:error:unavailable') + 2);
    expect(student.messages.map((m) => [m.seq, (m.data as { text: string }).text])).toEqual([
      [1, 'before the cut'],
      [2, 'during the cut'],
    ]);
    expect(student.messages[1]?.id).toBe(result.id);
    expect(teacher.client.pendingSends).toBe(0);
  }, 60_000);

  it('rejects with an UnavailableError when no replica ever confirms, and delivers nothing', async () => {
    // Prepare
    const room = `sdk-replica-${Date.now().toString(36)}-${++roomCounter}`;
    const teacher = await join(room, 't1', 'teacher', { unavailableRetries: 3 });
    const student = await join(room, 's1');
    await cutReplica();

    // Act
    const outcome = teacher.client.send('chat', { text: 'never confirmed' }, { timeoutMs: 30_000 });

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(UnavailableError);
    await expect(outcome).rejects.toMatchObject({ code: 'unavailable', attempts: 4 });
    expect(count('out:sendMessage')).toBe(4);
    await sleep(300);
    expect(student.messages).toEqual([]);
  }, 60_000);
});
