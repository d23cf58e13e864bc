/**
 * The API's AWS host names, served locally. Code in a function builds its management endpoint as it does on
 * AWS — `https://{domainName}/{stage}`, `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`, an
 * endpoint from its environment — and reaches the gateway's local HTTPS listener unchanged:
 *
 * - `install(config)` patches `tls.connect` so that a TLS connection to one of the API's hosts goes to
 *   `address:port` (the local listener) and trusts only the listener's self-signed certificate for it. The
 *   server name (SNI, certificate check) stays the AWS host. Every Node HTTPS client opens its connections
 *   through `tls.connect`: `https.request`/`https.Agent` (the AWS SDK v3's NodeHttpHandler), the global
 *   `fetch` (undici), `ws` (`wss://`), `http2.connect`. Other hosts are not touched; another API's
 *   `*.execute-api.*.amazonaws.com` host fails at once with a clear error (it is not emulated here).
 * - `localCertificate(hosts)` makes the listener's certificate (EC P-256, the hosts as DNS names).
 *
 * `install` runs in the function's own context before its handler loads: as a preload module of the
 * function runtime (`{ module: AWS_ENDPOINTS_MODULE, config }`), or in the gateway's process for functions
 * that run there. Installing twice in one process (several gateways) serves every installed API; each
 * `install` returns its own uninstall.
 */
import type { Socket } from 'node:net';
import type { ConnectionOptions, TLSSocket } from 'node:tls';

// The module object itself (not an ES namespace copy), so that the patch is what every caller sees.
const tls = require('node:tls') as typeof import('node:tls');
const net = require('node:net') as typeof import('node:net');

/** This module's path, for the function runtime's `preload` option. */
export const AWS_ENDPOINTS_MODULE = __filename;

export interface AwsEndpointsConfig {
  /** The host names served locally (the API's `domainName`, `{apiId}.execute-api.{region}.amazonaws.com`). */
  hosts: string[];
  /** The local HTTPS listener: `127.0.0.1` (or `::1`) and its port. */
  address: string;
  port: number;
  /** PEM certificate of the listener: the only one trusted for `hosts`. */
  ca: string;
  /** The API id and Region, for the error about other APIs. */
  apiId: string;
  region: string;
}

/** The error code of a connection to another API Gateway API than the emulated one. */
export const NOT_EMULATED = 'ERR_LOCAL_API_NOT_EMULATED';

/** Another API's execute-api host (REST, HTTP or WebSocket API of any Region). */
const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

interface Route extends AwsEndpointsConfig {
  token: symbol;
}

interface PatchState {
  original: typeof tls.connect;
  patched: typeof tls.connect;
  /** host -> installs serving it, the latest last. */
  routes: Map<string, Route[]>;
}

// On the tls module object, not in this module: one patch per process however many module instances
// (jest gives each test file its own registry; the process has one `tls`).
const STATE = Symbol.for('classroom-realtime.aws-endpoints');
type TlsWithState = typeof tls & { [STATE]?: PatchState };

