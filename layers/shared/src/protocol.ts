/**
 * The wire protocol of SPEC §4: client actions, server frames and the error codes, in one module.
 * Parsing is strict and never throws on client input: it returns a typed request or a wire error.
 */

export const ErrorCode = {
  BadRequest: 'bad_request',
  UnknownAction: 'unknown_action',
  Forbidden: 'forbidden',
  TooLarge: 'too_large',
  RateLimited: 'rate_limited',
  /** Not acknowledged: the write could not be made durable in time (failover, cache full). Resend it. */
  Unavailable: 'unavailable',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** API Gateway's limit for one frame sent to a client (PostToConnection or a route response). */
export const MAX_OUTBOUND_FRAME_BYTES = 128 * 1024;
export const MAX_KIND_LENGTH = 32;
export const MAX_CLIENT_MSG_ID_LENGTH = 64;
export const DEDUPE_WINDOW_SECONDS = 60;
/** SPEC §3: a room id can never break its keys' hash tag (`{`/`}`) or a key separator. */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

export function isValidRoomId(value: unknown): value is string {
  return typeof value === 'string' && ROOM_ID_PATTERN.test(value);
}
/** `data` nested deeper than this is refused: serialising it again could overflow the stack (`internal`). */
export const MAX_DATA_DEPTH = 100;

export const Role = { Teacher: 'teacher', Student: 'student', System: 'system' } as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface Member {
  userId: string;
  name: string;
  role: Role;
}

export const SYSTEM_SENDER: Member = { userId: 'system', name: 'system', role: Role.System };

export interface MessageFrame {
  type: 'message';
  classRoomId: string;
  /** The room's epoch: changes whenever its sequence restarts. */
  epoch: number;
  seq?: number;
  id: string;
  from: Member;
  kind: string;
  data: unknown;
  sentAt: number;
}

export type ServerFrame =
  | MessageFrame
  | { type: 'ack'; clientMsgId: string; epoch: number; seq?: number; id: string }
  | {
      type: 'history';
      classRoomId: string;
      epoch: number;
      messages: MessageFrame[];
      lastSeq: number;
      done: boolean;
      complete: boolean;
    }
  | { type: 'presence'; event: 'join' | 'leave'; member: Member }
  | { type: 'presence'; event: 'snapshot'; members: Member[] }
  | { type: 'direct'; classRoomId: string; id: string; kind: string; data: unknown; sentAt: number }
  | { type: 'classEnded'; classRoomId: string; by: Member }
  | { type: 'pong' }
  | ErrorFrame;

export interface ErrorFrame {
  type: 'error';
  code: ErrorCode;
  message: string;
  action?: string;
  clientMsgId?: string;
}

/** The client actions the API routes (`$request.body.action`). */
export const Action = {
  SendMessage: 'sendMessage',
  Resume: 'resume',
  Presence: 'presence',
  EndClass: 'endClass',
  Ping: 'ping',
} as const;
export type Action = (typeof Action)[keyof typeof Action];

export interface SendMessageRequest {
  action: 'sendMessage';
  kind: string;
  data: unknown;
  clientMsgId?: string;
  transient: boolean;
  classRoomId?: string;
}

export interface ResumeRequest {
  action: 'resume';
  afterSeq: number;
  /** The epoch `afterSeq` belongs to; another epoch than the room's means: from its start. */
  epoch?: number;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ErrorFrame };

export function errorFrame(
  code: ErrorCode,
  message: string,
  extra: { action?: string; clientMsgId?: string } = {},
): ErrorFrame {
  const frame: ErrorFrame = { type: 'error', code, message };
  if (extra.action !== undefined) frame.action = extra.action;
  if (extra.clientMsgId !== undefined) frame.clientMsgId = extra.clientMsgId;
  return frame;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a frame body into a JSON object; a non-JSON or non-object body is a `bad_request`. */
export function parseBody(body: string | null | undefined): ParseResult<Record<string, unknown>> {
  if (typeof body !== 'string' || body.length === 0) {
    return { ok: false, error: errorFrame(ErrorCode.BadRequest, 'Frame must be a JSON object') };
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { ok: false, error: errorFrame(ErrorCode.BadRequest, 'Frame is not valid JSON') };
  }
  if (!isPlainObject(value)) {
    return { ok: false, error: errorFrame(ErrorCode.BadRequest, 'Frame must be a JSON object') };
  }
  return { ok: true, value };
}

/** A string field that is safe to echo back in an error frame (bounded, string). */
function echoable(value: unknown, max: number): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
}

export function parseSendMessage(body: Record<string, unknown>): ParseResult<SendMessageRequest> {
  const clientMsgId = echoable(body.clientMsgId, MAX_CLIENT_MSG_ID_LENGTH);
  const fail = (message: string): ParseResult<SendMessageRequest> => ({
    ok: false,
    error: errorFrame(ErrorCode.BadRequest, message, { action: Action.SendMessage, clientMsgId }),
  });
  const { kind, data, transient } = body;
  if (typeof kind !== 'string' || kind.length < 1 || kind.length > MAX_KIND_LENGTH) {
    return fail(`kind must be a string of 1 to ${MAX_KIND_LENGTH} characters`);
  }
  if (!('data' in body) || data === undefined) return fail('data is required');
  if (nestedDeeperThan(data, MAX_DATA_DEPTH)) {
    return fail(`data must not nest more than ${MAX_DATA_DEPTH} levels deep`);
  }
  if (body.clientMsgId !== undefined) {
    if (
      typeof body.clientMsgId !== 'string' ||
      body.clientMsgId.length < 1 ||
      body.clientMsgId.length > MAX_CLIENT_MSG_ID_LENGTH
    ) {
      return fail(`clientMsgId must be a string of 1 to ${MAX_CLIENT_MSG_ID_LENGTH} characters`);
    }
  }
  if (transient !== undefined && typeof transient !== 'boolean') return fail('transient must be a boolean');
  if (body.classRoomId !== undefined && typeof body.classRoomId !== 'string') {
    return fail('classRoomId must be a string');
  }
  return {
    ok: true,
    value: {
      action: 'sendMessage',
      kind,
      data,
      clientMsgId: body.clientMsgId as string | undefined,
      transient: transient === true,
      classRoomId: body.classRoomId as string | undefined,
    },
  };
}

export function parseResume(body: Record<string, unknown>): ParseResult<ResumeRequest> {
  const { afterSeq, epoch } = body;
  const fail = (message: string): ParseResult<ResumeRequest> => ({
    ok: false,
    error: errorFrame(ErrorCode.BadRequest, message, { action: Action.Resume }),
  });
  if (typeof afterSeq !== 'number' || !Number.isSafeInteger(afterSeq) || afterSeq < 0) {
    return fail('afterSeq must be an integer >= 0');
  }
  if (epoch !== undefined && (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1)) {
    return fail('epoch must be a positive integer');
  }
  return {
    ok: true,
    value: epoch === undefined ? { action: 'resume', afterSeq } : { action: 'resume', afterSeq, epoch },
  };
}

/** True when arrays/objects in `value` nest more than `max` levels deep. Iterative: no recursion on input. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current))
      stack.push([child, depth + 1]);
  }
  return false;
}

/** Byte length of a frame as sent (UTF-8). */
export function frameBytes(frame: string): number {
  return Buffer.byteLength(frame, 'utf8');
}

export interface HistoryFrameHeader {
  classRoomId: string;
  epoch: number;
  lastSeq: number;
  done: boolean;
  complete: boolean;
}

function historyHead(h: HistoryFrameHeader): string {
  return `{"type":"history","classRoomId":${JSON.stringify(h.classRoomId)},"epoch":${h.epoch},"lastSeq":${h.lastSeq},"done":${h.done},"complete":${h.complete},"messages":[`;
}

/**
 * One `history` frame around stored messages, assembled from their JSON text as stored (no re-encoding).
 * The caller keeps the page within `historyPageBytes` so the frame stays under the outbound limit.
 */
export function historyFrame(header: HistoryFrameHeader, storedMessages: readonly string[]): string {
  return `${historyHead(header)}${storedMessages.join(',')}]}`;
}

/**
 * Bytes of stored messages (plus one separator each) that a page may hold so that its `history` frame
 * stays within `maxBytes`, whatever the header's numbers.
 */
export function historyPageBytes(classRoomId: string, maxBytes = MAX_OUTBOUND_FRAME_BYTES): number {
  const widest = historyHead({
    classRoomId,
    epoch: Number.MAX_SAFE_INTEGER,
    lastSeq: Number.MAX_SAFE_INTEGER,
    done: false,
    complete: false,
  });
  return maxBytes - frameBytes(widest) - 2;
}
