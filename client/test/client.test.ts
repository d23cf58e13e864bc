/** The client's protocol logic over a fake socket: no network, fake timers. */
import { ClassroomClient } from '../src/client';
import {
  ClientClosedError,
  ConnectionLostError,
  FrameTooLargeError,
  HandshakeRefusedError,
  SendTimeoutError,
  ServerError,
} from '../src/errors';
import type { ClassroomClientOptions, RoomMessage, StateChangeEvent } from '../src/types';

class FakeSocket {
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: Array<Record<string, unknown>> = [];
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  closedWith?: { code?: number; reason?: string };

  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }

  // ---- test side
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  drop(code = 1006, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  refuse(message = ''): void {
    this.onerror?.({ message });
    this.drop(1006);
  }

  actions(): unknown[] {
    return this.sent.map((frame) => frame.action);
  }
}

/** base64url JSON, as a JWT's payload. */
function token(sub: string, name = sub, role = 'student'): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256' })}.${part({ sub, name, role, rooms: ['r1'] })}.sig`;
}

function message(seq: number | undefined, text = `m${seq}`): RoomMessage {
  return {
    type: 'message',
    classRoomId: 'r1',
    ...(seq === undefined ? {} : { seq }),
    id: `id${seq}`,
    from: { userId: 'u2', name: 'Ben', role: 'student' },
    kind: 'chat',
    data: { text },
    sentAt: 1,
  };
}

function history(messages: RoomMessage[], lastSeq: number, complete = true) {
  return { type: 'history', classRoomId: 'r1', messages, lastSeq, done: true, complete };
}

function setup(options: Partial<ClassroomClientOptions> = {}) {
  const client = new ClassroomClient({
    url: 'ws://127.0.0.1:3001/local',
    classRoomId: 'r1',
    token: token('u1', 'Ann', 'teacher'),
    WebSocket: FakeSocket,
    random: () => 0.5,
    ...options,
  });
  const received: Array<{ seq?: number; text: unknown; source: string }> = [];
  const states: StateChangeEvent[] = [];
  const errors: Error[] = [];
  client.on('message', (m, info) =>
    received.push({ seq: m.seq, text: (m.data as { text?: unknown }).text, source: info.source }),
  );
  client.on('state', (change) => states.push(change));
  client.on('error', (error) => errors.push(error));
  return { client, received, states, errors };
}

const last = () => FakeSocket.instances[FakeSocket.instances.length - 1] as FakeSocket;

beforeEach(() => {
  FakeSocket.instances = [];
  jest.useFakeTimers();
});
afterEach(() => jest.useRealTimers());

