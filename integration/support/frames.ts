/** Exact SPEC §4 frames for assertions (`toEqual` fails on any missing or extra field). */
import type { Frame } from './client';
import type { Member } from './target';

/** Any room epoch (a positive integer); pass the exact one where a test knows it. */
export const anEpoch = expect.any(Number);

export function messageFrame(
  classRoomId: string,
  from: Member | { userId: string; name: string; role: string },
  fields: { seq: number; id: unknown; kind: string; data: unknown; epoch?: unknown },
): Frame {
  return {
    type: 'message',
    classRoomId,
    epoch: fields.epoch ?? anEpoch,
    seq: fields.seq,
    id: fields.id,
    from,
    kind: fields.kind,
    data: fields.data,
    sentAt: expect.any(Number),
  };
}

export function ackFrame(
  clientMsgId: string,
  seq: number,
  id: unknown = expect.any(String),
  epoch: unknown = anEpoch,
): Frame {
  return { type: 'ack', clientMsgId, epoch, seq, id };
}

export function errorFrame(code: string, extra: { action?: string; clientMsgId?: string } = {}): Frame {
  return { type: 'error', code, message: expect.any(String), ...extra };
}

export function presenceFrame(event: 'join' | 'leave', member: Member): Frame {
  return { type: 'presence', event, member };
}

export const SYSTEM = { userId: 'system', name: 'system', role: 'system' };

/** The `sendMessage` client frame. */
export function chat(text: string, clientMsgId?: string): Frame {
  return { action: 'sendMessage', kind: 'chat', data: { text }, ...(clientMsgId ? { clientMsgId } : {}) };
}
