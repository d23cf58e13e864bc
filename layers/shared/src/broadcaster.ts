/**
 * Fan-out through the API Gateway management API. Posts run with bounded concurrency over keep-alive
 * connections. A 410 marks only that connection as gone; 429, 5xx and network errors are retried with
 * full-jitter backoff bounded by the Lambda's remaining time; anything else fails that one delivery.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type BackoffPolicy, DEFAULT_BACKOFF, nextDelay } from './backoff';
import { frameBytes, MAX_OUTBOUND_FRAME_BYTES } from './protocol';

export const DEFAULT_CONCURRENCY = 64;

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

/** What the broadcaster needs from the management API; the real client is adapted by `managementApi`. */
export interface ManagementApi {
  post(connectionId: string, data: Uint8Array): Promise<void>;
  remove(connectionId: string): Promise<void>;
}

interface HttpError {
  name?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  code?: string;
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

const clients = new Map<string, ApiGatewayManagementApiClient>();

/** The SDK client for an endpoint, cached for the container; SDK retries off (the broadcaster retries). */
export function managementClient(
  endpoint: string,
  concurrency = DEFAULT_CONCURRENCY,
): ApiGatewayManagementApiClient {
  let client = clients.get(endpoint);
  if (!client) {
    const agentOptions = { keepAlive: true, maxSockets: concurrency };
    client = new ApiGatewayManagementApiClient({
      endpoint,
      maxAttempts: 1,
      requestHandler: new NodeHttpHandler({
        httpAgent: new HttpAgent(agentOptions),
        httpsAgent: new HttpsAgent(agentOptions),
        connectionTimeout: 1000,
        requestTimeout: 3000,
        // Without it a request past requestTimeout only logs a warning and keeps waiting.
        throwOnRequestTimeout: true,
      }),
    });
    clients.set(endpoint, client);
  }
  return client;
}

export function managementApi(endpoint: string): ManagementApi {
  const client = managementClient(endpoint);
  return {
    async post(connectionId, data) {
      await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
    },
    async remove(connectionId) {
      await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    },
  };
}

/** The endpoint from configuration, else from the request (`https://{domainName}/{stage}`; http on loopback). */
export function endpointFor(domainName: string, stage: string, configured?: string): string {
  if (configured) return configured;
  const local = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/.test(domainName);
  return `${local ? 'http' : 'https'}://${domainName}/${stage}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
