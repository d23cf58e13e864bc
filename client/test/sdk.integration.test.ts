/**
 * The Client SDK against the real local stack: the gateway emulator serving template.yaml with the real
 * handlers, and a real redis-server. Connections are cut through the management API (DeleteConnection)
 * or by killing the client's socket; frames are duplicated, reordered and dropped on their way in. A
 * room's history is reset by ending the class or by deleting its counter and log in Redis (an eviction).
 */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { roomKeys } from '@classroom/shared';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { type StoreStack, startStoreStack } from '../../test/support/local-stack';
import { ClassroomClient } from '../src/client';
import { mergeStrokes, type StrokeSegment } from '../src/coalescer';
import { HandshakeRefusedError } from '../src/errors';
import type { ClassroomClientOptions, HistoryResetEvent, MessageSource, RoomMessage } from '../src/types';

/** A `ws` socket whose incoming frames pass through a filter (drop, duplicate, reorder) and that can be killed. */
class TapSocket {
  static created: TapSocket[] = [];
  /** Frames from the server: returns what the client gets now (default: the frame itself). */
  static filter?: (socket: TapSocket, data: string) => string[];
  /** Called after each frame the client sends. */
  static afterSend?: (socket: TapSocket, data: string) => void;

  readonly inner: WebSocket;
  onopen: ((event: object) => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: { message: string }) => void) | null = null;

  constructor(url: string) {
    this.inner = new WebSocket(url);
    this.inner.on('open', () => this.onopen?.({}));
    this.inner.on('message', (data) => {
      const text = data.toString();
      for (const frame of TapSocket.filter ? TapSocket.filter(this, text) : [text]) this.deliver(frame);
    });
    this.inner.on('close', (code, reason) => this.onclose?.({ code, reason: reason.toString() }));
    this.inner.on('error', (error) => this.onerror?.({ message: error.message }));
    TapSocket.created.push(this);
  }

  get readyState(): number {
    return this.inner.readyState;
  }

  deliver(frame: string): void {
    this.onmessage?.({ data: frame });
  }

  send(data: string): void {
    this.inner.send(data);
    TapSocket.afterSend?.(this, data);
  }

  close(code?: number, reason?: string): void {
    this.inner.close(code, reason);
  }
}

interface Received {
  seq?: number;
  text: unknown;
  source: MessageSource;
}

let stack: StoreStack;
let management: ApiGatewayManagementApiClient;
let roomCounter = 0;
const clients: ClassroomClient[] = [];

beforeAll(async () => {
  // The test store: Redis, or the DynamoDB store with TEST_STORE=dynamodb (the client-dynamodb project).
  stack = await startStoreStack({ idleTimeoutMs: 2000 });
  management = new ApiGatewayManagementApiClient({
    endpoint: stack.gateway.managementEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
}, 60_000);

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  TapSocket.filter = undefined;
  TapSocket.afterSend = undefined;
  TapSocket.created = [];
});

afterAll(async () => {
  management?.destroy();
  await stack?.stop();
});

/** A new room per test, so tests never see each other's messages. */
function newRoom(): string {
  roomCounter += 1;
  return `sdk-${Date.now().toString(36)}-${roomCounter}`;
}

async function join(
  room: string,
  user: { userId: string; name?: string; role?: 'teacher' | 'student' },
  options: Partial<ClassroomClientOptions> = {},
) {
  const claims = { userId: user.userId, name: user.name, role: user.role, rooms: [room] };
  const client = new ClassroomClient({
    url: stack.gateway.url,
    classRoomId: room,
    token: await stack.token(claims),
    getToken: () => stack.token(claims),
    WebSocket: TapSocket,
    reconnectBaseMs: 100,
    gapResumeDelayMs: 100,
    pingIntervalMs: 500, // the gateway's idle timeout is 2 s in this suite
    ...options,
  });
  clients.push(client);
  const received: Received[] = [];
  const messages: RoomMessage[] = [];
  const resets: unknown[] = [];
  const historyResets: HistoryResetEvent[] = [];
  client.on('message', (m: RoomMessage, info) => {
    messages.push(m);
    received.push({ seq: m.seq, text: (m.data as { text?: unknown }).text, source: info.source });
  });
  client.on('reset', (event) => resets.push(event));
  client.on('historyReset', (event) => historyResets.push(event));
  const before = new Set(stack.gateway.connectionIds());
  const synced = new Promise<void>((resolve) => client.once('synced', () => resolve()));
  await client.connect();
  await synced;
  const connectionId = stack.gateway.connectionIds().find((id) => !before.has(id));
  return { client, received, messages, resets, historyResets, connectionId: connectionId as string };
}

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const texts = (received: Received[]) => received.map((r) => r.text);
const seqs = (received: Received[]) => received.map((r) => r.seq);

