/**
 * Fan-out policy over the management API: posts run with bounded concurrency over keep-alive connections.
 * A 410 marks only that connection as gone; 429, 5xx and network errors are retried with full-jitter
 * backoff bounded by the Lambda's remaining time; anything else fails that one delivery.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type BackoffPolicy, DEFAULT_BACKOFF, nextDelay } from './backoff';
import { DEFAULT_CONCURRENCY, type HttpError, type ManagementApi } from './management-api';
import { frameBytes, MAX_OUTBOUND_FRAME_BYTES } from './protocol';

export type DeliveryOutcome = 'delivered' | 'gone' | 'failed';

export interface BroadcastResult {
  delivered: string[];
  gone: string[];
  failed: string[];
  retries: number;
}

export class FrameTooLargeError extends Error {
  constructor(readonly bytes: number) {
    super(`Frame of ${bytes} bytes exceeds the ${MAX_OUTBOUND_FRAME_BYTES}-byte limit`);
    this.name = 'FrameTooLargeError';
  }
}

/** Classifies an error from a post: gone (410), retryable (429, 5xx, network) or fatal. */
export function classifyPostError(error: unknown): 'gone' | 'retry' | 'fatal' {
  const e = (error ?? {}) as HttpError;
  const status = e.$metadata?.httpStatusCode;
  if (status === 410 || e.name === 'GoneException') return 'gone';
  if (status === 429 || e.name === 'LimitExceededException' || e.name === 'ThrottlingException')
    return 'retry';
  if (status !== undefined && status >= 500) return 'retry';
  if (status === undefined) return 'retry'; // no HTTP answer: reset, timeout, DNS
  return 'fatal';
}

export interface BroadcastOptions {
  concurrency?: number;
  /** Milliseconds the invocation has left (Lambda `context.getRemainingTimeInMillis`). */
  remainingMs?: () => number;
  backoff?: BackoffPolicy;
}

export class Broadcaster {
  private readonly concurrency: number;
  private readonly remainingMs: () => number;
  private readonly backoff: BackoffPolicy;

  constructor(
    private readonly api: ManagementApi,
    options: BroadcastOptions = {},
  ) {
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.remainingMs = options.remainingMs ?? (() => 30_000);
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  /** Sends one frame to many connections. Throws FrameTooLargeError before posting anything. */
  async send(connectionIds: readonly string[], frame: string): Promise<BroadcastResult> {
    const bytes = frameBytes(frame);
    if (bytes > MAX_OUTBOUND_FRAME_BYTES) throw new FrameTooLargeError(bytes);
    const data = Buffer.from(frame, 'utf8');
    const result: BroadcastResult = { delivered: [], gone: [], failed: [], retries: 0 };
    let next = 0;
    const worker = async () => {
      while (next < connectionIds.length) {
        const id = connectionIds[next++] as string;
        const outcome = await this.deliver(id, data, result);
        result[outcome].push(id);
      }
    };
    const workers = Array.from({ length: Math.min(this.concurrency, connectionIds.length) }, worker);
    await Promise.all(workers);
    return result;
  }

  /** Sends several frames to one connection in order (history pages); stops at the first that fails. */
  async sendSequence(connectionId: string, frames: readonly string[]): Promise<DeliveryOutcome> {
    const result: BroadcastResult = { delivered: [], gone: [], failed: [], retries: 0 };
    for (const frame of frames) {
      const bytes = frameBytes(frame);
      if (bytes > MAX_OUTBOUND_FRAME_BYTES) throw new FrameTooLargeError(bytes);
    }
    for (const frame of frames) {
      const outcome = await this.deliver(connectionId, Buffer.from(frame, 'utf8'), result);
      if (outcome !== 'delivered') return outcome;
    }
    return 'delivered';
  }

  /** Closes connections (best effort; an already gone connection is not an error). */
  async disconnect(connectionIds: readonly string[]): Promise<void> {
    await Promise.all(
      connectionIds.map((id) =>
        this.api.remove(id).catch((error: unknown) => {
          if (classifyPostError(error) !== 'gone') throw error;
        }),
      ),
    );
  }

  private async deliver(id: string, data: Uint8Array, result: BroadcastResult): Promise<DeliveryOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.api.post(id, data);
        return 'delivered';
      } catch (error) {
        const kind = classifyPostError(error);
        if (kind === 'gone') return 'gone';
        if (kind === 'fatal') return 'failed';
        const delay = nextDelay(attempt, this.remainingMs(), this.backoff);
        if (delay === undefined) return 'failed';
        result.retries++;
        await sleep(delay);
      }
    }
  }
}
