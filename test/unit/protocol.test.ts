import { ServerErrorCode } from '../../client/src/types';
import { MAX_MESSAGE_FRAME_BYTES } from '../../layers/shared/src/message';
import {
  ErrorCode,
  historyFrame,
  historyPageBytes,
  isValidRoomId,
  MAX_CLIENT_MSG_ID_LENGTH,
  MAX_KIND_LENGTH,
  MAX_OUTBOUND_FRAME_BYTES,
  parseBody,
  parseResume,
  parseSendMessage,
} from '../../layers/shared/src/protocol';

const badRequest = (message: string) => ({ type: 'error', code: ErrorCode.BadRequest, message });

describe('Function: parseBody', () => {
  it.each([
    ['not JSON', '{not json', 'Frame is not valid JSON'],
    ['an array', '[1,2]', 'Frame must be a JSON object'],
    ['null', 'null', 'Frame must be a JSON object'],
    ['a number', '42', 'Frame must be a JSON object'],
    ['a string', '"hi"', 'Frame must be a JSON object'],
    ['empty', '', 'Frame must be a JSON object'],
  ])('returns bad_request when the body is %s', (_case, body, message) => {
    // Prepare & Act
    const result = parseBody(body);

    // Assess
    expect(result).toEqual({ ok: false, error: badRequest(message) });
  });

  it.each([[null], [undefined]])('returns bad_request when the body is %s', (body) => {
    // Prepare & Act
    const result = parseBody(body);

    // Assess
    expect(result).toEqual({ ok: false, error: badRequest('Frame must be a JSON object') });
  });

  it('returns the object for a JSON object', () => {
    // Prepare
    const body = JSON.stringify({ action: 'ping', n: 1 });

    // Act
    const result = parseBody(body);

    // Assess
    expect(result).toEqual({ ok: true, value: { action: 'ping', n: 1 } });
  });
});

describe('Function: parseSendMessage', () => {
  const valid = { action: 'sendMessage', kind: 'chat', data: { text: 'hi' } };

  it('accepts a minimal message and defaults transient to false', () => {
    // Prepare & Act
    const result = parseSendMessage({ ...valid });

    // Assess
    expect(result).toEqual({
      ok: true,
      value: {
        action: 'sendMessage',
        kind: 'chat',
        data: { text: 'hi' },
        clientMsgId: undefined,
        transient: false,
        classRoomId: undefined,
      },
    });
  });

  it('accepts every optional field at its limits', () => {
    // Prepare
    const body = {
      ...valid,
      kind: 'k'.repeat(MAX_KIND_LENGTH),
      data: null,
      clientMsgId: 'c'.repeat(MAX_CLIENT_MSG_ID_LENGTH),
      transient: true,
      classRoomId: 'room-1',
    };

    // Act
    const result = parseSendMessage(body);

    // Assess
    expect(result).toEqual({
      ok: true,
      value: {
        action: 'sendMessage',
        kind: body.kind,
        data: null,
        clientMsgId: body.clientMsgId,
        transient: true,
        classRoomId: 'room-1',
      },
    });
  });

  it.each([
    ['kind is empty', { kind: '' }, 'kind must be a string of 1 to 32 characters'],
    ['kind has 33 characters', { kind: 'k'.repeat(33) }, 'kind must be a string of 1 to 32 characters'],
    ['kind is not a string', { kind: 7 }, 'kind must be a string of 1 to 32 characters'],
    ['kind is missing', { kind: undefined }, 'kind must be a string of 1 to 32 characters'],
    ['transient is a string', { transient: 'yes' }, 'transient must be a boolean'],
    ['transient is a number', { transient: 1 }, 'transient must be a boolean'],
    ['classRoomId is a number', { classRoomId: 12 }, 'classRoomId must be a string'],
    ['classRoomId is null', { classRoomId: null }, 'classRoomId must be a string'],
  ])('returns bad_request when %s', (_case, patch, message) => {
    // Prepare
    const body: Record<string, unknown> = { ...valid, ...patch };

    // Act
    const result = parseSendMessage(body);

    // Assess
    expect(result).toEqual({
      ok: false,
      error: { ...badRequest(message), action: 'sendMessage' },
    });
  });

  it('returns bad_request when data is missing', () => {
    // Prepare
    const body: Record<string, unknown> = { action: 'sendMessage', kind: 'chat', clientMsgId: 'c1' };

    // Act
    const result = parseSendMessage(body);

    // Assess
    expect(result).toEqual({
      ok: false,
      error: { ...badRequest('data is required'), action: 'sendMessage', clientMsgId: 'c1' },
    });
  });

  it.each([
    ['a number', 42],
    ['an object', { id: 'x' }],
    ['null', null],
    ['empty', ''],
    ['65 characters long', 'c'.repeat(MAX_CLIENT_MSG_ID_LENGTH + 1)],
  ])('returns bad_request when clientMsgId is %s', (_case, clientMsgId) => {
    // Prepare
    const body = { ...valid, clientMsgId };

    // Act
    const result = parseSendMessage(body);

    // Assess
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatchObject({
      type: 'error',
      code: 'bad_request',
      action: 'sendMessage',
      message: 'clientMsgId must be a string of 1 to 64 characters',
    });
  });

  it('echoes the clientMsgId in the error frame when it is a short string', () => {
    // Prepare
    const body = { ...valid, kind: '', clientMsgId: 'msg-1' };

    // Act
    const result = parseSendMessage(body);

    // Assess
    expect(!result.ok && result.error.clientMsgId).toBe('msg-1');
  });

  it.each([
    ['too long', 'c'.repeat(MAX_CLIENT_MSG_ID_LENGTH + 1)],
    ['a number', 42],
    ['an object', { evil: true }],
  ])('does not echo a clientMsgId that is %s', (_case, clientMsgId) => {
    // Prepare
    const body = { ...valid, kind: '', clientMsgId };

    // Act
    const result = parseSendMessage(body);

    // Assess
    expect(result.ok).toBe(false);
    expect(!result.ok && 'clientMsgId' in result.error).toBe(false);
  });
});

