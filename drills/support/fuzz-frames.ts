/**
 * fast-check arbitraries of frames a client must not be able to hurt the service with, each with the
 * answer SPEC §4 prescribes for it (the oracle): an error frame with a given code on an open socket, or a
 * close code. None of them is a valid request: every frame is broken on purpose in at least one way, so
 * no member may receive anything and nothing may be stored.
 */
import fc from 'fast-check';

export type Expected =
  | { kind: 'error'; code: 'bad_request' | 'unknown_action' | 'forbidden' | 'too_large' }
  | { kind: 'close'; code: 1003 | 1007 | 1009 };

/** A frame to send: text (one frame), text in fragments (one message), or bytes. */
export interface FuzzFrame {
  family: string;
  text?: string;
  fragments?: string[];
  /** Raw bytes sent as a text frame (invalid UTF-8) or as a binary frame. */
  bytes?: { data: Uint8Array; binary: boolean };
  expected: Expected;
}

export const ROUTES = new Set(['sendMessage', 'resume', 'presence', 'endClass', 'ping']);
export const MAX_FRAME_BYTES = 32 * 1024;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const error = (code: Extract<Expected, { kind: 'error' }>['code']): Expected => ({ kind: 'error', code });
const fitsOneFrame = (f: FuzzFrame) => f.text === undefined || bytes(f.text) <= MAX_FRAME_BYTES;

/** Strings with odd Unicode: any code point, lone surrogates, BOM, RTL marks, zero-width joiners, NUL. */
const oddString = (maxLength = 40) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.constantFrom(
      '\ufeff',
      '\u202e\u202d',
      '\u200d\u200d',
      '\u0000',
      '\ud800',
      '\udfff',
      '\u2028',
      '𝕏'.repeat(3),
    ),
  );

const json = fc.jsonValue({ maxDepth: 4 });
const nonString = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(json, { maxLength: 3 }),
  fc.dictionary(oddString(8), json, { maxKeys: 3 }),
);
const isJson = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};
/** A JSON value nested `depth` levels deep, built as text. */
const deep = (depth: number, open = '[', close = ']') => `${open.repeat(depth)}1${close.repeat(depth)}`;
const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
/** Puts `"__proto__": value` first in an object's JSON text. */
const withProto = (objectText: string, value: string) =>
  objectText === '{}' ? `{"__proto__":${value}}` : `{"__proto__":${value},${objectText.slice(1)}`;

// ---- not JSON, or JSON that is not an object: `bad_request` ----------------------------------------------

const notJson: fc.Arbitrary<FuzzFrame> = fc
  .oneof(
    oddString(200),
    json.map((v) => JSON.stringify(v).slice(0, -1)),
    fc.constantFrom(
      '{',
      '}',
      '{"action":',
      '{"action":"sendMessage"',
      "{'action':'ping'}",
      '[1,]',
      'NaN',
      '{"a":1}}',
      '',
    ),
    fc.tuple(json, fc.string({ maxLength: 3 })).map(([v, junk]) => `${JSON.stringify(v)}${junk}x`),
  )
  .filter((text) => !isJson(text))
  .map((text) => ({ family: 'not-json', text, expected: error('bad_request') }));

const notObject: fc.Arbitrary<FuzzFrame> = fc
  .oneof(
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    oddString(),
    fc.array(json),
    fc.constantFrom('sendMessage', 'ping', ['ping']),
  )
  .map((v) => ({ family: 'not-object', text: JSON.stringify(v), expected: error('bad_request') }));

const deepTopLevel: fc.Arbitrary<FuzzFrame> = fc
  .integer({ min: 1, max: 15_000 })
  .map((depth) => ({ family: 'deep-array', text: deep(depth), expected: error('bad_request') }));

// ---- objects without a string action: `bad_request`; unknown action: `unknown_action` ---------------

const noAction: fc.Arbitrary<FuzzFrame> = fc
  .tuple(fc.dictionary(oddString(12), json, { maxKeys: 5 }), fc.option(nonString, { nil: undefined }))
  .map(([object, action]) => {
    const { action: _dropped, ...rest } = object as Record<string, unknown>;
    const value = action === undefined ? rest : { ...rest, action };
    return { family: 'no-string-action', text: JSON.stringify(value), expected: error('bad_request') };
  });

