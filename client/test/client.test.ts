/** The client's protocol logic over a fake socket: no network, fake timers. */
import { ClassroomClient } from '../src/client';
import {
  ClientClosedError,
  ConnectionLostError,
  FrameTooLargeError,
  HandshakeRefusedError,
  SendTimeoutError,
  ServerError,
  UnavailableError,
} from '../src/errors';
import type { ClassroomClientOptions, HistoryResetEvent, RoomMessage, StateChangeEvent } from '../src/types';

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

/** Two epochs, as the server makes them (microseconds of Redis TIME). */
const EPOCH_A = 1_714_000_000_000_001;
const EPOCH_B = 1_714_000_500_000_002;

/** A message of `epoch`, as a server with epochs sends it. */
function messageIn(epoch: number, seq: number | undefined, text = `m${seq}`): RoomMessage {
  return { ...message(seq, text), epoch };
}

/** A history frame of `epoch` (`done: false` for a page that more follow). */
function historyIn(epoch: number, seqs: number[], lastSeq: number, done = true) {
  const messages = seqs.map((seq) => messageIn(epoch, seq));
  return { type: 'history', classRoomId: 'r1', epoch, messages, lastSeq, done, complete: true };
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
/** How many resume requests the current socket has sent. */
const resumesSent = () =>
  last()
    .actions()
    .filter((a) => a === 'resume').length;

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

  describe('Epochs', () => {
    it('adopts the first epoch silently and resumes with it after a reconnect', async () => {
      // Prepare
      const { client, received } = setup();
      const resets = jest.fn();
      client.on('historyReset', resets);
      client.on('reset', resets);
      void client.connect();
      last().open();

      // Act
      last().receive(historyIn(EPOCH_A, [1, 2], 2));
      last().drop();
      await jest.advanceTimersByTimeAsync(500);
      last().open();

      // Assess
      expect(resets).not.toHaveBeenCalled();
      expect(received.map((m) => m.seq)).toEqual([1, 2]);
      expect([client.epoch, client.lastSeq]).toEqual([EPOCH_A, 2]);
      expect(last().sent[0]).toEqual({ action: 'resume', afterSeq: 2, epoch: EPOCH_A });
    });

    it('resumes with the epoch and lastSeq it was given (page reload)', async () => {
      // Prepare
      const { client } = setup({ lastSeq: 7, epoch: EPOCH_A });

      // Act
      void client.connect();
      last().open();

      // Assess
      expect(last().sent[0]).toEqual({ action: 'resume', afterSeq: 7, epoch: EPOCH_A });
      expect([client.epoch, client.lastSeq]).toEqual([EPOCH_A, 7]);
    });

    it('resets on a live message from a new epoch: cursor and waiting frames dropped, app told, resume from 0', async () => {
      // Prepare: seq 1 and 2 delivered in epoch A, seq 5 waits behind a gap
      const { client, received } = setup({ gapResumeDelayMs: 1000 });
      const historyResets: HistoryResetEvent[] = [];
      client.on('historyReset', (event) => historyResets.push(event));
      void client.connect();
      last().open();
      last().receive(historyIn(EPOCH_A, [1, 2], 2));
      last().receive(messageIn(EPOCH_A, 5));

      // Act
      last().receive(messageIn(EPOCH_B, 3, 'new class'));
      const resumed = last().sent.at(-1);
      last().receive(historyIn(EPOCH_B, [1, 2, 3], 3));
      last().receive(messageIn(EPOCH_B, 4));

      // Assess
      expect(historyResets).toEqual([{ previousEpoch: EPOCH_A, epoch: EPOCH_B, previousSeq: 2 }]);
      expect(resumed).toEqual({ action: 'resume', afterSeq: 0, epoch: EPOCH_B });
      expect(received.map((m) => [m.seq, m.source])).toEqual([
        [1, 'history'],
        [2, 'history'],
        [1, 'history'],
        [2, 'history'],
        [3, 'live'],
        [4, 'live'],
      ]);
      expect(received.find((m) => m.seq === 3)?.text).toBe('new class');
      expect([client.epoch, client.lastSeq]).toEqual([EPOCH_B, 4]);
    });

    it('resets on a history answer from another epoch than asked and delivers it from the start', async () => {
      // Prepare: the cursor kept across a reload is (A, 40); the room has epoch B now
      const { client, received } = setup({ lastSeq: 40, epoch: EPOCH_A });
      const historyResets: HistoryResetEvent[] = [];
      const reset = jest.fn();
      const synced = jest.fn();
      client.on('historyReset', (event) => historyResets.push(event));
      client.on('reset', reset);
      client.on('synced', synced);
      void client.connect();
      last().open();

      // Act: the answer comes in two pages of epoch B
      last().receive(historyIn(EPOCH_B, [1, 2], 3, false));
      last().receive(historyIn(EPOCH_B, [3], 3));

      // Assess
      expect(last().sent[0]).toEqual({ action: 'resume', afterSeq: 40, epoch: EPOCH_A });
      expect(historyResets).toEqual([{ previousEpoch: EPOCH_A, epoch: EPOCH_B, previousSeq: 40 }]);
      expect(reset).not.toHaveBeenCalled();
      expect(received.map((m) => [m.seq, m.source])).toEqual([
        [1, 'history'],
        [2, 'history'],
        [3, 'history'],
      ]);
      expect(synced).toHaveBeenCalledWith({ lastSeq: 3, complete: true });
      expect(resumesSent()).toBe(1);
      expect([client.epoch, client.lastSeq]).toEqual([EPOCH_B, 3]);
    });

    it('resets when the pages of one answer move to a new epoch (the room restarted while it was read)', async () => {
      // Prepare
      const { client, received } = setup();
      const historyResets: HistoryResetEvent[] = [];
      const synced = jest.fn();
      client.on('historyReset', (event) => historyResets.push(event));
      client.on('synced', synced);
      void client.connect();
      last().open();

      // Act: a first page of epoch A, then the rest from the start of epoch B
      last().receive(historyIn(EPOCH_A, [1, 2], 3, false));
      last().receive(historyIn(EPOCH_B, [1], 2, false));
      last().receive(historyIn(EPOCH_B, [2], 2));

      // Assess
      expect(historyResets).toEqual([{ previousEpoch: EPOCH_A, epoch: EPOCH_B, previousSeq: 2 }]);
      expect(received.map((m) => m.seq)).toEqual([1, 2, 1, 2]);
      expect(synced).toHaveBeenCalledWith({ lastSeq: 2, complete: true });
      expect(resumesSent()).toBe(1);
      expect([client.epoch, client.lastSeq]).toEqual([EPOCH_B, 2]);
    });

    it('resets on an ack from a new epoch and places the own message at its seq there', async () => {
      // Prepare
      const { client, received } = setup();
      const historyReset = jest.fn();
      client.on('historyReset', historyReset);
      void client.connect();
      last().open();
      last().receive(historyIn(EPOCH_A, [1, 2, 3], 3));

      // Act
      const sent = client.send('chat', { text: 'first of the new class' }, { clientMsgId: 'c1' });
      last().receive({ type: 'ack', clientMsgId: 'c1', epoch: EPOCH_B, seq: 1, id: 'x' });

      // Assess
      await expect(sent).resolves.toEqual({ clientMsgId: 'c1', seq: 1, id: 'x' });
      expect(historyReset).toHaveBeenCalledWith({ previousEpoch: EPOCH_A, epoch: EPOCH_B, previousSeq: 3 });
      expect(received.at(-1)).toEqual({ seq: 1, text: 'first of the new class', source: 'self' });
      expect(last().sent.at(-1)).toEqual({ action: 'resume', afterSeq: 1, epoch: EPOCH_B });
      expect([client.epoch, client.lastSeq]).toEqual([EPOCH_B, 1]);
    });

    it('skips a history answer from the epoch it has left meanwhile, and asks again', async () => {
      // Prepare: a resume in flight for epoch A (after a gap)
      const { client, received } = setup({ gapResumeDelayMs: 100 });
      const historyReset = jest.fn();
      client.on('historyReset', historyReset);
      void client.connect();
      last().open();
      last().receive(historyIn(EPOCH_A, [1], 1));
      last().receive(messageIn(EPOCH_A, 3));
      await jest.advanceTimersByTimeAsync(100);
      const askedInA = last().sent.at(-1);

      // Act: a live frame of epoch B overtakes the answer for A
      last().receive(messageIn(EPOCH_B, 1, 'b1'));
      last().receive(historyIn(EPOCH_A, [2, 3], 3));
      const askedInB = last().sent.at(-1);
      last().receive(historyIn(EPOCH_B, [1, 2], 2));

      // Assess
      expect(askedInA).toEqual({ action: 'resume', afterSeq: 1, epoch: EPOCH_A });
      expect(askedInB).toEqual({ action: 'resume', afterSeq: 1, epoch: EPOCH_B });
      expect(historyReset).toHaveBeenCalledTimes(1);
      expect(received.map((m) => [m.seq, m.text])).toEqual([
        [1, 'm1'],
        [1, 'b1'],
        [2, 'm2'],
      ]);
      expect([client.epoch, client.lastSeq]).toEqual([EPOCH_B, 2]);
    });

    it('asks again, after a jittered delay, when a resume is refused as unavailable', async () => {
      // Prepare
      const { client, received, errors } = setup();
      void client.connect();
      last().open();

      // Act
      last().receive({ type: 'error', code: 'unavailable', message: 'failover', action: 'resume' });
      await jest.advanceTimersByTimeAsync(124);
      const early = resumesSent();
      await jest.advanceTimersByTimeAsync(1);
      last().receive(history([message(1)], 1));

      // Assess
      expect(early).toBe(1);
      expect(resumesSent()).toBe(2);
      expect(received.map((m) => m.seq)).toEqual([1]);
      expect(errors).toEqual([]);
    });

    it('reports a resume refused as unavailable every time, after its retries', async () => {
      // Prepare
      const { client, errors } = setup({ unavailableRetries: 2 });
      void client.connect();
      last().open();

      // Act
      for (let attempt = 0; attempt < 3; attempt++) {
        last().receive({ type: 'error', code: 'unavailable', message: 'failover', action: 'resume' });
        await jest.advanceTimersByTimeAsync(1000);
      }

      // Assess
      expect(resumesSent()).toBe(3);
      expect(errors).toEqual([expect.objectContaining({ name: 'ServerError', code: 'unavailable' })]);
    });

    it('still detects a restart below its cursor when the cursor has no epoch', async () => {
      // Prepare: a cursor kept without an epoch (older app), a server with epochs
      const { client, received } = setup({ lastSeq: 40 });
      const reset = jest.fn();
      const historyReset = jest.fn();
      client.on('reset', reset);
      client.on('historyReset', historyReset);
      void client.connect();
      last().open();

      // Act
      last().receive(historyIn(EPOCH_A, [], 2));
      const again = last().sent.at(-1);
      last().receive(historyIn(EPOCH_A, [1, 2], 2));

      // Assess
      expect(last().sent[0]).toEqual({ action: 'resume', afterSeq: 40 });
      expect(reset).toHaveBeenCalledWith({ previousSeq: 40, lastSeq: 2 });
      expect(historyReset).not.toHaveBeenCalled();
      expect(again).toEqual({ action: 'resume', afterSeq: 0, epoch: EPOCH_A });
      expect(received.map((m) => m.seq)).toEqual([1, 2]);
      expect(client.epoch).toBe(EPOCH_A);
    });

    it('does not take live messages that overtook the answer for a restart', async () => {
      // Prepare
      const { client, received } = setup();
      const reset = jest.fn();
      client.on('reset', reset);
      void client.connect();
      last().open();
      last().receive(historyIn(EPOCH_A, [1, 2], 2));
      last().drop();
      await jest.advanceTimersByTimeAsync(500);
      last().open();

      // Act: seq 3 and 4 arrive live before the answer to resume(afterSeq 2), which the server computed earlier
      last().receive(messageIn(EPOCH_A, 3));
      last().receive(messageIn(EPOCH_A, 4));
      last().receive(historyIn(EPOCH_A, [3], 3));

      // Assess
      expect(reset).not.toHaveBeenCalled();
      expect(received.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
      expect(client.lastSeq).toBe(4);
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

    it('resends the same frame after unavailable, after a jittered delay, and resolves on the ack', async () => {
      // Prepare
      const { client, received } = setup();
      void client.connect();
      last().open();
      last().receive(historyIn(EPOCH_A, [], 0));
      const sent = client.send('chat', { text: 'durable' }, { clientMsgId: 'c1' });
      const first = last().sent.at(-1);

      // Act: random() is 0.5, so the delays are 125 ms, then 250 ms
      last().receive({ type: 'error', code: 'unavailable', message: 'not durable', clientMsgId: 'c1' });
      await jest.advanceTimersByTimeAsync(124);
      const early = last().sent.length;
      await jest.advanceTimersByTimeAsync(1);
      last().receive({ type: 'error', code: 'unavailable', message: 'not durable', clientMsgId: 'c1' });
      await jest.advanceTimersByTimeAsync(250);
      last().receive({ type: 'ack', clientMsgId: 'c1', epoch: EPOCH_A, seq: 1, id: 'x' });

      // Assess
      await expect(sent).resolves.toEqual({ clientMsgId: 'c1', seq: 1, id: 'x' });
      const sends = last().sent.filter((f) => f.action === 'sendMessage');
      expect(early).toBe(3);
      expect(sends).toEqual([first, first, first]);
      expect(first).toMatchObject({ clientMsgId: 'c1', data: { text: 'durable' } });
      expect(received).toEqual([{ seq: 1, text: 'durable', source: 'self' }]);
    });

    it('rejects with an UnavailableError when every attempt is refused', async () => {
      // Prepare
      const { client, errors } = setup({ unavailableRetries: 2 });
      void client.connect();
      last().open();
      const sent = client.send('chat', { text: 'x' }, { clientMsgId: 'c1' });
      const assertion = expect(sent).rejects.toBeInstanceOf(UnavailableError);

      // Act
      for (let attempt = 0; attempt < 3; attempt++) {
        last().receive({ type: 'error', code: 'unavailable', message: 'cache full', clientMsgId: 'c1' });
        await jest.advanceTimersByTimeAsync(1000); // past the jittered delay (125 ms, then 250 ms)
      }

      // Assess
      await assertion;
      await expect(sent).rejects.toMatchObject({
        name: 'UnavailableError',
        code: 'unavailable',
        clientMsgId: 'c1',
        attempts: 3,
        message: expect.stringContaining('cache full'),
      });
      await expect(sent).rejects.toBeInstanceOf(ServerError);
      expect(last().sent.filter((f) => f.action === 'sendMessage')).toHaveLength(3);
      expect(client.pendingSends).toBe(0);
      expect(errors).toEqual([]);
    });

    it('rejects with its timeout when the resends do not get an ack in time, and stops resending', async () => {
      // Prepare
      const { client } = setup({ unavailableRetryBaseMs: 4000, unavailableRetryMaxMs: 4000 });
      void client.connect();
      last().open();
      const sent = client.send('chat', {}, { clientMsgId: 'c1', timeoutMs: 1000 });
      const assertion = expect(sent).rejects.toBeInstanceOf(SendTimeoutError);

      // Act: the resend would go after 2 s
      last().receive({ type: 'error', code: 'unavailable', message: 'failover', clientMsgId: 'c1' });
      await jest.advanceTimersByTimeAsync(5000);

      // Assess
      await assertion;
      expect(last().sent.filter((f) => f.action === 'sendMessage')).toHaveLength(1);
    });

    it('sends a resend waiting after unavailable at once on a new socket', async () => {
      // Prepare
      const { client } = setup({ unavailableRetryBaseMs: 4000, unavailableRetryMaxMs: 4000 });
      void client.connect();
      last().open();
      const sent = client.send('chat', { text: 'again' }, { clientMsgId: 'c1' });
      last().receive({ type: 'error', code: 'unavailable', message: 'failover', clientMsgId: 'c1' });

      // Act
      last().drop();
      await jest.advanceTimersByTimeAsync(500);
      last().open();
      const onNewSocket = last().actions();
      await jest.advanceTimersByTimeAsync(5000);
      const afterTheDelay = last().actions();
      last().receive({ type: 'ack', clientMsgId: 'c1', seq: 1, id: 'x' });

      // Assess
      expect(onNewSocket).toEqual(['resume', 'presence', 'sendMessage']);
      expect(afterTheDelay).toEqual(['resume', 'presence', 'sendMessage']);
      await expect(sent).resolves.toMatchObject({ clientMsgId: 'c1', seq: 1 });
    });

    it('rejects a transient send on unavailable at once (transient messages are never resent)', async () => {
      // Prepare
      const { client } = setup();
      void client.connect();
      last().open();

      // Act
      const sent = client.send('cursor', { x: 1 }, { transient: true, clientMsgId: 't1' });
      last().receive({ type: 'error', code: 'unavailable', message: 'failover', clientMsgId: 't1' });

      // Assess
      await expect(sent).rejects.toMatchObject({ name: 'ServerError', code: 'unavailable' });
      expect(last().sent.filter((f) => f.action === 'sendMessage')).toHaveLength(1);
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