describe('Client SDK against the local stack', () => {
  it('chats both ways; each sees its own message in seq order, and presence', async () => {
    // Prepare
    const room = newRoom();
    const teacher = await join(room, { userId: 't1', name: 'Ann', role: 'teacher' });
    const student = await join(room, { userId: 's1', name: 'Ben', role: 'student' });
    await waitFor('the join to reach the teacher', () => teacher.client.members.length === 2);

    // Act
    const a = await teacher.client.send('chat', { text: 'hello class' });
    await waitFor('the student to get it', () => student.received.length === 1);
    const b = await student.client.send('chat', { text: 'hello teacher' });
    await waitFor('the teacher to get the answer', () => teacher.received.length === 2);

    // Assess
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expect(teacher.received).toEqual([
      { seq: 1, text: 'hello class', source: 'self' },
      { seq: 2, text: 'hello teacher', source: 'live' },
    ]);
    expect(student.received).toEqual([
      { seq: 1, text: 'hello class', source: 'live' },
      { seq: 2, text: 'hello teacher', source: 'self' },
    ]);
    expect(student.client.members.map((m) => m.userId).sort()).toEqual(['s1', 't1']);
  });

  it('reconnects after DeleteConnection and resumes what was sent meanwhile, once each, in order', async () => {
    // Prepare: the student waits about 1.5 s before reconnecting, while the teacher sends
    const room = newRoom();
    const teacher = await join(room, { userId: 't1', role: 'teacher' });
    const student = await join(room, { userId: 's1' }, { reconnectBaseMs: 1500, random: () => 0.99 });
    await teacher.client.send('chat', { text: 'before' });
    await waitFor('the first message', () => student.received.length === 1);
    const states: string[] = [];
    student.client.on('state', (s) => states.push(s.state));

    // Act
    await management.send(new DeleteConnectionCommand({ ConnectionId: student.connectionId }));
    await waitFor('the student to notice', () => student.client.state === 'reconnecting');
    for (let i = 1; i <= 5; i++) await teacher.client.send('chat', { text: `during ${i}` });
    const synced = new Promise((resolve) => student.client.once('synced', resolve));
    await synced;
    await teacher.client.send('chat', { text: 'after' });
    await waitFor('the message after the reconnect', () => student.received.length === 7);

    // Assess
    expect(states).toEqual(['reconnecting', 'open']);
    expect(texts(student.received)).toEqual([
      'before',
      'during 1',
      'during 2',
      'during 3',
      'during 4',
      'during 5',
      'after',
    ]);
    expect(seqs(student.received)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(student.received.slice(1, 6).every((r) => r.source === 'history')).toBe(true);
  });

  it('recovers from a killed socket with nothing lost', async () => {
    // Prepare
    const room = newRoom();
    const teacher = await join(room, { userId: 't1', role: 'teacher' });
    const student = await join(room, { userId: 's1' });
    const studentSocket = TapSocket.created.at(-1) as TapSocket;

    // Act: kill the socket (no close frame) and keep sending
    studentSocket.inner.terminate();
    const sends = Array.from({ length: 10 }, (_, i) => teacher.client.send('chat', { text: `m${i + 1}` }));
    await Promise.all(sends);
    await waitFor('all ten at the student', () => student.received.length === 10);
    await sleep(300);

    // Assess: every message once, in seq order. Ten sends in flight at once run in ten concurrent invocations
    // (as on Lambda), so which of them gets which seq is not the order they were sent in.
    expect(seqs(student.received)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(texts(student.received).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `m${i + 1}`).sort());
  });

  it('drops injected duplicates and delivers reordered and missing frames in seq order', async () => {
    // Prepare: on the student's socket, message frames come in reversed groups of three, each twice, and seq 5 is lost
    const room = newRoom();
    const teacher = await join(room, { userId: 't1', role: 'teacher' });
    const student = await join(room, { userId: 's1' });
    const held: string[] = [];
    let dropped = 0;
    TapSocket.filter = (socket, data) => {
      if (socket !== TapSocket.created[1] || !data.startsWith('{"type":"message"')) return [data];
      if ((JSON.parse(data) as { seq: number }).seq === 5 && dropped++ === 0) return [];
      held.push(data);
      if (held.length < 3) return [];
      const group = held.splice(0).reverse();
      return [...group, ...group];
    };

    // Act
    for (let i = 1; i <= 12; i++) await teacher.client.send('chat', { text: `m${i}` });
    // 11 frames reach the filter: the last group is short. It goes through too, reversed and twice like the
    // others, so that the outcome does not depend on how far the store had got when the student resumed the gap
    // (Redis: usually all 12 messages; DynamoDB: fewer, and the last two would be held back for ever).
    const rest = held.splice(0).reverse();
    for (const frame of [...rest, ...rest]) TapSocket.created[1]?.deliver(frame);
    await waitFor('twelve messages at the student', () => student.received.length === 12);
    await sleep(300);

    // Assess
    expect(seqs(student.received)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(texts(student.received)).toEqual(Array.from({ length: 12 }, (_, i) => `m${i + 1}`));
    expect(student.received.find((r) => r.seq === 5)?.source).toBe('history');
  });

  it('resends a send whose ack was lost with the connection; the server stores it once', async () => {
    // Prepare: the student's first ack never arrives: its socket dies instead
    const room = newRoom();
    const teacher = await join(room, { userId: 't1', role: 'teacher' });
    const student = await join(room, { userId: 's1' });
    const studentSocket = TapSocket.created[1];
    const sent: string[] = [];
    let acksLost = 0;
    TapSocket.afterSend = (socket, data) => {
      if (socket !== TapSocket.created[0] && data.includes('"sendMessage"')) sent.push(data);
    };
    TapSocket.filter = (socket, data) => {
      if (socket !== studentSocket || !data.startsWith('{"type":"ack"')) return [data];
      acksLost += 1;
      socket.inner.terminate();
      return [];
    };

    // Act
    const result = await student.client.send('chat', { text: 'once only' });
    await teacher.client.send('chat', { text: 'next' });
    await waitFor('the next message at the student', () => student.received.length === 2);
    await sleep(300);

    // Assess: the same frame went twice; the second ack carries the first seq; stored and delivered once
    expect(acksLost).toBe(1);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toBe(sent[1]);
    expect(result.seq).toBe(1);
    expect(teacher.received).toEqual([
      { seq: 1, text: 'once only', source: 'live' },
      { seq: 2, text: 'next', source: 'self' },
    ]);
    expect(seqs(student.received)).toEqual([1, 2]);
  });

  it('asks getToken for a fresh token when the first one has expired', async () => {
    // Prepare: a token that expires in 1 s
    const room = newRoom();
    const claims = { userId: 's1', rooms: [room] };
    const getToken = jest.fn(() => stack.token(claims));
    const student = await join(
      room,
      { userId: 's1' },
      { token: await stack.token({ ...claims, ttlSeconds: 1 }), getToken },
    );
    await sleep(2100);
    const states: string[] = [];
    student.client.on('state', (s) => states.push(s.state));

    // Act
    await management.send(new DeleteConnectionCommand({ ConnectionId: student.connectionId }));
    await waitFor('the student to be open again', () => states.includes('open'));

    // Assess
    expect(states).toEqual(['reconnecting', 'open']);
    expect(getToken).toHaveBeenCalledTimes(1);
  });

  it.each([
    [
      'an expired token',
      401,
      async (room: string) => stack.token({ userId: 's1', rooms: [room], ttlSeconds: -10 }),
    ],
    ['a token for another room', 403, async () => stack.token({ userId: 's1', rooms: ['elsewhere'] })],
  ])('stops at once, without retrying, on %s (HTTP %p)', async (_case, status, makeToken) => {
    // Prepare
    const room = newRoom();
    const client = new ClassroomClient({
      url: stack.gateway.url,
      classRoomId: room,
      token: await makeToken(room),
      WebSocket, // ws itself, as a Node application would pass it
    });
    clients.push(client);

    // Act
    const outcome = client.connect();

    // Assess
    await expect(outcome).rejects.toBeInstanceOf(HandshakeRefusedError);
    await expect(outcome).rejects.toMatchObject({ status, attempts: 1 });
    expect(client.state).toBe('closed');
  });

  it('keeps an idle connection open with pings (gateway idle timeout 2 s here)', async () => {
    // Prepare
    const room = newRoom();
    const student = await join(room, { userId: 's1' }, { pingIntervalMs: 700 });
    const states: string[] = [];
    student.client.on('state', (s) => states.push(s.state));

    // Act
    await sleep(4500);

    // Assess
    expect(states).toEqual([]);
    expect(stack.gateway.connectionIds()).toContain(student.connectionId);
  });

  it('coalesces whiteboard points into few messages that arrive complete, also for a late joiner', async () => {
    // Prepare
    const room = newRoom();
    const teacher = await join(room, { userId: 't1', role: 'teacher' });
    const student = await join(room, { userId: 's1' });
    const strokes = teacher.client.coalesce<StrokeSegment>('whiteboard', { merge: mergeStrokes });
    const points = Array.from({ length: 120 }, (_, i): [number, number] => [i / 120, (i % 10) / 10]);
    const stroke = { strokeId: 'a', color: '#000', width: 2 };
    const itemsOf = (messages: RoomMessage[]) =>
      mergeStrokes(messages.flatMap((m) => (m.data as { items: StrokeSegment[] }).items));

    // Act: 119 pointer moves over about 240 ms
    for (let i = 1; i < points.length; i++) {
      strokes.push({ ...stroke, points: [points[i - 1] as [number, number], points[i] as [number, number]] });
      if (i % 10 === 0) await sleep(20);
    }
    await strokes.flush();
    const sent = teacher.client.lastSeq;
    await waitFor('the strokes at the student', () => student.client.lastSeq === sent);
    const late = await join(room, { userId: 's2' });

    // Assess
    expect(sent).toBeGreaterThanOrEqual(2);
    expect(sent).toBeLessThanOrEqual(12);
    expect(itemsOf(student.messages)).toEqual([{ ...stroke, points }]);
    expect(itemsOf(late.messages)).toEqual([{ ...stroke, points }]);
    expect(late.received.every((r) => r.source === 'history')).toBe(true);
  });

  it('ends the class: the student gets classEnded, is closed and does not reconnect', async () => {
    // Prepare
    const room = newRoom();
    const teacher = await join(room, { userId: 't1', role: 'teacher' });
    const student = await join(room, { userId: 's1' });
    const ended = jest.fn();
    student.client.on('classEnded', ended);

    // Act
    await teacher.client.endClass();
    await waitFor('the student to close', () => student.client.state === 'closed');
    await sleep(500);

    // Assess
    expect(ended).toHaveBeenCalledWith(expect.objectContaining({ type: 'classEnded', classRoomId: room }));
    expect(teacher.client.state).toBe('closed');
    expect(stack.gateway.connectionIds()).not.toContain(student.connectionId);
    expect(TapSocket.created).toHaveLength(2);
  });

  it('starts over from seq 1 when the room was reset below its last seq', async () => {
    // Prepare: the client remembers seq 50 of a class whose state is gone
    const room = newRoom();
    const teacher = await join(room, { userId: 't1', role: 'teacher' });
    await teacher.client.send('chat', { text: 'new class' });

    // Act
    const student = await join(room, { userId: 's1' }, { lastSeq: 50 });
    await waitFor('the new class message', () => student.received.length === 1);

    // Assess
    expect(student.resets).toEqual([{ previousSeq: 50, lastSeq: 1 }]);
    expect(student.received).toEqual([{ seq: 1, text: 'new class', source: 'history' }]);
    expect(student.client.lastSeq).toBe(1);
  });

  it('a class ended and begun again: a client back with its old cursor gets historyReset and the new history', async () => {
    // Prepare: the student keeps (epoch, seq) of a class that then ends
    const room = newRoom();
    const teacher = await join(room, { userId: 't1', role: 'teacher' });
    const student = await join(room, { userId: 's1' });
    await teacher.client.send('chat', { text: 'old 1' });
    await teacher.client.send('chat', { text: 'old 2' });
    await waitFor('the old class at the student', () => student.received.length === 2);
    const cursor = { epoch: student.client.epoch, lastSeq: student.client.lastSeq };
    await teacher.client.endClass();
    await waitFor('the student to close', () => student.client.state === 'closed');

    // Act: a new class in the same room; the student comes back (a page reload) with its cursor
    const teacher2 = await join(room, { userId: 't1', role: 'teacher' });
    const sent = await teacher2.client.send('chat', { text: 'new class' });
    const back = await join(room, { userId: 's1' }, cursor);
    await sleep(300);

    // Assess
    expect(typeof cursor.epoch).toBe('number');
    expect(cursor.lastSeq).toBe(2);
    expect(sent.seq).toBe(1);
    expect(back.client.epoch).not.toBe(cursor.epoch);
    expect(back.client.epoch).toBe(teacher2.client.epoch);
    expect(back.historyResets).toEqual([
      { previousEpoch: cursor.epoch, epoch: back.client.epoch, previousSeq: 2 },
    ]);
    expect(back.resets).toEqual([]);
    expect(back.received).toEqual([{ seq: 1, text: 'new class', source: 'history' }]);
    expect(teacher2.historyResets).toEqual([]);
    expect(back.client.lastSeq).toBe(1);
  });

  it("a room's counter and log evicted during the class: the next message is in a new epoch, and every client resets to it", async () => {
    // Prepare
    const room = newRoom();
    const teacher = await join(room, { userId: 't1', role: 'teacher' });
    const student = await join(room, { userId: 's1' });
    for (let i = 1; i <= 3; i++) await teacher.client.send('chat', { text: `old ${i}` });
    await waitFor('the old messages at the student', () => student.received.length === 3);
    const oldEpoch = student.client.epoch;

    // Act: the counter and the log go, as volatile-lru or their TTL would take them; the members stay
    // (DynamoDB: the room's state item passes its expiresAt, which the store treats as gone).
    if (stack.redis) {
      const redis = new Redis(stack.redis.url);
      try {
        await redis.del(roomKeys(room).state, roomKeys(room).log);
      } finally {
        redis.disconnect();
      }
    } else {
      await stack.inspect.expireCounter(room);
    }
    // Listening first: the student's resync can end before a poll sees the new message.
    const synced = new Promise((resolve) => student.client.once('synced', resolve));
    const sent = await teacher.client.send('chat', { text: 'after eviction' });
    await waitFor('the new message at the student', () => student.received.length === 4);
    await synced;
    await sleep(300);

    // Assess
    const newEpoch = teacher.client.epoch;
    expect(typeof oldEpoch).toBe('number');
    expect(newEpoch).not.toBe(oldEpoch);
    expect(student.client.epoch).toBe(newEpoch);
    expect(sent.seq).toBe(1);
    for (const member of [teacher, student]) {
      expect(member.historyResets).toEqual([{ previousEpoch: oldEpoch, epoch: newEpoch, previousSeq: 3 }]);
      expect(member.client.lastSeq).toBe(1);
    }
    expect(teacher.received.slice(3)).toEqual([{ seq: 1, text: 'after eviction', source: 'self' }]);
    expect(student.received.slice(3)).toEqual([{ seq: 1, text: 'after eviction', source: 'live' }]);
  });
});
