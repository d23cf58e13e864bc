import {
  ErrorCode,
  historyFrames,
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
});

describe('Function: historyFrames', () => {
  const stored = (seq: number, size: number) =>
    JSON.stringify({ type: 'message', classRoomId: 'r1', seq, id: `m${seq}`, data: 'x'.repeat(size) });

  it('returns one done frame with no messages for an empty list', () => {
    // Prepare & Act
    const frames = historyFrames('r1', [], 0, true);

    // Assess
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0] as string)).toEqual({
      type: 'history',
      classRoomId: 'r1',
      lastSeq: 0,
      done: true,
      complete: true,
      messages: [],
    });
  });

  it('splits messages into valid JSON frames under maxBytes, in order, only the last done', () => {
    // Prepare
    const maxBytes = 1000;
    const messages = Array.from({ length: 40 }, (_, i) => stored(i + 1, 50 + (i % 7) * 20));

    // Act
    const frames = historyFrames('r1', messages, 40, false, maxBytes);

    // Assess
    expect(frames.length).toBeGreaterThan(1);
    const parsed = frames.map((frame) => {
      expect(Buffer.byteLength(frame, 'utf8')).toBeLessThanOrEqual(maxBytes);
      return JSON.parse(frame);
    });
    expect(parsed.map((f) => f.done)).toEqual([...Array(frames.length - 1).fill(false), true]);
    expect(parsed.every((f) => f.complete === false && f.lastSeq === 40 && f.type === 'history')).toBe(true);
    expect(parsed.flatMap((f) => f.messages.map((m: { seq: number }) => m.seq))).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  });

  it('counts multi-byte characters in bytes, not in string length', () => {
    // Prepare
    const maxBytes = 2000;
    const messages = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ type: 'message', seq: i + 1, data: 'é'.repeat(100) }),
    );

    // Act
    const frames = historyFrames('r1', messages, 20, true, maxBytes);

    // Assess
    for (const frame of frames) expect(Buffer.byteLength(frame, 'utf8')).toBeLessThanOrEqual(maxBytes);
    expect(frames.flatMap((f) => JSON.parse(f).messages)).toHaveLength(20);
  });

  it('keeps frames under the 128 KB default with near-limit messages', () => {
    // Prepare
    const messages = [stored(1, 100_000), stored(2, 100_000), stored(3, 20_000)];

    // Act
    const frames = historyFrames('r1', messages, 3, true);

    // Assess
    expect(frames).toHaveLength(2);
    for (const frame of frames) {
      expect(Buffer.byteLength(frame, 'utf8')).toBeLessThanOrEqual(MAX_OUTBOUND_FRAME_BYTES);
    }
    expect(JSON.parse(frames[1] as string).messages.map((m: { seq: number }) => m.seq)).toEqual([2, 3]);
  });

  it('escapes the room id in the frame envelope', () => {
    // Prepare & Act
    const frames = historyFrames('r"1\\', [stored(1, 1)], 1, true);

    // Assess
    expect(JSON.parse(frames[0] as string).classRoomId).toBe('r"1\\');
  });
});
