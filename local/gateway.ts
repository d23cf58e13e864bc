/**
 * A local API Gateway WebSocket API for a SAM template: one HTTP server on 127.0.0.1 serving the
 * WebSocket API at `/STAGE` and the `@connections` management API on the same port, running the
 * template's Lambda handlers in-process. An HTTPS listener serves the same on the API's AWS host names
 * (`{apiId}.execute-api.{region}.amazonaws.com`), which the functions reach through local/aws-endpoints.ts.
 * See local/README.md for the options and the known differences.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  AWS_ENDPOINTS_MODULE,
  type AwsEndpointsConfig,
  install as installAwsEndpoints,
  localCertificate,
} from './aws-endpoints';
import {
  authorizerEvent,
  awsId,
  type ConnectionInfo,
  connectEvent,
  disconnectEvent,
  errorFrame,
  type HandshakeInfo,
  handshakeInfo,
  messageEvent,
  randomApiId,
} from './events';
import { FrameGuard } from './frame-guard';
import { FunctionRuntime, type InvocationOutcome, invocationLine } from './lambda-runtime';
import { type FaultInjection, handleManagementRequest, type ManagedConnection } from './management-api';
import {
  type AwsEndpoint,
  awsEndpoint,
  describeResources,
  type ProvidedResource,
  provideResources,
} from './resources';
import { selectRoute } from './route-selection';
import { createSqsClient, LocalQueues, SqsEventSource } from './sqs-source';
import {
  type AuthorizerDef,
  loadTemplate,
  type RouteDef,
  type TemplateModel,
  type TemplateOptions,
  type WebSocketApiDef,
} from './template';

/** Where the gateway listens, for options computed from it. */
export interface GatewayAddress {
  port: number;
  /** `ws://127.0.0.1:PORT/STAGE` */
  url: string;
  /** `http://127.0.0.1:PORT/STAGE` (the `@connections` endpoint for ApiGatewayManagementApiClient) */
  managementEndpoint: string;
  /** `{apiId}.execute-api.{region}.amazonaws.com` (or the `domainName` option): `requestContext.domainName`. */
  domainName: string;
}

export interface GatewayOptions {
  templatePath: string;
  /** Default 3001; 0 picks a free port. */
  port?: number;
  /** Loopback only: `127.0.0.1` (default), `::1` or `localhost`. */
  host?: string;
  /** Default: the template's stage name, else `local`. */
  stage?: string;
  /** The WebSocket API to serve when the template has several. */
  apiLogicalId?: string;
  /** `requestContext.apiId` (default: random, 10 characters). */
  apiId?: string;
  /**
   * `requestContext.domainName` (default `{apiId}.execute-api.{region}.amazonaws.com`), e.g. a custom domain
   * name. Functions reach the management API at `https://{domainName}/{stage}` and at the execute-api host.
   */
  domainName?: string;
  /** Port of the HTTPS listener serving the API's AWS host names to the functions (default: any free one). */
  httpsPort?: number;
  parameterOverrides?: Record<string, string>;
  /** Variables for every function (win over the template); may be computed from the address. */
  envOverrides?: Record<string, string> | ((address: GatewayAddress) => Record<string, string>);
  /** Variables per function logical id (win over `envOverrides`); may be computed from the address. */
  functionEnv?:
    | Record<string, Record<string, string>>
    | ((address: GatewayAddress) => Record<string, Record<string, string>>);
  /** Sets AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY to dummy values when neither they nor AWS_PROFILE are set. Default true. */
  dummyCredentials?: boolean;
  region?: string;
  accountId?: string;
  stackName?: string;
  /** Idle timeout (default 10 min) and maximum connection duration (default 2 h). */
  idleTimeoutMs?: number;
  hardTimeoutMs?: number;
  /** Frame limit (default 32 KB), message limit (default 128 KB), PostToConnection limit (default 128 KB). */
  maxFrameBytes?: number;
  maxMessageBytes?: number;
  maxPostBytes?: number;
  /** Integration timeout when the template sets no TimeoutInMillis (default 29 s). */
  integrationTimeoutMs?: number;
  /** Reload handler modules when files under the functions' CodeUri or the layers' ContentUri change. */
  watch?: boolean;
  /** More directories to watch. */
  watchPaths?: string[];
  /** Load every function at start instead of at its first invocation (one warm worker each). */
  preload?: boolean;
  /** Workers (concurrent invocations) per function at most; beyond, invocations queue. Default 16. */
  maxConcurrency?: number;
  /** Run the functions in this process, without isolation (the runtime before workers; the bench's baseline). */
  inProcess?: boolean;
  /**
   * Where the template's DynamoDB tables, SQS queues and Secrets Manager secrets are created before serving
   * (local/resources.ts): an AWS-compatible endpoint URL, `moto` (a moto server started from
   * `.venv/bin/moto_server`), or false for none. Default: `$AWS_ENDPOINT_URL`. The functions get it as
   * `AWS_ENDPOINT_URL`; the SQS event sources use it when `sqsEndpoint` and `$SQS_ENDPOINT` are unset.
   */
  aws?: string | false;
  /** SQS-compatible endpoint feeding the template's SQS event sources (default: $SQS_ENDPOINT, else `aws`). */
  sqsEndpoint?: string;
  /** Queue URLs by logical id, instead of creating the queues on the endpoint. */
  queueUrls?: Record<string, string>;
  /** Long-poll wait (default 20 s; short in tests). */
  sqsWaitTimeSeconds?: number;
  /** TEST ONLY: fail or delay management API requests. */
  faults?: FaultInjection;
  /** Requests that are neither the WebSocket API nor `@connections`: return true when handled. */
  httpHandler?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** One line per event (default: console.log with a `[gateway]` prefix). */
  logger?: (line: string) => void;
}

type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed';

