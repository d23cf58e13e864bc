/**
 * The API Gateway management API client: one SDK client per endpoint and container, the direct post path
 * (the SDK client's own signer and request handler, without the command middleware: the fan-out's hot path)
 * and its fallback to `PostToConnectionCommand` when that path breaks. What to retry is the broadcaster's.
 */
import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { logger } from './observability';

/**
 * Posts in flight at once. 128 covers a room of 100 in one wave of round trips (bench: fanout_ms_100),
 * and bounds the keep-alive sockets (one TLS session each on AWS) a container opens.
 */
export const DEFAULT_CONCURRENCY = 128;

/** What the broadcaster needs from the management API; the real client is adapted by `managementApi`. */
export interface ManagementApi {
  post(connectionId: string, data: Uint8Array): Promise<void>;
  remove(connectionId: string): Promise<void>;
}

/** The fields of an SDK service error (or a network error) the path and the policy look at. */
export interface HttpError {
  name?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  code?: string;
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

type SdkRequest = Omit<Parameters<NodeHttpHandler['handle']>[0], 'clone'>;
type SdkResponse = Awaited<ReturnType<NodeHttpHandler['handle']>>['response'];
interface RequestSigner {
  sign(request: SdkRequest, options?: { signingDate?: Date }): Promise<SdkRequest>;
}
interface ClientParts {
  signer: () => Promise<RequestSigner>;
  requestHandler: NodeHttpHandler;
  systemClockOffset?: number;
}

/** The SDK's path escaping (encodeURIComponent, and also !'()*), as PostToConnectionCommand sends it. */
const escapePathSegment = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const ERROR_NAMES: Record<number, string> = {
  403: 'ForbiddenException',
  410: 'GoneException',
  413: 'PayloadTooLargeException',
  429: 'LimitExceededException',
};

async function readBody(response: SdkResponse): Promise<string> {
  const body = response.body as (AsyncIterable<Uint8Array> & { resume?: () => void }) | undefined;
  if (!body || typeof body[Symbol.asyncIterator] !== 'function') return '';
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** An error shaped like the SDK's service exceptions (name, message, $metadata.httpStatusCode, $fault). */
async function serviceError(response: SdkResponse): Promise<Error> {
  const text = await readBody(response).catch(() => '');
  let message = '';
  try {
    message = String((JSON.parse(text) as { message?: unknown }).message ?? '');
  } catch {
    // not JSON: keep the status line
  }
  const header = response.headers['x-amzn-errortype'] ?? response.headers['X-Amzn-ErrorType'];
  const name =
    header?.split(':')[0] || ERROR_NAMES[response.statusCode] || 'ApiGatewayManagementApiServiceException';
  const error = new Error(message || `${name} (HTTP ${response.statusCode})`) as Error & {
    $metadata: { httpStatusCode: number; requestId?: string };
    $fault: 'client' | 'server';
  };
  error.name = name;
  error.$metadata = {
    httpStatusCode: response.statusCode,
    requestId: response.headers['x-amzn-requestid'],
  };
  error.$fault = response.statusCode >= 500 ? 'server' : 'client';
  return error;
}

/**
 * PostToConnection with the client's own parts but not its per-command middleware stack: the request
 * PostToConnectionCommand sends (POST {endpoint}/@connections/{id}, the data as the body, the same path
 * escaping), signed by the client's SigV4 signer (its credentials chain, region and signing name) and sent
 * by the client's request handler (keep-alive agent, timeouts). `client.send` costs about 5x the CPU per
 * post (serde, endpoint rules, user agent, retry bookkeeping, a new signer per request), and a fan-out to a
 * room is that cost times the members (bench: fanout_cpu_ms_per_post). Errors keep the SDK's shape, so
 * classifyPostError treats both paths alike.
 */
export function fastPoster(client: ApiGatewayManagementApiClient, endpoint: string) {
  const parts = client.config as unknown as ClientParts;
  const url = new URL(endpoint);
  const basePath = url.pathname.replace(/\/+$/, '');
  const port = url.port ? Number(url.port) : undefined;
  let signer: Promise<RequestSigner> | undefined;
  // One body per broadcast: hash it once, not once per member.
  const hashes = new WeakMap<Uint8Array, string>();
  const payloadHash = (data: Uint8Array) => {
    let hash = hashes.get(data);
    if (hash === undefined) {
      hash = createHash('sha256').update(data).digest('hex');
      hashes.set(data, hash);
    }
    return hash;
  };
  return async (connectionId: string, data: Uint8Array): Promise<void> => {
    // Through a promise chain, so a signer provider that throws (or returns no promise) rejects the post.
    signer ??= Promise.resolve()
      .then(() => parts.signer())
      .catch((error: unknown) => {
        signer = undefined;
        throw error;
      });
    const request: SdkRequest = {
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port,
      path: `${basePath}/@connections/${escapePathSegment(connectionId)}`,
      query: {},
      headers: {
        host: url.host,
        'content-type': 'application/octet-stream',
        'content-length': String(data.byteLength),
        'x-amz-content-sha256': payloadHash(data),
      },
      body: data,
    };
    const signed = await (await signer).sign(request, {
      signingDate: new Date(Date.now() + (parts.systemClockOffset ?? 0)),
    });
    const { response } = await parts.requestHandler.handle(
      signed as Parameters<NodeHttpHandler['handle']>[0],
    );
    if (typeof response?.statusCode !== 'number') {
      // Not an HTTP answer the layer can read (a changed handler): an error without a status.
      throw new Error('management API: the request handler returned no HTTP status');
    }
    if (response.statusCode >= 200 && response.statusCode < 300) {
      (response.body as { resume?: () => void } | undefined)?.resume?.();
      return;
    }
    throw await serviceError(response);
  };
}

/** True when the client exposes the parts `fastPoster` signs and sends with (a future SDK may not). */
export function hasPostParts(client: ApiGatewayManagementApiClient): boolean {
  const parts = client.config as unknown as Partial<ClientParts>;
  return typeof parts.signer === 'function' && typeof parts.requestHandler?.handle === 'function';
}

/** API Gateway could not verify the request's SigV4 signature (403 InvalidSignatureException and kin). */
export function isSignatureError(error: unknown): boolean {
  const e = (error ?? {}) as HttpError & { message?: string };
  if (e.$metadata?.httpStatusCode !== 403) return false;
  return /signature/i.test(e.name ?? '') || /signature/i.test(e.message ?? '');
}

/** The error came back as an HTTP answer from the endpoint (it carries the answer's status). */
export function isHttpAnswer(error: unknown): boolean {
  return typeof (error as HttpError | undefined)?.$metadata?.httpStatusCode === 'number';
}

/**
 * The error has the shape of a transport fault of a working HTTP stack: a Node socket/DNS error (code
 * ECONNRESET, EPIPE, ETIMEDOUT, ENOTFOUND, EAI_AGAIN...) or the request handler's TimeoutError. A
 * TypeError and kin, Node's ERR_* codes, or anything else are not: they point at the code, not the network.
 */
export function isTransportFault(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError)
    return false;
  const code = (error as HttpError).code;
  return (typeof code === 'string' && /^E(?!RR_)[A-Z0-9_]+$/.test(code)) || error.name === 'TimeoutError';
}

/**
 * Posts through `fastPoster`, and through `PostToConnectionCommand` where that path does not work. The
 * direct path leans on SDK internals (the client's signer and request handler, their call shapes), which a
 * future SDK may change; then it must cost CPU, never deliveries. The rule, per client (container):
 *
 * - The client lacks the parts: the command from the start (one warning).
 * - A direct post refused as a bad signature (403 signature error): the direct path is broken.
 * - A direct post that fails WITHOUT an HTTP answer (no status: a throwing signer or handler, a handler
 *   answer without a statusCode, or a real network fault) is sent once more, at once, through the command.
 *   That resend tells the two apart, since the command shares the client's credentials, agent and endpoint:
 *   - the command gets no HTTP answer either: a real network fault. The direct path is kept, and the
 *     command's error goes back to the broadcaster, which classifies and retries it as before.
 *   - the command gets an HTTP answer (delivered, or a status such as 410): the endpoint answers the SDK
 *     path, so the direct one is broken, except for a transport-shaped fault (`isTransportFault`) on a
 *     direct path that has already delivered in this container: that is a blip on a working path (a
 *     keep-alive socket reset after a freeze is common, and the resend takes another socket), and the
 *     direct path is kept. (A transport fault on the very first direct posts does switch: a rare false
 *     verdict that costs CPU only.)
 *   The command's outcome is that post's outcome (its HTTP error is classified as usual).
 * - Once the direct path is judged broken, every post goes through the command (for this client); the post
 *   that showed it is resent through it; one warning, with the error, even when posts in flight fail
 *   together (only the first to come back switches and warns).
 *
 * So a broken signer or handler costs one extra request per post in flight at the switch, and no retry
 * loop; a real network fault costs one extra request per attempt (the resend). A handler that sent the
 * request but returned an unreadable answer may have delivered the post before its resend: a duplicate
 * frame, as a retry after a reset can give (message frames carry the seq clients drop repeats by).
 */
export function guardedPoster(
  client: ApiGatewayManagementApiClient,
  endpoint: string,
  warn: (message: string, detail: Record<string, unknown>) => void = (message, detail) =>
    logger.warn(message, detail),
): ManagementApi['post'] {
  const viaSdk = async (connectionId: string, data: Uint8Array) => {
    await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
  };
  if (!hasPostParts(client)) {
    warn(
      'management API: the SDK client has no signer/request handler to post with; using PostToConnectionCommand',
      {
        endpoint,
      },
    );
    return viaSdk;
  }
  const direct = fastPoster(client, endpoint);
  let useSdk = false;
  let directDelivered = false;
  const switchToSdk = (message: string, error: unknown) => {
    if (useSdk) return;
    useSdk = true;
    const e = error as Partial<Error> | undefined;
    warn(message, { endpoint, error: e?.message ?? String(error), errorName: e?.name });
  };
  const directBroken = (error: unknown) =>
    switchToSdk(
      'management API: a direct post failed without an HTTP answer where PostToConnectionCommand got one; using PostToConnectionCommand from now on',
      error,
    );
  return async (connectionId, data) => {
    if (useSdk) return viaSdk(connectionId, data);
    try {
      await direct(connectionId, data);
      directDelivered = true;
      return;
    } catch (error) {
      if (isSignatureError(error)) {
        switchToSdk(
          'management API refused the direct post signature; using PostToConnectionCommand from now on',
          error,
        );
        return viaSdk(connectionId, data);
      }
      if (isHttpAnswer(error)) throw error;
      // No HTTP answer: resend through the command, and judge the direct path by what it gets.
      const blip = directDelivered && isTransportFault(error);
      try {
        await viaSdk(connectionId, data);
      } catch (sdkError) {
        if (!isHttpAnswer(sdkError)) throw sdkError; // a real network fault: keep the direct path
        if (!blip) directBroken(error);
        throw sdkError;
      }
      if (!blip) directBroken(error);
    }
  };
}

const apis = new Map<string, ManagementApi>();

/** The management API of an endpoint, cached for the container with its client and signer. */
export function managementApi(endpoint: string): ManagementApi {
  let api = apis.get(endpoint);
  if (!api) {
    const client = managementClient(endpoint);
    api = {
      post: guardedPoster(client, endpoint),
      async remove(connectionId) {
        await client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
      },
    };
    apis.set(endpoint, api);
  }
  return api;
}

/** The endpoint from configuration, else from the request (`https://{domainName}/{stage}`; http on loopback). */
export function endpointFor(domainName: string, stage: string, configured?: string): string {
  if (configured) return configured;
  const local = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/.test(domainName);
  return `${local ? 'http' : 'https'}://${domainName}/${stage}`;
}
