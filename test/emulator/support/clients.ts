/**
 * Test helpers: a fixture gateway on a free port, real `ws` clients whose frames and close are
 * collected, the real management API client, and waits that fail with a clear message.
 */
import { join } from 'node:path';
import { BroadcastChannel } from 'node:worker_threads';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import WebSocket from 'ws';
import { Gateway, type GatewayOptions } from '../../../local/gateway';
import { RECORDER_CHANNEL, type Recorded, type RecorderMessage } from '../fixtures/handlers/recorder';

export const FIXTURE_TEMPLATE = join(__dirname, '..', 'fixtures', 'template.yaml');

export interface FixtureGateway {
  gateway: Gateway;
  logs: string[];
}

/** The fixture template on 127.0.0.1:0 with a log collected in memory. */
export async function startFixture(options: Partial<GatewayOptions> = {}): Promise<FixtureGateway> {
  const logs: string[] = [];
  const gateway = await Gateway.start({
    templatePath: FIXTURE_TEMPLATE,
    port: 0,
    host: '127.0.0.1',
    logger: (line) => logs.push(line),
    envOverrides: (address) => ({ MANAGEMENT_ENDPOINT: address.managementEndpoint }),
    ...options,
  });
  return { gateway, logs };
}

const store = globalThis as {
  __emulatorRecords?: Recorded[];
  __emulatorHooks?: Record<string, () => Promise<void>>;
};

/**
 * The fixture handlers run in the gateway's worker threads and post what they see here (see
 * fixtures/handlers/recorder.ts); a hook request is answered once the test's hook (if any) resolves.
 */
const recorder = new BroadcastChannel(RECORDER_CHANNEL);
recorder.unref();
recorder.onmessage = (message: unknown) => {
  const data = (message as { data?: RecorderMessage }).data;
  if (data?.type === 'record') {
    store.__emulatorRecords ??= [];
    store.__emulatorRecords.push(data.record);
  } else if (data?.type === 'hook') {
    const held = store.__emulatorHooks?.[data.name]?.() ?? Promise.resolve();
    void held.then(() => recorder.postMessage({ type: 'release', id: data.id } satisfies RecorderMessage));
  }
};
// Jest runs test files one after another in a process: each file's module instance answers its own hooks.
if (typeof afterAll === 'function') afterAll(() => recorder.close());

/** A recorded event, asserted field by field. */
// biome-ignore lint/suspicious/noExplicitAny: recorded events are read loosely in assertions
export type LooseEvent = Record<string, any>;

/** The events of one kind the fixture handlers recorded, optionally of one connection. */
export function eventsOf(kind: string, connectionId?: string): LooseEvent[] {
  return records(kind)
    .map((r) => r.event as LooseEvent)
    .filter((e) => connectionId === undefined || e.requestContext?.connectionId === connectionId);
}

/** Events the fixture handlers recorded (posted from the gateway's workers). */
export function records(kind?: string): Recorded[] {
  return (store.__emulatorRecords ?? []).filter((r) => kind === undefined || r.kind === kind);
}

export function clearRecords(): void {
  store.__emulatorRecords = [];
}

/** Makes a fixture handler's `hook(name)` wait for the returned `release()`. */
export function holdHook(name: string): { release: () => void; reached: Promise<void> } {
  let release = () => {};
  let reachedResolve = () => {};
  const reached = new Promise<void>((resolve) => {
    reachedResolve = resolve;
  });
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  store.__emulatorHooks = {
    ...store.__emulatorHooks,
    [name]: () => {
      reachedResolve();
      return gate;
    },
  };
  return { release, reached };
}

export function clearHooks(): void {
  store.__emulatorHooks = {};
}

/** Polls `probe` until it returns a value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T,
  what: string,
  timeoutMs = 15_000,
): Promise<NonNullable<Exclude<T, false>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null && value !== false)
      return value as NonNullable<Exclude<T, false>>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface Client {
  ws: WebSocket;
  /** The next frame not read yet (text). */
  next(timeoutMs?: number): Promise<string>;
  /** Frames received so far. */
  frames: string[];
  /** Resolves with the close code and reason the client saw. */
  closed: Promise<{ code: number; reason: string }>;
  send(value: unknown): void;
}

export class HandshakeRejected extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`handshake rejected with ${status}: ${body}`);
  }
}

/** Opens a WebSocket; rejects with HandshakeRejected when the server answers with an HTTP status. */
export function connect(url: string, protocols?: string[]): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    const frames: string[] = [];
    let read = 0;
    const waiters: Array<() => void> = [];
    ws.on('message', (data: Buffer) => {
      frames.push(data.toString('utf8'));
      for (const wake of waiters.splice(0)) wake();
    });
    const closed = new Promise<{ code: number; reason: string }>((resolveClosed) => {
      ws.on('close', (code, reason) => resolveClosed({ code, reason: reason.toString('utf8') }));
    });
    ws.on('error', (error) => reject(error));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString('utf8');
      });
      res.on('end', () => reject(new HandshakeRejected(res.statusCode ?? 0, body)));
    });
    ws.on('open', () =>
      resolve({
        ws,
        frames,
        closed,
        send: (value) => ws.send(typeof value === 'string' ? value : JSON.stringify(value)),
        async next(timeoutMs = 15_000) {
          const deadline = Date.now() + timeoutMs;
          while (read >= frames.length) {
            const left = deadline - Date.now();
            if (left <= 0)
              throw new Error(
                `no frame within ${timeoutMs} ms (got ${frames.length}: ${frames.join(' | ')})`,
              );
            await new Promise<void>((wake) => {
              const timer = setTimeout(wake, left);
              waiters.push(() => {
                clearTimeout(timer);
                wake();
              });
            });
          }
          return frames[read++] as string;
        },
      }),
    );
  });
}

/** The status of a handshake that must be rejected. */
export async function rejectedStatus(url: string): Promise<HandshakeRejected> {
  try {
    const client = await connect(url);
    client.ws.close();
  } catch (error) {
    if (error instanceof HandshakeRejected) return error;
    throw error;
  }
  throw new Error(`handshake to ${url} was accepted`);
}

/** The real SDK client against the gateway's management endpoint (no retries, so faults show). */
export function managementClient(gateway: Gateway): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({
    endpoint: gateway.managementEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