interface Connection extends ConnectionInfo, ManagedConnection {
  state: ConnectionState;
  ws?: WebSocket;
  /** Set when the gateway closes the socket: what `$disconnect` reports. */
  serverClose?: { code: number; reason: string };
  oversize: boolean;
  idleTimer?: NodeJS.Timeout;
  hardTimer?: NodeJS.Timeout;
  closed: Promise<void>;
  markClosed: () => void;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
/**
 * Endpoints given to the functions of gateways running in this process: an in-process runtime writes its
 * functions' AWS_ENDPOINT_URL into process.env, which another gateway must not take for the user's.
 */
const endpointsInUse = new Map<string, number>();

const STARTUP_AWS_ENDPOINT_URL = process.env.AWS_ENDPOINT_URL;

/** `$AWS_ENDPOINT_URL`, unless a running gateway of this process put it there (it was not set at start). */
function userAwsEndpointUrl(): string | undefined {
  const value = process.env.AWS_ENDPOINT_URL;
  if (!value) return undefined;
  return value === STARTUP_AWS_ENDPOINT_URL || !endpointsInUse.has(value) ? value : undefined;
}
const SELECTED_PROTOCOL = Symbol('selectedProtocol');
const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;

export const CLOSE = {
  /** DeleteConnection: what `$disconnect` reports (the client gets 1000 with no reason). */
  deleted: { code: 1000, reason: 'Connection Closed Normally' },
  /** Idle or maximum duration timeout, gateway shutdown. */
  goingAway: { code: 1001, reason: 'Going away' },
  /** Binary frame (API Gateway does not accept them). */
  binary: { code: 1003, reason: 'Binary frames are not supported' },
  /** A frame over the frame limit or a message over the message limit. */
  tooBig: { code: 1009, reason: 'Message too big' },
  noStatus: { code: 1005, reason: 'Client-side close frame status not set' },
} as const;

export class Gateway {
  readonly host: string;
  readonly port: number;
  readonly stage: string;
  readonly apiId: string;
  /** `ws://127.0.0.1:PORT/STAGE` */
  readonly url: string;
  /** `http://127.0.0.1:PORT/STAGE`: the endpoint to give ApiGatewayManagementApiClient out of the functions. */
  readonly managementEndpoint: string;
  /** `http://127.0.0.1:PORT`: other HTTP requests (`httpHandler`, e.g. a demo page). */
  readonly origin: string;
  /** `{apiId}.execute-api.{region}.amazonaws.com` (or the `domainName` option): `requestContext.domainName`. */
  readonly domainName: string;
  /**
   * `https://{domainName}/{stage}`: the management endpoint as code on AWS builds it, reachable from the
   * functions (local/aws-endpoints.ts maps it to the HTTPS listener), not from other processes.
   */
  readonly awsManagementEndpoint: string;
  /** Port of the local HTTPS listener behind the API's AWS host names. */
  readonly httpsPort: number;
  /** What local/aws-endpoints.ts `install()` gets in a function's context (its preload config). */
  readonly awsEndpoints: AwsEndpointsConfig;
  readonly template: TemplateModel;
  readonly api: WebSocketApiDef;
  readonly runtime: FunctionRuntime;

  private readonly connections = new Map<string, Connection>();
  private readonly pendingSockets = new Set<Duplex>();
  private readonly wss: WebSocketServer;
  private readonly log: (line: string) => void;
  private readonly sqsSources: SqsEventSource[] = [];
  private readonly queueUrlsById: Record<string, string> = {};
  private watcher?: { close(): Promise<void> };
  private closing?: Promise<void>;
  private uninstallAwsEndpoints?: () => void;
  /** The endpoint of the template's other resources (`aws` option), and what was created there. */
  private aws?: AwsEndpoint;
  private provided: Record<string, ProvidedResource> = {};

