/**
 * Classroom Realtime Client SDK: connect, send, receive in order, reconnect and resume.
 * See client/README.md for a guide.
 */
export { Backoff, fullJitterDelay } from './backoff';
export {
  ClassroomClient,
  type CoalescedSender,
  type CoalesceOptions,
  MAX_FRAME_BYTES,
  memberFromToken,
} from './client';
export { Coalescer, type CoalescerOptions, mergeStrokes, type StrokeSegment } from './coalescer';
export {
  ClassroomError,
  ClientClosedError,
  ConnectionLostError,
  FrameTooLargeError,
  HandshakeRefusedError,
  SendTimeoutError,
  ServerError,
  UnavailableError,
} from './errors';
export { type PushResult, type Sequenced, Sequencer } from './sequencer';
export * from './types';
