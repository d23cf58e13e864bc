/**
 * Building message frames around their epoch and seq, so the Lua script stores
 * `head + epoch + ',"seq":' + seq + tail` without re-encoding the message.
 */
import { randomUUID } from 'node:crypto';
import { frameBytes, MAX_OUTBOUND_FRAME_BYTES, type Member } from './protocol';

/** A stored message must still fit in a history frame with its envelope. */
export const MAX_MESSAGE_FRAME_BYTES = MAX_OUTBOUND_FRAME_BYTES - 1024;
/** Room of the epoch and seq digits and the `,"seq":` between them (16 + 7 + 16). */
const MAX_NUMBERS_BYTES = 39;

export interface NewMessage {
  classRoomId: string;
  from: Member;
  kind: string;
  data: unknown;
}

export interface MessageParts {
  id: string;
  sentAt: number;
  /** The frame up to its epoch's value; `tail` is the frame after the seq's value. */
  head: string;
  tail: string;
  /** Size of the frame once its epoch and seq are in place (upper bound). */
  bytes: number;
  /** The whole frame without a seq (transient messages). */
  withoutSeq(epoch: number): string;
  withSeq(epoch: number, seq: number): string;
}

export function messageParts(
  message: NewMessage,
  id: string = randomUUID(),
  sentAt = Date.now(),
): MessageParts {
  const head = `{"type":"message","classRoomId":${JSON.stringify(message.classRoomId)},"epoch":`;
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
    bytes: frameBytes(head) + frameBytes(tail) + MAX_NUMBERS_BYTES,
    withoutSeq: (epoch) => `${head}${epoch}${tail}`,
    withSeq: (epoch, seq) => `${head}${epoch},"seq":${seq}${tail}`,
  };
}

export function fitsInFrame(parts: MessageParts): boolean {
  return parts.bytes <= MAX_MESSAGE_FRAME_BYTES;
}