  private constructor(
    private readonly server: Server,
    private readonly httpsServer: HttpsServer,
    private readonly options: GatewayOptions,
    address: { host: string; port: number; httpsPort: number; apiId: string; domainName: string; ca: string },
    template: TemplateModel,
    log: (line: string) => void,
  ) {
    this.host = address.host;
    this.port = address.port;
    this.httpsPort = address.httpsPort;
    this.apiId = address.apiId;
    this.template = template;
    this.api = template.webSocketApi as WebSocketApiDef;
    this.stage = options.stage ?? this.api.stageName ?? 'local';
    this.domainName = address.domainName;
    this.origin = `http://${hostPort(this.host, this.port)}`;
    this.url = `ws://${hostPort(this.host, this.port)}/${this.stage}`;
    this.managementEndpoint = `${this.origin}/${this.stage}`;
    this.awsManagementEndpoint = `https://${this.domainName}/${this.stage}`;
    this.awsEndpoints = {
      hosts: [...new Set([this.domainName, executeApiHost(this.apiId, template.region)])],
      address: this.host,
      port: this.httpsPort,
      ca: address.ca,
      apiId: this.apiId,
      region: template.region,
    };
    this.log = log;
    const gatewayAddress: GatewayAddress = {
      port: this.port,
      url: this.url,
      managementEndpoint: this.managementEndpoint,
      domainName: this.domainName,
    };
    const envOverrides =
      typeof options.envOverrides === 'function'
        ? options.envOverrides(gatewayAddress)
        : (options.envOverrides ?? {});
    this.runtime = new FunctionRuntime({
      functions: template.functions,
      envOverrides,
      functionEnv:
        typeof options.functionEnv === 'function' ? options.functionEnv(gatewayAddress) : options.functionEnv,
      region: template.region,
      dummyCredentials: options.dummyCredentials,
      maxConcurrency: options.maxConcurrency,
      inProcess: options.inProcess,
      // Each worker serves the API's AWS host names to its function (local/aws-endpoints.ts).
      preload: options.inProcess ? [] : [{ module: AWS_ENDPOINTS_MODULE, config: this.awsEndpoints }],
      log,
    });
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.maxMessageBytes,
      // API Gateway selects a subprotocol only when $connect returns Sec-WebSocket-Protocol.
      handleProtocols: (_protocols, req) =>
        (req as unknown as Record<symbol, string | undefined>)[SELECTED_PROTOCOL] ?? false,
    });
  }

  /** Listens, reads the template and starts the SQS sources; rejects (and closes) on any setup error. */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const host = options.host === undefined || options.host === 'localhost' ? '127.0.0.1' : options.host;
    if (!LOOPBACK.has(host))
      throw new Error(`gateway: host must be a loopback address (127.0.0.1, ::1, localhost), not ${host}`);
    const log = options.logger ?? ((line: string) => console.log(`[gateway] ${line}`));
    const apiId = options.apiId ?? randomApiId();
    const region = options.region ?? 'us-east-1';
    const domainName = (options.domainName ?? executeApiHost(apiId, region)).toLowerCase();
    const certificate = await localCertificate([domainName, executeApiHost(apiId, region)]);
    const server = createServer();
    const httpsServer = createHttpsServer({ key: certificate.key, cert: certificate.cert });
    const closeServers = () =>
      Promise.all([server, httpsServer].map((s) => new Promise((resolve) => s.close(resolve))));
    try {
      await listen(server, options.port ?? 3001, host);
      await listen(httpsServer, options.httpsPort ?? 0, host);
    } catch (error) {
      await closeServers();
      throw error;
    }
    const { port } = server.address() as AddressInfo;
    const { port: httpsPort } = httpsServer.address() as AddressInfo;
    let gateway: Gateway;
    let aws: AwsEndpoint | undefined;
    try {
      const templateOptions: TemplateOptions = {
        parameterOverrides: options.parameterOverrides,
        region,
        accountId: options.accountId,
        stackName: options.stackName,
        apiLogicalId: options.apiLogicalId,
        apiId,
        // `!GetAtt Api.ApiEndpoint` as on AWS: the functions reach it through the HTTPS listener.
        apiEndpoint: `wss://${executeApiHost(apiId, region)}`,
      };
      let template = loadServedTemplate(options, templateOptions);
      // The template's tables, queues and secrets, created before serving; then `!Ref`/`!GetAtt` of them
      // resolve to what was created.
      aws = await awsEndpoint(
        options.aws ?? userAwsEndpointUrl(),
        [template.model.dir],
        options.aws === undefined ? 'AWS_ENDPOINT_URL' : 'the aws option',
      );
      let provided: Record<string, ProvidedResource> = {};
      if (aws) {
        provided = await provideResources(template.model, { endpoint: aws.endpoint, log });
        template = loadServedTemplate(options, { ...templateOptions, provided });
      }
      gateway = new Gateway(
        server,
        httpsServer,
        withAwsEndpoint(options, aws, provided),
        { host, port, httpsPort, apiId, domainName, ca: certificate.cert },
        template.model,
        log,
      );
      gateway.aws = aws;
      gateway.provided = provided;
      if (aws) endpointsInUse.set(aws.endpoint, (endpointsInUse.get(aws.endpoint) ?? 0) + 1);
      if (template.stageParameter)
        log(
          `stage ${gateway.stage}: template parameter ${template.stageParameter} set to it (the API's StageName)`,
        );
    } catch (error) {
      await aws?.stop();
      await closeServers();
      throw error;
    }
    try {
      await gateway.setup();
    } catch (error) {
      await gateway.close();
      throw error;
    }
    return gateway;
  }

  /** Ids of the open connections. */
  connectionIds(): string[] {
    return [...this.connections.values()].filter((c) => c.state === 'open').map((c) => c.connectionId);
  }

  /** The AWS endpoint of the template's other resources (`aws` option), when there is one. */
  get awsEndpoint(): string | undefined {
    return this.aws?.endpoint;
  }

  /** The template's resources created (or found) on that endpoint, by logical id. */
  get resources(): Record<string, ProvidedResource> {
    return { ...this.provided };
  }

  /** Queue URLs of the SQS sources (and their dead-letter queues), by logical id. */
  get queueUrls(): Record<string, string> {
    return { ...this.queueUrlsById };
  }

  /** DeleteConnection: closes the socket (1000) and runs `$disconnect`. False when not open. */
  deleteConnection(connectionId: string): boolean {
    const connection = this.openConnection(connectionId);
    if (!connection) return false;
    this.closeFromServer(connection, CLOSE.deleted, '');
    return true;
  }

  /** Stops everything: open sockets get 1001 and their `$disconnect` runs; the environment is restored. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private get maxMessageBytes(): number {
    return this.options.maxMessageBytes ?? 128 * 1024;
  }

  private async setup(): Promise<void> {
    for (const warning of this.template.warnings) this.log(`template: ${warning}`);
    if (this.options.stage === undefined) this.log(`stage ${this.stage}: ${this.stageOrigin()}`);
    this.runtime.applyEnvironment();
    for (const line of describeResources(this.template, this.provided, this.aws, this.runtime.environments))
      this.log(`resources: ${line}`);
    this.logUnresolvedEnvironment();
    // The API's AWS host names are served in the functions' context only: each worker's preload, or this
    // process when the functions run in it (inProcess). Other code of this process is not redirected.
    if (this.options.inProcess) this.uninstallAwsEndpoints = installAwsEndpoints(this.awsEndpoints);
    for (const server of [this.server, this.httpsServer]) {
      server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
      server.on('request', (req, res) => this.onRequest(req, res));
    }
    if (this.options.preload) {
      const ids = [...this.template.functions].filter(([, def]) => !def.problem).map(([id]) => id);
      await Promise.all(ids.map((id) => this.runtime.preload(id)));
    }
    if (this.options.watch) await this.startWatching();
    await this.startSqsSources();
    const routes = [...this.api.routes.values()]
      .map(
        (r) =>
          `${r.routeKey}→${r.functionId ?? '?'}${r.twoWay ? ' (two-way)' : ''}${r.authorizer ? ` (authorizer ${r.authorizer.functionId})` : ''}`,
      )
      .join(', ');
    this.log(`${this.api.logicalId} (${this.api.routeSelectionExpression}) at ${this.url}: ${routes}`);
    this.log(
      `management API at ${this.managementEndpoint}/@connections/{connectionId}; functions reach it at ` +
        `${this.awsManagementEndpoint} too (HTTPS on port ${this.httpsPort})`,
    );
  }

  private stageOrigin(): string {
    if (this.api.stageName !== undefined)
      return `the StageName of ${this.api.stageLogicalId} (AWS::ApiGatewayV2::Stage of ${this.api.logicalId})`;
    return `${this.api.logicalId} has no AWS::ApiGatewayV2::Stage with a StageName known locally: local`;
  }

  private logUnresolvedEnvironment(): void {
    const names = new Set<string>();
    for (const def of this.template.functions.values()) {
      const effective = this.runtime.environments.get(def.logicalId) ?? {};
      for (const name of def.unresolvedEnvironment) if (!effective[name]) names.add(name);
    }
    if (names.size > 0) {
      this.log(
        `environment: ${[...names].join(', ')} cannot be resolved locally and are empty (override them if needed)`,
      );
    }
  }

  // ---- WebSocket handshake -------------------------------------------------------------------------

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/$/, '');
    const key = req.headers['sec-websocket-key'];
    const version = req.headers['sec-websocket-version'];
    const isWebSocket =
      (req.headers.upgrade ?? '').toLowerCase() === 'websocket' &&
      key !== undefined &&
      WS_KEY.test(key) &&
      (version === '13' || version === '8');
    if (this.closing) rejectHandshake(socket, 503, 'Service Unavailable');
    else if (path !== `/${this.stage}`) rejectHandshake(socket, 403, 'Forbidden');
    else if (!isWebSocket) rejectHandshake(socket, 400, 'Bad Request');
    else void this.handshake(req, socket, head);
  }

  private async handshake(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const now = Date.now();
    let markClosed = () => {};
    const closed = new Promise<void>((resolve) => {
      markClosed = resolve;
    });
    const connection: Connection = {
      connectionId: awsId(),
      connectedAt: now,
      lastActiveAt: now,
      sourceIp: normalizeIp(req.socket.remoteAddress),
      userAgent: req.headers['user-agent'] ?? '',
      apiId: this.apiId,
      stage: this.stage,
      domainName: this.domainName,
      state: 'connecting',
      oversize: false,
      closed,
      markClosed,
    };
    this.connections.set(connection.connectionId, connection);
    this.pendingSockets.add(socket);
    let socketGone = false;
    socket.once('close', () => {
      socketGone = true;
    });
    const fail = (status: number, message: string) => {
      this.forget(connection);
      rejectHandshake(socket, status, message);
    };
    try {
      const handshake = handshakeInfo(req, connection.sourceIp, this.port);
      const route = this.api.routes.get('$connect');
      if (route?.authorizer) {
        const status = await this.authorize(connection, route.authorizer, handshake);
        if (status !== 200)
          return fail(
            status,
            status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Internal server error',
          );
      }
      let protocol: string | undefined;
      const connectRan = route !== undefined;
      if (route) {
        const requestId = awsId();
        const event = connectEvent(connection, handshake, this.api.stageVariables, requestId, Date.now());
        let verdict: HandshakeVerdict = { status: 200, message: '' };
        const outcome = await this.invokeRoute(route, connection, event, (result, status) => {
          verdict = this.connectVerdict(route, result);
          if (!result.ok) return `${verdict.status} ${status}`;
          const raw = (result.value as { statusCode?: unknown } | null | undefined)?.statusCode;
          return verdict.status === 502
            ? `502 (statusCode ${JSON.stringify(raw)} is no final HTTP status)`
            : status;
        });
        if (verdict.status !== 200) return fail(verdict.status, verdict.message);
        protocol = headerOf(outcome.value, 'sec-websocket-protocol');
      }
      if (socketGone || this.closing) {
        // The client left (or we are stopping) while $connect ran: it connected, so it disconnects.
        this.forget(connection);
        if (!socketGone) rejectHandshake(socket, 503, 'Service Unavailable');
        if (connectRan) this.runDisconnect(connection, 1006, '');
        return;
      }
      (req as unknown as Record<symbol, string | undefined>)[SELECTED_PROTOCOL] = protocol;
      this.pendingSockets.delete(socket);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(connection, ws, socket));
    } catch (error) {
      this.log(`$connect ${connection.connectionId} failed: ${(error as Error).message}${stackBlock(error)}`);
      fail(500, 'Internal server error');
    }
  }

  /**
   * What the client gets from `$connect`'s outcome, as API Gateway answers it:
   * - a 2xx `statusCode` (or none) opens the socket; any other valid status (3xx, 4xx, 5xx) rejects the
   *   handshake with that status: the client sees it ("Unexpected server response: 400" in the AWS
   *   subprotocol example, docs "Set up a $connect route that requires a WebSocket subprotocol";
   *   serverless-offline PR #1301 "If a non-2xx Status Code is returned, the handshake is rejected" and its
   *   websocket-twoway test passing 401/500/501/502 through);
   * - a function error (throw, rejected promise, callback(error), Lambda timeout) answers 502, as a Lambda
   *   proxy integration's function error does (public reports of `$connect` errors: "Unexpected server
   *   response: 502", serverless/serverless-websockets-plugin#13, mavi888/websockets-chat#1,
   *   michalkvasnicak/aws-lambda-graphql#107; serverless-offline's test "websocket emits 502 on connection
   *   error");
   * - an integration timeout shorter than the function's Timeout answers 504 "Endpoint request timed out"
   *   (REST's INTEGRATION_TIMEOUT, 504; not documented for WebSocket APIs);
   * - a `statusCode` that is no final HTTP status (1xx, < 100, > 599, not a number) is a malformed proxy
   *   response: 502 (REST: "If the function output is of a different format, API Gateway returns a 502";
   *   a 1xx cannot end an HTTP exchange, RFC 9110 §15.2). Not documented for WebSocket APIs: our choice.
   */
  private connectVerdict(route: RouteDef, outcome: InvocationOutcome): HandshakeVerdict {
    if (!outcome.ok) {
      const functionTimeoutMs =
        (this.template.functions.get(route.functionId ?? '')?.timeoutSeconds ?? 0) * 1000;
      if (outcome.timedOut && this.integrationTimeout(route) < functionTimeoutMs)
        return { status: 504, message: 'Endpoint request timed out' };
      return { status: 502, message: 'Internal server error' };
    }
    const raw = (outcome.value as { statusCode?: unknown } | null | undefined)?.statusCode;
    if (raw === undefined || raw === null) return { status: 200, message: '' };
    const status =
      typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(status) || status < 200 || status > 599)
      return { status: 502, message: 'Internal server error' };
    return status < 300 ? { status: 200, message: '' } : { status, message: '' };
  }

  /** Runs the REQUEST authorizer; 200 to go on, else the handshake's status. */
  private async authorize(
    connection: Connection,
    authorizer: AuthorizerDef,
    handshake: HandshakeInfo,
  ): Promise<number> {
    const missing = authorizer.identitySources.find(
      (source) => !identityValue(source, handshake, this.api.stageVariables),
    );
    if (missing) {
      this.log(
        invocationLine(
          'authorizer',
          authorizer.functionId ?? '?',
          connection.connectionId,
          `401 (no ${missing})`,
          0,
        ),
      );
      return 401;
    }
    if (authorizer.problem || !authorizer.functionId) {
      this.log(`authorizer ${authorizer.logicalId}: ${authorizer.problem}`);
      return 500;
    }
    const event = authorizerEvent(
      connection,
      handshake,
      this.api.stageVariables,
      this.template.region,
      this.template.accountId,
      awsId(),
      Date.now(),
    );
    const outcome = await this.runtime.invoke(authorizer.functionId, event);
    // As API Gateway answers a Lambda authorizer (REST docs, which the WebSocket page says apply, "similar to
    // that for REST APIs"; its WebSocket example calls back "Unauthorized"):
    // - a function error whose message is exactly "Unauthorized" (throw new Error('Unauthorized'),
    //   callback('Unauthorized'), throw 'Unauthorized') → 401 (REST example: `callback("Unauthorized"); //
    //   Return a 401 Unauthorized response`; auth0-samples/jwt-rsa-aws-custom-authorizer#6,
    //   jghaines/lambda-auth0-authorizer#4: any other text gives 500);
    // - any other function error or a timeout → 500 (`callback("Error: Invalid token"); // Return a 500`);
    // - a result that is no policy — without principalId or policyDocument, null, or a returned string such as
    //   "Unauthorized" (a successful invocation, not an error) → 500 (AuthorizerConfigurationException: docs
    //   "output must include the principal identifier (principalId) and a policy document";
    //   serverless/examples#305, ExpanseLLC/lambda_authorizer#1 "Could not parse policy"). serverless-offline
    //   answers 401 to a returned "Unauthorized"; we follow the docs;
    // - a policy that does not allow execute-api:Invoke on the method ARN → 403.
    let status: number;
    let verdict: string;
    let error = '';
    if (!outcome.ok) {
      status = outcome.error?.message === 'Unauthorized' && !outcome.timedOut ? 401 : 500;
      verdict =
        status === 401
          ? 'Unauthorized'
          : outcome.timedOut
            ? `timeout (${outcome.error?.message})`
            : `error (${outcome.error?.name}: ${outcome.error?.message})`;
      if (status === 500 && !outcome.timedOut) error = stackBlock(outcome.error);
    } else {
      try {
        const result = authorizerResult(outcome.value);
        const allowed = policyAllows(result.policyDocument, event.methodArn as string);
        if (allowed) connection.authorizer = authorizerContext(result);
        status = allowed ? 200 : 403;
        verdict = allowed ? 'Allow' : 'Deny';
      } catch (invalid) {
        status = 500;
        verdict = `invalid response (${(invalid as Error).message})`;
      }
    }
    this.log(
      invocationLine(
        'authorizer',
        authorizer.functionId,
        connection.connectionId,
        `${status} ${verdict}`,
        outcome.durationMs,
        outcome,
      ) + error,
    );
    return status;
  }

  private onOpen(connection: Connection, ws: WebSocket, socket: Duplex): void {
    connection.ws = ws;
    connection.state = 'open';
    const guard = new FrameGuard(this.options.maxFrameBytes ?? 32 * 1024, this.maxMessageBytes);
    // Runs before ws parses the same bytes, so an oversized message is never routed.
    socket.prependListener('data', (chunk: Buffer) => {
      if (!connection.oversize && guard.push(chunk)) {
        connection.oversize = true;
        this.closeFromServer(connection, CLOSE.tooBig);
      }
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => void this.onMessage(connection, data, isBinary));
    ws.on('close', (code: number, reason: Buffer) => this.onClose(connection, code, reason.toString('utf8')));
    ws.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') connection.serverClose ??= CLOSE.tooBig;
    });
    const idleMs = this.options.idleTimeoutMs ?? 10 * 60 * 1000;
    const checkIdle = () => {
      const idleFor = Date.now() - connection.lastActiveAt;
      if (idleFor >= idleMs) this.closeFromServer(connection, CLOSE.goingAway);
      else connection.idleTimer = setTimeout(checkIdle, idleMs - idleFor);
    };
    connection.idleTimer = setTimeout(checkIdle, idleMs);
    connection.hardTimer = setTimeout(
      () => this.closeFromServer(connection, CLOSE.goingAway),
      this.options.hardTimeoutMs ?? 2 * 60 * 60 * 1000,
    );
  }

  // ---- Messages --------------------------------------------------------------------------------------

  private async onMessage(connection: Connection, data: Buffer, isBinary: boolean): Promise<void> {
    if (connection.state !== 'open' || connection.oversize) return;
    connection.lastActiveAt = Date.now();
    if (isBinary) {
      this.closeFromServer(connection, CLOSE.binary);
      return;
    }
    const body = data.toString('utf8');
    const requestId = awsId();
    const routeKey = selectRoute(this.api.routeSelectionExpression, body, this.api.routes);
    if (!routeKey) {
      this.reply(connection, errorFrame('Forbidden', connection.connectionId, requestId));
      this.log(invocationLine('(no route)', '-', connection.connectionId, 'Forbidden', 0));
      return;
    }
    const route = this.api.routes.get(routeKey) as RouteDef;
    const event = messageEvent(connection, routeKey, body, this.api.stageVariables, requestId, Date.now());
    const outcome = await this.invokeRoute(route, connection, event);
    if (!outcome.ok) {
      const functionTimeoutMs =
        (this.template.functions.get(route.functionId ?? '')?.timeoutSeconds ?? 0) * 1000;
      const integrationTimedOut = outcome.timedOut && this.integrationTimeout(route) < functionTimeoutMs;
      const message = integrationTimedOut ? 'Endpoint request timed out' : 'Internal server error';
      this.reply(connection, errorFrame(message, connection.connectionId, requestId));
      return;
    }
    if (route.twoWay) {
      const reply = bodyOf(outcome.value);
      if (reply) this.reply(connection, reply);
    }
  }

  private integrationTimeout(route: RouteDef): number {
    return route.integrationTimeoutMs ?? this.options.integrationTimeoutMs ?? 29_000;
  }

  /**
   * Invokes a route's function and logs one line (`route function connection status duration`); a failing
   * `$connect`'s error stack follows it in the same entry (the handshake only answers a status). `describe`
   * may rewrite the status.
   */
  private async invokeRoute(
    route: RouteDef,
    connection: Connection,
    event: Record<string, unknown>,
    describe?: (outcome: InvocationOutcome, status: string) => string,
  ): Promise<InvocationOutcome> {
    if (route.problem || !route.functionId) {
      const outcome = {
        ok: false,
        timedOut: false,
        durationMs: 0,
        requestId: '',
        error: new Error(route.problem),
      };
      const status = `error (${route.problem})`;
      this.log(
        invocationLine(
          route.routeKey,
          route.functionId ?? '-',
          connection.connectionId,
          describe ? describe(outcome, status) : status,
          0,
        ),
      );
      return outcome;
    }
    const outcome = await this.runtime.invoke(route.functionId, event, this.integrationTimeout(route));
    const status = outcome.ok
      ? String(statusOf(outcome.value))
      : outcome.timedOut
        ? 'timeout'
        : `error (${outcome.error?.name}: ${outcome.error?.message})`;
    this.log(
      invocationLine(
        route.routeKey,
        route.functionId,
        connection.connectionId,
        describe ? describe(outcome, status) : status,
        outcome.durationMs,
        outcome,
      ) + (route.routeKey !== '$connect' || outcome.ok || outcome.timedOut ? '' : stackBlock(outcome.error)),
    );
    return outcome;
  }

  /** A frame from the gateway itself (route response, error frame); lost if the socket is gone. */
  private reply(connection: Connection, text: string): void {
    this.sendFrame(connection, text).catch(() => {});
  }

  private sendFrame(connection: Connection, text: string | Buffer): Promise<void> {
    const ws = connection.ws;
    if (connection.state !== 'open' || !ws || ws.readyState !== ws.OPEN)
      return Promise.reject(new Error('gone'));
    connection.lastActiveAt = Date.now();
    return new Promise((resolve, reject) =>
      ws.send(text, { binary: false }, (error) => (error ? reject(error) : resolve())),
    );
  }

  // ---- Closing -----------------------------------------------------------------------------------------

  /** Closes from the gateway's side; `$disconnect` reports `status`, the client gets `clientReason`. */
  private closeFromServer(
    connection: Connection,
    status: { code: number; reason: string },
    clientReason = status.reason,
  ): void {
    if (connection.state !== 'open' || !connection.ws) return;
    connection.state = 'closing';
    connection.serverClose ??= { ...status };
    connection.ws.close(status.code, clientReason);
    // A client that never answers the close frame is cut off.
    setTimeout(() => connection.ws?.terminate(), 2000).unref();
  }

  private onClose(connection: Connection, code: number, reason: string): void {
    if (connection.state === 'closed') return;
    const status =
      connection.serverClose ?? (code === CLOSE.noStatus.code ? CLOSE.noStatus : { code, reason });
    this.forget(connection);
    this.runDisconnect(connection, status.code, status.reason);
  }

  private runDisconnect(connection: Connection, code: number, reason: string): void {
    const route = this.api.routes.get('$disconnect');
    if (!route) return;
    const event = disconnectEvent(connection, code, reason, this.api.stageVariables, awsId(), Date.now());
    void this.invokeRoute(route, connection, event);
  }

  private forget(connection: Connection): void {
    clearTimeout(connection.idleTimer);
    clearTimeout(connection.hardTimer);
    connection.state = 'closed';
    this.connections.delete(connection.connectionId);
    connection.markClosed();
  }

  private openConnection(connectionId: string): Connection | undefined {
    const connection = this.connections.get(connectionId);
    return connection?.state === 'open' ? connection : undefined;
  }

  private async shutdown(): Promise<void> {
    await Promise.all(this.sqsSources.map((s) => s.stop()));
    await this.watcher?.close();
    const open = [...this.connections.values()];
    for (const connection of open) this.closeFromServer(connection, CLOSE.goingAway);
    for (const socket of this.pendingSockets) socket.destroy();
    await Promise.race([Promise.all(open.filter((c) => c.ws).map((c) => c.closed)), delay(3000)]);
    await this.runtime.drain();
    this.wss.close();
    for (const server of [this.server, this.httpsServer]) server.closeAllConnections();
    await Promise.all(
      [this.server, this.httpsServer].map((server) => new Promise((resolve) => server.close(resolve))),
    );
    this.uninstallAwsEndpoints?.();
    await this.runtime.close();
    if (this.aws) {
      const count = (endpointsInUse.get(this.aws.endpoint) ?? 1) - 1;
      if (count > 0) endpointsInUse.set(this.aws.endpoint, count);
      else endpointsInUse.delete(this.aws.endpoint);
      await this.aws.stop();
    }
  }

  // ---- HTTP: management API and the rest ---------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const match = /^\/([^/]+)\/(?:@|%40)connections\/([^/]+)\/?$/.exec(path);
    if (match && decodeURIComponent(match[1] as string) === this.stage) {
      const connectionId = decodeURIComponent(match[2] as string);
      const handle = () =>
        handleManagementRequest(req, res, connectionId, {
          find: (id) => this.openConnection(id),
          send: (id, data) => {
            const connection = this.openConnection(id);
            return connection ? this.sendFrame(connection, data) : Promise.reject(new Error('gone'));
          },
          remove: (id) => this.deleteConnection(id),
          maxPostBytes: this.options.maxPostBytes ?? 128 * 1024,
          faults: this.options.faults,
        }).catch((error: Error) => {
          this.log(`management API: ${error.message}`);
          if (!res.headersSent) res.writeHead(500).end();
        });
      // A connection still in its handshake: its $connect may have returned in its worker with the result not
      // yet read by this thread (a message behind this request in the event loop). API Gateway opens the
      // socket as soon as $connect returns: let such a result arrive (two loop turns) before answering 410.
      if (this.connections.get(connectionId)?.state === 'connecting')
        setImmediate(() => setImmediate(handle));
      else handle();
      return;
    }
    if (this.options.httpHandler?.(req, res)) return;
    req.resume();
    if (path === `/${this.stage}` || path.startsWith(`/${this.stage}/`)) {
      // A plain HTTP request on the stage's WebSocket URL: API Gateway answers 426 (serverless-offline's
      // WebSocket suite, run against AWS too: tests/manual/websocket/main/test/e2e/ws.e2e.js, "should request
      // to upgade to WebSocket when receving an HTTP request", GET /{stage}/{x} → 426). RFC 9110 §15.5.22: with
      // the protocol to upgrade to.
      const upgrade = JSON.stringify({ message: 'Upgrade Required' });
      res
        .writeHead(426, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(upgrade),
          upgrade: 'websocket',
        })
        .end(upgrade);
      return;
    }
    const body = JSON.stringify({ message: 'Not Found' });
    res
      .writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      .end(body);
  }

  // ---- Watch and SQS ------------------------------------------------------------------------------------

  private async startWatching(): Promise<void> {
    const dirs = [
      ...new Set([
        ...[...this.template.functions.values()].flatMap((f) => (f.codeDir ? [f.codeDir] : [])),
        ...this.template.layerDirs,
        ...(this.options.watchPaths ?? []),
      ]),
    ];
    // chokidar is ESM-only; require() of ESM works on Node >= 20.19 (and under tsx).
    const chokidar = require('chokidar') as typeof import('chokidar');
    const watcher = chokidar.watch(dirs, {
      ignoreInitial: true,
      ignored: (path: string) => /[\\/](node_modules|\.aws-sam|dist)[\\/]?/.test(path),
    });
    let timer: NodeJS.Timeout | undefined;
    watcher.on('all', (_event: string, path: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.runtime.invalidate(dirs);
        this.log(`reload: ${path} changed; functions reload on their next invocation`);
      }, 100);
    });
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.watcher = {
      close: async () => {
        clearTimeout(timer);
        await watcher.close();
      },
    };
    this.log(`watching ${dirs.length} directories for changes`);
  }

  private async startSqsSources(): Promise<void> {
    const sources = this.template.sqsSources.filter((s) => s.enabled);
    if (sources.length === 0) return;
    const endpoint = this.options.sqsEndpoint ?? process.env.SQS_ENDPOINT;
    if (!endpoint) {
      for (const s of sources) {
        this.log(
          `sqs: ${s.functionId} event ${s.name} (queue ${s.queueName}) is NOT fed: no SQS endpoint (set SQS_ENDPOINT or sqsEndpoint)`,
        );
      }
      return;
    }
    const client = createSqsClient({ endpoint, region: this.template.region });
    const queues = new LocalQueues(client, this.template.queues, this.options.queueUrls);
    for (const def of sources) {
      const source = new SqsEventSource({
        source: def,
        client,
        queues,
        region: this.template.region,
        waitTimeSeconds: this.options.sqsWaitTimeSeconds ?? 20,
        invoke: (id, event) => this.runtime.invoke(id, event),
        log: this.log,
      });
      const url = await source.start();
      this.sqsSources.push(source);
      this.log(`sqs: ${def.functionId} is fed from ${url} (batch ${def.batchSize})`);
    }
    Object.assign(this.queueUrlsById, await queues.known());
  }
}