describe('Function: parseResume', () => {
  it.each([[0], [1], [Number.MAX_SAFE_INTEGER]])('accepts afterSeq %p', (afterSeq) => {
    // Prepare & Act
    const result = parseResume({ action: 'resume', afterSeq });

    // Assess
    expect(result).toEqual({ ok: true, value: { action: 'resume', afterSeq } });
  });

  it.each([
    ['negative', -1],
    ['a float', 1.5],
    ['a string', '3'],
    ['huge', 1e20],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['null', null],
    ['missing', undefined],
  ])('returns bad_request when afterSeq is %s', (_case, afterSeq) => {
    // Prepare & Act
    const result = parseResume({ action: 'resume', afterSeq });

    // Assess
    expect(result).toEqual({
      ok: false,
      error: { ...badRequest('afterSeq must be an integer >= 0'), action: 'resume' },
    });
  });

  it('accepts the epoch afterSeq belongs to', () => {
    // Prepare & Act
    const result = parseResume({ action: 'resume', afterSeq: 4, epoch: 1_764_664_818_123_456 });

    // Assess
    expect(result).toEqual({
      ok: true,
      value: { action: 'resume', afterSeq: 4, epoch: 1_764_664_818_123_456 },
    });
  });

  it.each([
    ['zero', 0],
    ['negative', -5],
    ['a float', 1.5],
    ['a string', '17'],
    ['null', null],
    ['beyond a safe integer', 2 ** 60],
  ])('returns bad_request when epoch is %s', (_case, epoch) => {
    // Prepare & Act
    const result = parseResume({ action: 'resume', afterSeq: 0, epoch });

    // Assess
    expect(result).toEqual({
      ok: false,
      error: { ...badRequest('epoch must be a positive integer'), action: 'resume' },
    });
  });
});

describe('Function: isValidRoomId', () => {
  it.each([
    ['letters, digits and _ - . :', 'Math-7b_2026.q1:a', true],
    ['one character', 'r', true],
    ['128 characters', 'r'.repeat(128), true],
    ['empty', '', false],
    ['129 characters', 'r'.repeat(129), false],
    ['a leading closing brace', '}r', false],
    ['an opening brace', 'r{', false],
    ['a space', 'r 1', false],
    ['a non-ASCII letter', 'ré', false],
    ['not a string', 42, false],
  ])('answers for %s', (_case, value, expected) => {
    // Prepare & Act & Assess
    expect(isValidRoomId(value)).toBe(expected);
  });
});

describe('Function: historyFrame', () => {
  const header = { classRoomId: 'r1', epoch: 1_764_664_818_123_456, lastSeq: 3, done: true, complete: true };
  const stored = (seq: number, size: number) =>
    JSON.stringify({ type: 'message', classRoomId: 'r1', seq, id: `m${seq}`, data: 'x'.repeat(size) });

  it('wraps no messages in a done frame with the epoch', () => {
    // Prepare & Act
    const frame = historyFrame({ ...header, lastSeq: 0 }, []);

    // Assess
    expect(JSON.parse(frame)).toEqual({
      type: 'history',
      classRoomId: 'r1',
      epoch: 1_764_664_818_123_456,
      lastSeq: 0,
      done: true,
      complete: true,
      messages: [],
    });
  });

  it('keeps the stored JSON of each message as it is, in order', () => {
    // Prepare
    const messages = [stored(1, 3), stored(2, 4), stored(3, 5)];

    // Act
    const frame = JSON.parse(historyFrame({ ...header, done: false, complete: false }, messages));

    // Assess
    expect(frame.messages.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3]);
    expect(frame.done).toBe(false);
    expect(frame.complete).toBe(false);
  });

  it('escapes the room id in the frame envelope', () => {
    // Prepare & Act
    const frame = historyFrame({ ...header, classRoomId: 'r"1\\' }, [stored(1, 1)]);

    // Assess
    expect(JSON.parse(frame).classRoomId).toBe('r"1\\');
  });
});

describe('Function: historyPageBytes', () => {
  it('leaves room for the widest envelope: a full page stays within the limit', () => {
    // Prepare: a 128-character room id, the largest numbers, and messages filling the page
    const classRoomId = 'r'.repeat(128);
    const budget = historyPageBytes(classRoomId);
    const message = JSON.stringify({ data: 'é'.repeat(1000) });
    const messages: string[] = [];
    let used = 0;
    while (used + Buffer.byteLength(message) + 1 <= budget) {
      messages.push(message);
      used += Buffer.byteLength(message) + 1;
    }

    // Act
    const frame = historyFrame(
      {
        classRoomId,
        epoch: Number.MAX_SAFE_INTEGER,
        lastSeq: Number.MAX_SAFE_INTEGER,
        done: false,
        complete: false,
      },
      messages,
    );

    // Assess
    expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(MAX_OUTBOUND_FRAME_BYTES);
    expect(budget).toBeGreaterThan(MAX_MESSAGE_FRAME_BYTES);
  });
});

describe('Constant: ErrorCode', () => {
  it("is the client SDK's ServerErrorCode (the SDK is a package of its own and keeps its copy of the wire codes)", () => {
    expect(ServerErrorCode).toEqual(ErrorCode);
  });
});