const protoAction: fc.Arbitrary<FuzzFrame> = fc
  .constantFrom('ping', 'sendMessage', 'endClass')
  .map((action) => ({
    family: 'proto-action',
    text: withProto('{}', JSON.stringify({ action, kind: 'chat', data: 1 })),
    expected: error('bad_request'),
  }));

const unknownAction: fc.Arbitrary<FuzzFrame> = fc
  .tuple(
    fc.oneof(
      oddString(60),
      fc.constantFrom(
        '$default',
        '$connect',
        '$disconnect',
        '__proto__',
        'constructor',
        'toString',
        'SendMessage',
        'ping ',
        'x'.repeat(20_000),
      ),
    ),
    fc.dictionary(oddString(8), json, { maxKeys: 3 }),
  )
  .filter(([action]) => !ROUTES.has(action))
  .map(([action, extra]) => {
    const { action: _a, ...rest } = extra as Record<string, unknown>;
    return {
      family: 'unknown-action',
      text: JSON.stringify({ ...rest, action }),
      expected: error('unknown_action'),
    };
  });

const deepUnknown: fc.Arbitrary<FuzzFrame> = fc.integer({ min: 1, max: 5000 }).map((depth) => ({
  family: 'deep-unknown',
  text: `{"action":"draw","data":${deep(depth)}}`,
  expected: error('unknown_action'),
}));

// ---- sendMessage broken in at least one field: `bad_request` ------------------------------------------

const badKind = fc.oneof(nonString, fc.constant(''), fc.string({ minLength: 33, maxLength: 20_000 }));
const badClientMsgId = fc.oneof(nonString, fc.constant(''), fc.string({ minLength: 65, maxLength: 300 }));
const badTransient = fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.constantFrom('true', 1, 0));

const brokenSend: fc.Arbitrary<FuzzFrame> = fc
  .record({
    kind: fc.oneof(
      fc.constant('chat'),
      oddString(32).filter((k) => k.length >= 1 && k.length <= 32),
    ),
    data: json,
    breakKind: fc.option(badKind, { nil: undefined }),
    dropData: fc.boolean(),
    breakClientMsgId: fc.option(badClientMsgId, { nil: undefined }),
    breakTransient: fc.option(badTransient, { nil: undefined }),
    breakRoom: fc.option(nonString, { nil: undefined }),
    proto: fc.boolean(),
  })
  .filter(
    (r) =>
      r.breakKind !== undefined ||
      r.dropData ||
      r.breakClientMsgId !== undefined ||
      r.breakTransient !== undefined ||
      r.breakRoom !== undefined,
  )
  .map((r) => {
    // `breakKind` may be null, a broken kind of its own: `??` would put the valid kind back.
    const frame: Record<string, unknown> = {
      action: 'sendMessage',
      kind: r.breakKind !== undefined ? r.breakKind : r.kind,
    };
    if (!r.dropData) frame.data = r.data;
    if (r.breakClientMsgId !== undefined) frame.clientMsgId = r.breakClientMsgId;
    if (r.breakTransient !== undefined) frame.transient = r.breakTransient;
    if (r.breakRoom !== undefined) frame.classRoomId = r.breakRoom;
    const text = JSON.stringify(frame);
    return {
      family: 'broken-send',
      text: r.proto ? withProto(text, JSON.stringify({ kind: 'chat', data: 1, clientMsgId: 'p' })) : text,
      expected: error('bad_request'),
    };
  });

/** A valid sendMessage with a later duplicate key that breaks it (JSON.parse keeps the last one). */
const duplicateKey: fc.Arbitrary<FuzzFrame> = fc
  .tuple(fc.constantFrom('kind', 'clientMsgId', 'transient'), nonString)
  .filter(([key, value]) => !(key === 'transient' && typeof value === 'boolean'))
  .map(([key, value]) => ({
    family: 'duplicate-key',
    text: `{"action":"sendMessage","kind":"chat","data":1,"${key}":${JSON.stringify(value)}}`,
    expected: error('bad_request'),
  }));

const deepData: fc.Arbitrary<FuzzFrame> = fc
  .tuple(fc.integer({ min: 101, max: 15_000 }), fc.boolean())
  .map(([depth, objects]) => ({
    family: 'deep-data',
    text: `{"action":"sendMessage","kind":"chat","clientMsgId":"deep","data":${objects ? deepObject(Math.min(depth, 5000)) : deep(depth)}}`,
    expected: error('bad_request'),
  }));

