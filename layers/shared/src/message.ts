/** Building message frames around their seq, so the Lua script stores `head + seq + tail` without re-encoding. */
import { randomUUID } from 'node:crypto';
import { frameBytes, MAX_OUTBOUND_FRAME_BYTES, type Member } from './protocol';

/** A stored message must still fit in a history frame with its envelope. */
export const MAX_MESSAGE_FRAME_BYTES = MAX_OUTBOUND_FRAME_BYTES - 1024;
const MAX_SEQ_DIGITS = 16;

export interface NewMessage {
  classRoomId: string;
  from: Member;
  kind: string;
  data: unknown;
}

export interface MessageParts {
  id: string;
  sentAt: number;
  head: string;
  tail: string;
  /** Size of the frame once its seq is in place (upper bound). */
  bytes: number;
  /** The whole frame without a seq (transient messages). */
  withoutSeq(): string;
  withSeq(seq: number): string;
}

export function messageParts(
  message: NewMessage,
  id: string = randomUUID(),
  sentAt = Date.now(),
): MessageParts {
  const head = `{"type":"message","classRoomId":${JSON.stringify(message.classRoomId)},"seq":`;
  const body = `"id":${JSON.stringify(id)},"from":${JSON.stringify({
    userId: message.from.userId,
    name: message.from.name,
    role: message.from.role,
  })},"kind":${JSON.stringify(message.kind)},"data":${JSON.stringify(message.data)},"sentAt":${sentAt}}`;
  const tail = `,${body}`;
  return {
    id,
    sentAt,
    head,
    tail,
    bytes: frameBytes(head) + frameBytes(tail) + MAX_SEQ_DIGITS,
    withoutSeq: () => `{"type":"message","classRoomId":${JSON.stringify(message.classRoomId)},${body}`,
    withSeq: (seq) => `${head}${seq}${tail}`,
  };
}

export function fitsInFrame(parts: MessageParts): boolean {
  return parts.bytes <= MAX_MESSAGE_FRAME_BYTES;
}