// ---- helpers ------------------------------------------------------------------------------------------

interface AuthorizerResult {
  principalId?: unknown;
  policyDocument?: { Statement?: unknown };
  context?: Record<string, unknown>;
}

/** The status (and JSON `message`) a `$connect` outcome answers the handshake with; 200 opens the socket. */
interface HandshakeVerdict {
  status: number;
  message: string;
}

/** A Lambda authorizer's output, or why it is none (API Gateway: AuthorizerConfigurationException, 500). */
function authorizerResult(value: unknown): AuthorizerResult {
  if (typeof value === 'string')
    throw new Error(
      `returned the string ${JSON.stringify(value.slice(0, 40))}, not a policy` +
        (value === 'Unauthorized'
          ? ": to answer 401, throw new Error('Unauthorized') or callback('Unauthorized')"
          : ''),
    );
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(
      `returned ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not a policy`,
    );
  const result = value as AuthorizerResult;
  if (
    result.principalId === undefined ||
    result.principalId === null ||
    typeof result.principalId === 'object'
  )
    throw new Error('no principalId');
  return result;
}

/** The stack of an error as indented lines after a log line (its first line repeats the message): '' if none. */
function stackBlock(error: unknown): string {
  const err = error as { stack?: unknown; name?: unknown; message?: unknown } | undefined;
  if (!err || typeof err.stack !== 'string') return '';
  const lines = err.stack.split('\n');
  const frames = lines.slice(lines.findIndex((line) => /^\s+at /.test(line)));
  const rest = frames.length > 0 && /^\s+at /.test(frames[0] as string) ? frames : [];
  return rest.length === 0 ? '' : `\n${rest.map((line) => `    ${line.trim()}`).join('\n')}`;
}