describe('Class: ClassroomClient', () => {
  describe('Method: connect', () => {
    it('opens the socket with room and token, then asks for history and presence', async () => {
      // Prepare
      const { client, states } = setup();

      // Act
      const ready = client.connect();
      last().open();
      await ready;

      // Assess
      expect(last().url).toBe(
        `ws://127.0.0.1:3001/local?classRoomId=r1&token=${token('u1', 'Ann', 'teacher')}`,
      );
      expect(last().sent).toEqual([{ action: 'resume', afterSeq: 0 }, { action: 'presence' }]);
      expect(states.map((s) => s.state)).toEqual(['connecting', 'open']);
      expect(client.user).toEqual({ userId: 'u1', name: 'Ann', role: 'teacher' });
    });

    it('asks getToken for a fresh token before every reconnect', async () => {
      // Prepare
      const getToken = jest
        .fn()
        .mockResolvedValueOnce(token('u1', 'v2'))
        .mockResolvedValueOnce(token('u1', 'v3'));
      const { client } = setup({ getToken });
      const ready = client.connect();
      last().open();
      await ready;

      // Act
      last().drop();
      await jest.advanceTimersByTimeAsync(1000);
      last().drop(); // before open: a failed attempt
      await jest.advanceTimersByTimeAsync(2000);

      // Assess
      expect(getToken).toHaveBeenCalledTimes(2);
      expect(FakeSocket.instances.map((s) => new URL(s.url).searchParams.get('token'))).toEqual([
        token('u1', 'Ann', 'teacher'),
        token('u1', 'v2'),
        token('u1', 'v3'),
      ]);
    });
  });

  describe('Delivery', () => {
    it('delivers in seq order, drops duplicates and resumes to fill a gap', async () => {
      // Prepare
      const { client, received } = setup({ gapResumeDelayMs: 100 });
      void client.connect();
      last().open();
      last().receive(history([message(1)], 1));

      // Act
      last().receive(message(3));
      last().receive(message(1));
      last().receive(message(4));
      await jest.advanceTimersByTimeAsync(100);
      const resumeSent = last().sent.at(-1);
      last().receive(history([message(2), message(3), message(4)], 4));
      last().receive(message(4));

      // Assess
      expect(resumeSent).toEqual({ action: 'resume', afterSeq: 1 });
      expect(received.map((m) => [m.seq, m.source])).toEqual([
        [1, 'history'],
        [2, 'history'],
        [3, 'live'],
        [4, 'live'],
      ]);
      expect(client.lastSeq).toBe(4);
    });

    it('skips what history no longer holds and reports the sync as incomplete', async () => {
      // Prepare
      const { client, received } = setup({ gapResumeDelayMs: 0 });
      const synced = jest.fn();
      client.on('synced', synced);
      void client.connect();
      last().open();

      // Act
      last().receive(history([message(5), message(6)], 6, false));

      // Assess
      expect(received.map((m) => m.seq)).toEqual([5, 6]);
      expect(synced).toHaveBeenCalledWith({ lastSeq: 6, complete: false });
    });

    it('delivers transient messages at once, without sequencing', async () => {
      // Prepare
      const { client, received } = setup();
      void client.connect();
      last().open();

      // Act
      last().receive(message(undefined, 'cursor'));

      // Assess
      expect(received).toEqual([{ seq: undefined, text: 'cursor', source: 'live' }]);
    });

    it('starts over from seq 1 when the room sequence restarted below its own', async () => {
      // Prepare
      const { client, received } = setup({ lastSeq: 40 });
      const reset = jest.fn();
      client.on('reset', reset);
      void client.connect();
      last().open();

      // Act
      last().receive(history([], 2));
      const again = last().sent.at(-1);
      last().receive(history([message(1), message(2)], 2));

      // Assess
      expect(reset).toHaveBeenCalledWith({ previousSeq: 40, lastSeq: 2 });
      expect(again).toEqual({ action: 'resume', afterSeq: 0 });
      expect(received.map((m) => m.seq)).toEqual([1, 2]);
    });
  });

  describe('Method: send', () => {
    it('resolves on the ack and places the own message in the sequence', async () => {
      // Prepare
      const { client, received } = setup();
      void client.connect();
      last().open();
      last().receive(history([], 0));

      // Act
      const sent = client.send('chat', { text: 'mine' });
      const frame = last().sent.at(-1) as { clientMsgId: string };
      last().receive({ type: 'ack', clientMsgId: frame.clientMsgId, seq: 1, id: 'x' });
      const result = await sent;
      last().receive(message(2));

      // Assess
      expect(frame).toMatchObject({ action: 'sendMessage', kind: 'chat', data: { text: 'mine' } });
      expect(result).toEqual({ clientMsgId: frame.clientMsgId, seq: 1, id: 'x' });
      expect(received).toEqual([
        { seq: 1, text: 'mine', source: 'self' },
        { seq: 2, text: 'm2', source: 'live' },
      ]);
    });

    it('rejects on an error frame for its clientMsgId', async () => {
      // Prepare
      const { client } = setup();
      void client.connect();
      last().open();

      // Act
      const sent = client.send('chat', { text: 'x' }, { clientMsgId: 'c1' });
      last().receive({ type: 'error', code: 'rate_limited', message: 'slow', clientMsgId: 'c1' });

      // Assess
      await expect(sent).rejects.toEqual(
        expect.objectContaining({ name: 'ServerError', code: 'rate_limited' }),
      );
      await expect(sent).rejects.toBeInstanceOf(ServerError);
    });

    it('rejects after its timeout', async () => {
      // Prepare
      const { client } = setup();
      void client.connect();
      last().open();

      // Act
      const sent = client.send('chat', {}, { timeoutMs: 1000 });
      const assertion = expect(sent).rejects.toBeInstanceOf(SendTimeoutError);
      await jest.advanceTimersByTimeAsync(1000);

      // Assess
      await assertion;
    });

    it('resends with the same clientMsgId after a reconnect, and resolves once', async () => {
      // Prepare
      const { client } = setup();
      void client.connect();
      last().open();
      const sent = client.send('chat', { text: 'retry me' });
      const first = last().sent.at(-1) as { clientMsgId: string };

      // Act
      last().drop();
      await jest.advanceTimersByTimeAsync(500);
      last().open();
      const resent = last().sent.find((f) => f.action === 'sendMessage');
      last().receive({ type: 'ack', clientMsgId: first.clientMsgId, seq: 3, id: 'x' });
      last().receive({ type: 'ack', clientMsgId: first.clientMsgId, seq: 3, id: 'x' });

      // Assess
      expect(resent).toEqual(first);
      await expect(sent).resolves.toEqual({ clientMsgId: first.clientMsgId, seq: 3, id: 'x' });
      expect(last().actions()).toEqual(['resume', 'presence', 'sendMessage']);
    });

    it('queues a send made while disconnected until the socket opens', async () => {
      // Prepare
      const { client } = setup();

      // Act
      const sent = client.send('chat', { text: 'early' });
      void client.connect();
      last().open();
      const frame = last().sent.at(-1) as { clientMsgId: string };
      last().receive({ type: 'ack', clientMsgId: frame.clientMsgId, seq: 1, id: 'y' });

      // Assess
      await expect(sent).resolves.toMatchObject({ seq: 1 });
    });

    it('does not resend a transient message: it rejects when the socket drops', async () => {
      // Prepare
      const { client } = setup();
      void client.connect();
      last().open();

      // Act
      const sent = client.send('cursor', { x: 1 }, { transient: true });
      last().drop();

      // Assess
      await expect(sent).rejects.toBeInstanceOf(ConnectionLostError);
    });

    it('refuses a frame over 32 KB', async () => {
      // Prepare
      const { client } = setup();

      // Act
      const sent = client.send('chat', { text: 'x'.repeat(40_000) });

      // Assess
      await expect(sent).rejects.toBeInstanceOf(FrameTooLargeError);
    });
  });

  describe('Reconnect', () => {
    it('reconnects with backoff and resumes from the last seq', async () => {
      // Prepare
      const { client, states } = setup({ reconnectBaseMs: 1000 });
      void client.connect();
      last().open();
      last().receive(history([message(1), message(2)], 2));

      // Act
      last().drop(1001, 'Going away');
      const sockets = FakeSocket.instances.length;
      await jest.advanceTimersByTimeAsync(499);
      const early = FakeSocket.instances.length;
      await jest.advanceTimersByTimeAsync(1);
      last().open();

      // Assess
      expect([sockets, early, FakeSocket.instances.length]).toEqual([1, 1, 2]);
      expect(states.at(-2)).toEqual({
        state: 'reconnecting',
        previous: 'open',
        code: 1001,
        reason: 'Going away',
        attempt: 1,
        delayMs: 500,
      });
      expect(last().sent[0]).toEqual({ action: 'resume', afterSeq: 2 });
    });

    it('does not reconnect after classEnded', async () => {
      // Prepare
      const { client, states } = setup();
      const ended = jest.fn();
      client.on('classEnded', ended);
      void client.connect();
      last().open();
      const pending = client.send('chat', {});
      const rejected = expect(pending).rejects.toBeInstanceOf(ClientClosedError);

      // Act
      last().receive({
        type: 'classEnded',
        classRoomId: 'r1',
        by: { userId: 't', name: 'T', role: 'teacher' },
      });
      last().drop(1000);
      await jest.advanceTimersByTimeAsync(60_000);

      // Assess
      expect(ended).toHaveBeenCalled();
      expect(client.state).toBe('closed');
      expect(states.at(-1)?.state).toBe('closed');
      expect(FakeSocket.instances).toHaveLength(1);
      await rejected;
    });

    it('gives up at once on a handshake refused with 401 (visible with ws)', async () => {
      // Prepare
      const { client, errors } = setup();
      const ready = client.connect();

      // Act
      last().refuse('Unexpected server response: 401');

      // Assess
      await expect(ready).rejects.toEqual(
        expect.objectContaining({ name: 'HandshakeRefusedError', status: 401 }),
      );
      expect(errors[0]).toBeInstanceOf(HandshakeRefusedError);
      expect(client.state).toBe('closed');
    });

    it('gives up after maxFailedAttempts failures before open (browser: status unseen)', async () => {
      // Prepare
      const { client } = setup({ maxFailedAttempts: 3 });
      const ready = client.connect();
      const assertion = expect(ready).rejects.toEqual(
        expect.objectContaining({ name: 'HandshakeRefusedError', attempts: 3 }),
      );

      // Act
      for (let i = 0; i < 3; i++) {
        last().refuse();
        await jest.advanceTimersByTimeAsync(30_000);
      }

      // Assess
      await assertion;
      expect(FakeSocket.instances).toHaveLength(3);
    });

    it('retries a failing getToken with backoff without ever giving up on it', async () => {
      // Prepare
      const getToken = jest.fn().mockRejectedValue(new Error('offline'));
      const { client, errors } = setup({ token: undefined, getToken, maxFailedAttempts: 2 });
      void client.connect();

      // Act
      await jest.advanceTimersByTimeAsync(5 * 30_000);

      // Assess
      expect(getToken.mock.calls.length).toBeGreaterThan(3);
      expect(client.state).toBe('reconnecting');
      expect(FakeSocket.instances).toHaveLength(0);
      expect(errors[0]?.message).toBe('offline');
    });

    it('counts failures before open from zero again after a successful open', async () => {
      // Prepare
      const { client } = setup({ maxFailedAttempts: 2 });
      void client.connect();
      last().refuse();
      await jest.advanceTimersByTimeAsync(30_000);
      last().open();

      // Act
      last().drop();
      await jest.advanceTimersByTimeAsync(30_000);
      last().refuse();
      await jest.advanceTimersByTimeAsync(30_000);

      // Assess
      expect(client.state).toBe('reconnecting');
    });
  });

  describe('Keepalive', () => {
    it('pings every interval and reconnects when nothing answers', async () => {
      // Prepare
      const { client } = setup({ pingIntervalMs: 60_000, pongTimeoutMs: 5_000 });
      void client.connect();
      last().open();

      // Act
      await jest.advanceTimersByTimeAsync(60_000);
      const pinged = last().actions().includes('ping');
      last().receive({ type: 'pong' });
      await jest.advanceTimersByTimeAsync(60_000 + 5_000);

      // Assess
      expect(pinged).toBe(true);
      expect(client.state).toBe('reconnecting');
      expect(FakeSocket.instances[0]?.closedWith).toEqual({ code: 4000, reason: 'keepalive timeout' });
    });
  });

  describe('Presence', () => {
    it('keeps the member list from snapshots, joins and leaves', async () => {
      // Prepare
      const { client } = setup();
      const events: string[] = [];
      client.on('presence', (e) => events.push(`${e.event}:${e.members.map((m) => m.userId).join(',')}`));
      void client.connect();
      last().open();

      // Act
      last().receive({
        type: 'presence',
        event: 'snapshot',
        members: [{ userId: 'u1', name: 'Ann', role: 'teacher' }],
      });
      last().receive({
        type: 'presence',
        event: 'join',
        member: { userId: 'u2', name: 'Ben', role: 'student' },
      });
      last().receive({
        type: 'presence',
        event: 'leave',
        member: { userId: 'u1', name: 'Ann', role: 'teacher' },
      });

      // Assess
      expect(events).toEqual(['snapshot:u1', 'join:u1,u2', 'leave:u2']);
      expect(client.members).toEqual([{ userId: 'u2', name: 'Ben', role: 'student' }]);
    });
  });
});