/** Otherwise valid, for another room: `forbidden` (nothing stored). */
const otherRoom = (room: string): fc.Arbitrary<FuzzFrame> =>
  fc
    .tuple(oddString(40), json, fc.option(fc.string({ minLength: 1, maxLength: 64 }), { nil: undefined }))
    .filter(([target]) => target !== room)
    .map(([target, data, clientMsgId]) => ({
      family: 'other-room',
      text: JSON.stringify({ action: 'sendMessage', kind: 'chat', data, classRoomId: target, clientMsgId }),
      expected: error('forbidden'),
    }));

// ---- resume broken: `bad_request`; a student's endClass: `forbidden` -------------------------------------

const badAfterSeq: fc.Arbitrary<FuzzFrame> = fc
  .oneof(
    fc.integer({ max: -1 }),
    fc.double({ noNaN: true }).filter((d) => !Number.isInteger(d)),
    fc.constantFrom(2 ** 53, Number.POSITIVE_INFINITY, '1', '0', null, true, [0], { seq: 0 }),
    nonString,
    fc.constant(undefined),
  )
  .map((afterSeq) => ({ action: 'resume', afterSeq }))
  .filter((frame) => {
    const v = (JSON.parse(JSON.stringify(frame)) as { afterSeq?: unknown }).afterSeq;
    return !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
  })
  .map((frame) => ({ family: 'bad-resume', text: JSON.stringify(frame), expected: error('bad_request') }));

const studentEndClass: fc.Arbitrary<FuzzFrame> = fc
  .dictionary(oddString(8), json, { maxKeys: 3 })
  .map((extra) => ({
    family: 'student-endclass',
    text: JSON.stringify({ ...extra, action: 'endClass' }),
    expected: error('forbidden'),
  }));

/** The frames answered with an error frame on a socket that stays open. */
export function openSocketFrames(room: string): fc.Arbitrary<FuzzFrame> {
  return fc
    .oneof(
      { weight: 3, arbitrary: notJson },
      { weight: 2, arbitrary: notObject },
      { weight: 1, arbitrary: deepTopLevel },
      { weight: 2, arbitrary: noAction },
      { weight: 1, arbitrary: protoAction },
      { weight: 3, arbitrary: unknownAction },
      { weight: 1, arbitrary: deepUnknown },
      { weight: 4, arbitrary: brokenSend },
      { weight: 1, arbitrary: duplicateKey },
      { weight: 1, arbitrary: deepData },
      { weight: 2, arbitrary: otherRoom(room) },
      { weight: 2, arbitrary: badAfterSeq },
      { weight: 1, arbitrary: studentEndClass },
    )
    .filter(fitsOneFrame);
}

/**
 * A message in fragments under 32 KB each that the gateway accepts (the whole text is within its 128 KB
 * message limit) but whose `message` frame, once the envelope (id, from, seq, sentAt) is added, would not
 * fit in 128 KB: `too_large`, never stored. The data is at least 130,000 bytes, so with any envelope the
 * frame passes the store's limit (128 KB less 1 KB kept for the history envelope); at most 131,000, so the
 * client's text (data plus 47 bytes) stays within 131,072.
 */
export const fragmentedTooLarge: fc.Arbitrary<FuzzFrame> = fc
  .integer({ min: 130_000, max: 131_000 })
  .map((size) => {
    const text = `{"action":"sendMessage","kind":"chat","data":"${'x'.repeat(size)}"}`;
    const fragments: string[] = [];
    for (let i = 0; i < text.length; i += 30_000) fragments.push(text.slice(i, i + 30_000));
    return { family: 'fragmented-too-large', fragments, expected: error('too_large') };
  });

/** Frames after which the gateway closes the socket, as API Gateway does. */
export const closingFrames: fc.Arbitrary<FuzzFrame> = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 200 }).map((data) => ({
    family: 'binary',
    bytes: { data, binary: true },
    expected: { kind: 'close', code: 1003 } as Expected,
  })),
  fc.integer({ min: MAX_FRAME_BYTES + 1, max: 200_000 }).map((size) => ({
    family: 'over-32KB',
    text: `{"action":"sendMessage","kind":"chat","data":"${'y'.repeat(size)}"}`,
    expected: { kind: 'close', code: 1009 } as Expected,
  })),
  fc.constantFrom([0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x7b, 0x80, 0x7d]).map((b) => ({
    family: 'invalid-utf8',
    bytes: { data: Uint8Array.from(b), binary: false },
    expected: { kind: 'close', code: 1007 } as Expected,
  })),
);