/**
 * The options with the AWS endpoint of the template's resources: every function gets it as AWS_ENDPOINT_URL
 * (the options' own variables win), the SQS sources use it and the queues created there.
 */
function withAwsEndpoint(
  options: GatewayOptions,
  aws: AwsEndpoint | undefined,
  provided: Record<string, ProvidedResource>,
): GatewayOptions {
  if (!aws) return options;
  const queueUrls: Record<string, string> = {};
  for (const resource of Object.values(provided))
    if (resource.type === 'AWS::SQS::Queue') queueUrls[resource.logicalId] = resource.ref;
  const { envOverrides } = options;
  return {
    ...options,
    envOverrides: (address) => ({
      AWS_ENDPOINT_URL: aws.endpoint,
      ...(typeof envOverrides === 'function' ? envOverrides(address) : envOverrides),
    }),
    sqsEndpoint: options.sqsEndpoint ?? process.env.SQS_ENDPOINT ?? aws.endpoint,
    queueUrls: { ...queueUrls, ...options.queueUrls },
  };
}

function rejectHandshake(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const body = message ? JSON.stringify({ message }) : '';
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The API's default host name on AWS. */
function executeApiHost(apiId: string, region: string): string {
  return `${apiId}.execute-api.${region}.amazonaws.com`;
}

function listen(server: Server | HttpsServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * The template with its WebSocket API. When the `stage` option differs from the API's StageName and that
 * name comes from a template parameter (`StageName: !Ref StageName`) the caller does not set, that
 * parameter takes the stage too, as a deployment with that stage would have it: values built from it
 * (`https://${Api}.execute-api.${AWS::Region}.amazonaws.com/${StageName}`) then name the served stage.
 */
function loadServedTemplate(
  options: GatewayOptions,
  templateOptions: TemplateOptions,
): { model: TemplateModel; stageParameter?: string } {
  const model = loadTemplate(options.templatePath, templateOptions);
  if (!model.webSocketApi)
    throw new Error(`gateway: ${model.path} has no AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET`);
  const stage = options.stage;
  const served = model.webSocketApi.stageName;
  if (stage === undefined || served === undefined || served === stage) return { model };
  const overridden = templateOptions.parameterOverrides ?? {};
  const candidates = Object.entries(model.parameters)
    .filter(([name, value]) => value === served && !(name in overridden))
    .map(([name]) => name);
  for (const name of candidates) {
    const parameterOverrides = { ...overridden, [name]: stage };
    const again = loadTemplate(options.templatePath, { ...templateOptions, parameterOverrides });
    if (again.webSocketApi?.stageName === stage) return { model: again, stageParameter: name };
  }
  return { model };
}

function normalizeIp(address: string | undefined): string {
  return (address ?? '127.0.0.1').replace(/^::ffff:/, '');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The value an identity source names, or undefined/'' when absent. */
function identityValue(
  source: string,
  handshake: HandshakeInfo,
  stageVariables: Record<string, string>,
): string | undefined {
  const [, kind, name] = /^route\.request\.(querystring|header)\.(.+)$/.exec(source) ?? [];
  if (kind === 'querystring') return handshake.queryStringParameters?.[name as string];
  if (kind === 'header') {
    const key = Object.keys(handshake.headers).find(
      (k) => k.toLowerCase() === (name as string).toLowerCase(),
    );
    return key ? handshake.headers[key] : undefined;
  }
  if (source.startsWith('stageVariables.')) return stageVariables[source.slice('stageVariables.'.length)];
  return 'not checked locally'; // context.* sources
}

/** IAM-style evaluation of the authorizer's policy for the method ARN: an explicit Deny wins. */
export function policyAllows(policy: AuthorizerResult['policyDocument'], methodArn: string): boolean {
  if (!policy || policy.Statement === undefined) throw new Error('no policyDocument.Statement');
  const statements = (Array.isArray(policy.Statement) ? policy.Statement : [policy.Statement]) as Array<
    Record<string, unknown>
  >;
  const list = (value: unknown) =>
    Array.isArray(value) ? value.map(String) : value === undefined ? [] : [String(value)];
  const glob = (pattern: string, text: string) =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    ).test(text);
  let allowed = false;
  for (const statement of statements) {
    const actionMatches = list(statement.Action).some((a) => glob(a, 'execute-api:Invoke'));
    const resourceMatches = list(statement.Resource).some((r) => glob(r, methodArn));
    if (!actionMatches || !resourceMatches) continue;
    if (statement.Effect === 'Deny') return false;
    if (statement.Effect === 'Allow') allowed = true;
  }
  return allowed;
}

/** `requestContext.authorizer`: principalId and the context, values stringified as API Gateway does. */
function authorizerContext(result: AuthorizerResult): Record<string, unknown> {
  const out: Record<string, unknown> = {
    principalId: result.principalId === undefined ? '' : String(result.principalId),
  };
  for (const [key, value] of Object.entries(result.context ?? {})) {
    if (value === null || value === undefined) continue;
    if (typeof value === 'object')
      throw new Error(`context.${key} is an object or array (only string, number, boolean)`);
    out[key] = String(value);
  }
  return out;
}

function statusOf(value: unknown): number {
  const status = (value as { statusCode?: unknown } | null | undefined)?.statusCode;
  return typeof status === 'number'
    ? status
    : typeof status === 'string' && /^\d+$/.test(status)
      ? Number(status)
      : 200;
}

function bodyOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value || undefined;
  const body = (value as { body?: unknown } | null | undefined)?.body;
  return typeof body === 'string' && body !== '' ? body : undefined;
}

function headerOf(value: unknown, name: string): string | undefined {
  const headers = (value as { headers?: Record<string, unknown> } | null | undefined)?.headers;
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : String(headers[key]);
}
