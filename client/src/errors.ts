/** Errors the client raises: a base class, one subclass per cause, `name` set in each. */
import type { ServerErrorCode } from './types';

/** Base class of every error of the Client SDK. */
export class ClassroomError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ClassroomError';
  }
}

/** An `error` frame from the server (`code` is one of SPEC §4's error codes). */
export class ServerError extends ClassroomError {
  readonly code: ServerErrorCode;
  readonly action?: string;
  readonly clientMsgId?: string;

  constructor(code: ServerErrorCode, message: string, extra: { action?: string; clientMsgId?: string } = {}) {
    super(message);
    this.name = 'ServerError';
    this.code = code;
    this.action = extra.action;
    this.clientMsgId = extra.clientMsgId;
  }
}

/**
 * The server answered `unavailable` to every attempt of a send (the first and each resend with the same
 * `clientMsgId`): the message was never acknowledged, nor broadcast. Sending it again later with the same
 * `clientMsgId` (within the server's 60 s dedupe window) is safe: the server stores it at most once.
 */
export class UnavailableError extends ServerError {
  /** Times the message was sent (the first attempt and the resends). */
  readonly attempts: number;

  constructor(clientMsgId: string, attempts: number, serverMessage: string) {
    super(
      'unavailable',
      `Message ${clientMsgId} was not acknowledged: the server was unavailable for all ${attempts} attempts (${serverMessage})`,
      { action: 'sendMessage', clientMsgId },
    );
    this.name = 'UnavailableError';
    this.attempts = attempts;
  }
}

/** `send()` got no `ack` in time. The message may still have been stored: resend with the same `clientMsgId`. */
export class SendTimeoutError extends ClassroomError {
  readonly clientMsgId: string;

  constructor(clientMsgId: string, timeoutMs: number) {
    super(`No ack for ${clientMsgId} within ${timeoutMs} ms`);
    this.name = 'SendTimeoutError';
    this.clientMsgId = clientMsgId;
  }
}

/** The client was closed (by `close()`, the end of the class or a refused handshake) before the operation ended. */
export class ClientClosedError extends ClassroomError {
  constructor(message = 'The classroom client is closed') {
    super(message);
    this.name = 'ClientClosedError';
  }
}

/** The socket dropped before a transient send was acknowledged; transient messages are not resent. */
export class ConnectionLostError extends ClassroomError {
  constructor(message = 'The connection dropped before the ack') {
    super(message);
    this.name = 'ConnectionLostError';
  }
}

/** A frame over the gateway's 32 KB frame limit (it would close the socket with 1009). */
export class FrameTooLargeError extends ClassroomError {
  constructor(bytes: number, limit: number) {
    super(`Frame of ${bytes} bytes exceeds the ${limit}-byte limit`);
    this.name = 'FrameTooLargeError';
  }
}

/**
 * The handshake was refused (401: bad or expired token; 403: not allowed in this classroom), or, in a
 * browser, which cannot see the status, the socket failed to open `attempts` times in a row.
 */
export class HandshakeRefusedError extends ClassroomError {
  /** 401 or 403 when known (Node with `ws`); undefined in a browser. */
  readonly status?: number;
  readonly attempts: number;

  constructor(attempts: number, status?: number) {
    super(
      status !== undefined
        ? `Handshake refused with HTTP ${status}`
        : `The socket failed to open ${attempts} times in a row (refused token or unreachable server)`,
    );
    this.name = 'HandshakeRefusedError';
    this.status = status;
    this.attempts = attempts;
  }
}