function normalizeHost(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

/** Where a TLS connection to `host` goes: the latest install serving it, if any. */
export function routeFor(host: string): AwsEndpointsConfig | undefined {
  const routes = (tls as TlsWithState)[STATE]?.routes.get(normalizeHost(host));
  const route = routes?.[routes.length - 1];
  if (!route) return undefined;
  const { token: _token, ...config } = route;
  return config;
}

/** Serves the API's hosts locally in this process (or worker) until the returned function is called. */
export function install(config: AwsEndpointsConfig): () => void {
  if (!config || !Array.isArray(config.hosts) || !config.port || !config.ca)
    throw new Error('aws-endpoints: install({ hosts, address, port, ca, apiId, region }) needs every field');
  const state = patch();
  const route: Route = { ...config, token: Symbol(config.apiId) };
  const hosts = [...new Set(config.hosts.map(normalizeHost))];
  for (const host of hosts) state.routes.set(host, [...(state.routes.get(host) ?? []), route]);
  let installed = true;
  return () => {
    if (!installed) return;
    installed = false;
    for (const host of hosts) {
      const left = (state.routes.get(host) ?? []).filter((r) => r.token !== route.token);
      if (left.length > 0) state.routes.set(host, left);
      else state.routes.delete(host);
    }
    if (state.routes.size === 0) unpatch(state);
  };
}

function patch(): PatchState {
  const target = tls as TlsWithState;
  const existing = target[STATE];
  const state: PatchState = existing ?? {
    original: target.connect,
    patched: target.connect,
    routes: new Map(),
  };
  // Someone else's patch (a mocking library) in place of ours or of the original: ours goes on top of it.
  if (existing && target.connect !== state.patched && target.connect !== state.original)
    state.original = target.connect;
  // The latest module instance's function serves: its errors are of its realm (under jest, the test file's;
  // the SDK tells errors apart with instanceof Error).
  state.patched = connectFunction(state);
  target.connect = state.patched;
  target[STATE] = state;
  return state;
}

function connectFunction(state: PatchState): typeof tls.connect {
  // Bound now: an older function of ours that a foreign patch wraps keeps calling what it called.
  const call = state.original as (...args: unknown[]) => TLSSocket;
  return function connect(this: unknown, ...args: unknown[]): TLSSocket {
    const connect = connectArgs(args);
    const host = connect?.options.host;
    // A path (IPC, as net reads it: when truthy) or a socket already connected (a proxy tunnel) is never
    // redirected.
    if (!connect || connect.options.path || connect.options.socket || typeof host !== 'string')
      return call.apply(tls, args);
    const name = normalizeHost(host);
    const routes = state.routes.get(name);
    const route = routes?.[routes.length - 1];
    if (route) {
      const options: ConnectionOptions = {
        ...connect.options,
        host: route.address,
        port: route.port,
        // SNI and the certificate check stay on the AWS host name.
        servername: connect.options.servername || name,
        ca: route.ca,
        secureContext: undefined,
        lookup: undefined,
      };
      return call.apply(tls, connect.callback ? [options, connect.callback] : [options]);
    }
    if (EXECUTE_API_HOST.test(name)) return notEmulated(name, state);
    return call.apply(tls, args);
  } as typeof tls.connect;
}

function unpatch(state: PatchState): void {
  const target = tls as TlsWithState;
  // Someone patched on top of us (a mocking library): leave the chain as it is; routes are empty anyway.
  if (target.connect === state.patched) target.connect = state.original;
}

/** `tls.connect(options[, cb])` or `tls.connect(port[, host][, options][, cb])`; undefined for a path. */
function connectArgs(
  args: unknown[],
): { options: ConnectionOptions & { path?: string | null }; callback?: () => void } | undefined {
  const last = args[args.length - 1];
  const callback = typeof last === 'function' ? (last as () => void) : undefined;
  const rest = callback ? args.slice(0, -1) : args;
  const [first, second, third] = rest;
  if (first !== null && typeof first === 'object') return { options: { ...(first as object) }, callback };
  const port = typeof first === 'number' ? first : typeof first === 'string' ? Number(first) : Number.NaN;
  if (!Number.isInteger(port)) return undefined;
  const host = typeof second === 'string' ? second : undefined;
  const options = ((typeof second === 'object' && second) ||
    (typeof third === 'object' && third) ||
    {}) as ConnectionOptions;
  // As in Node: a port or host option wins over the argument.
  return { options: { ...options, port: options.port ?? port, host: options.host ?? host }, callback };
}

/** A socket that fails at once: `host` is an API Gateway API this emulator does not serve. */
function notEmulated(host: string, state: PatchState): TLSSocket {
  const served = [...new Set([...state.routes.values()].flat().map((r) => r.hosts[0]))];
  const error = Object.assign(
    new Error(
      `${host} is not the API this emulator serves (${served.join(', ')}): only its own management API ` +
        'is reachable locally; requests to other API Gateway APIs fail',
    ),
    { code: NOT_EMULATED, host },
  );
  const socket: Socket = new net.Socket();
  process.nextTick(() => socket.destroy(error));
  return socket as TLSSocket;
}

/** A self-signed certificate (and its key) for `hosts`, valid from a minute ago for a year. */
export async function localCertificate(hosts: string[]): Promise<{ key: string; cert: string }> {
  // Loaded only where a listener starts (the gateway), never in a function's worker.
  const selfsigned = require('selfsigned') as typeof import('selfsigned');
  const names = [...new Set(hosts.map(normalizeHost))];
  const now = Date.now();
  const pems = await selfsigned.generate([{ name: 'commonName', value: names[0] ?? 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 365 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
