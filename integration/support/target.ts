/**
 * What the integration suite runs against, chosen by `INTEGRATION_TARGET`:
 *
 * - `local` (default): the gateway emulator in this process serving the real template.yaml with the real
 *   handlers, a real redis-server on a free loopback port (or REDIS_URL's Redis when it is set, a cluster
 *   with REDIS_CLUSTER=true; REDIS_CLUSTER=true alone starts a local Redis Cluster), the environment as
 *   local/dev.ts sets it (MIN_REPLICA_ACKS 0 unless set: local/function-env.ts), and (for the publish test)
 *   a moto server as the SQS endpoint. The jest project `integration-cluster` runs this target on a local
 *   Redis Cluster (3 masters + 3 replicas) shared by the run: test names say `[local, cluster]`.
 * - `containers`: the same gateway, with Redis and SQS (LocalStack) from testcontainers. Without a
 *   container runtime every test is reported as `skipped: no container runtime …`.
 * - `emulator`: the stack that `npm run deploy:emulator` deployed with `sam deploy` to ministack (or to the
 *   emulator at `EMULATOR_ENDPOINT`, stack `EMULATOR_STACK_NAME`): its outputs read with the real
 *   CloudFormation client, the token secret from its Secrets Manager, the Redis of its ElastiCache, publish
 *   through its SQS queue and event source mapping. API Gateway behaviours the emulator lacks are skipped
 *   with the reason (EMULATOR_LACKS below); so are the in-process gateway's knobs.
 * - `aws`: a deployed stage: `WS_URL` (wss://…/STAGE), `JWT_SECRET` (the HS256 token secret),
 *   `MANAGEMENT_ENDPOINT` (https://…/STAGE) and `PUBLISH_QUEUE_URL`. Tests that need a knob only the
 *   emulator has (idle timeout, template parameters, connection ids, fault hooks) are reported skipped.
 *
 * The store: Redis, or with TEST_STORE=dynamodb (the jest project `integration-dynamodb`) the DynamoDB store: the
 * local target evaluates the template with Store=DynamoDB and gives the functions the run's local table
 * (test/support/stack-dynamodb.ts) and no Redis; the emulator target finds the store of the deployed stack from
 * its outputs (TableName with Store=DynamoDB). Test names then say `[local, dynamodb]`. Tests that need Redis
 * itself (`requires.redis`) are skipped there with the reason; members are read through `memberIds`, on either
 * store (test/support/store-inspector.ts).
 *
 * Tests that cannot run on the target are each registered as `skipped: <test name> (<reason>)`, a test
 * that prints the reason (console.warn) and passes, so the run shows what was not run and why.
 * INTEGRATION_GATEWAY_LOG=1 prints the emulator's invocation lines live.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DescribeReplicationGroupsCommand, ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import Redis, { Cluster } from 'ioredis';
import { localFunctionEnv } from '../../local/function-env';
import { Gateway } from '../../local/gateway';
import { generateSecret, mintToken, type TokenClaims } from '../../local/tokens';
import { registerAsSkipped } from '../../test/support/skip';
import {
  type StackDynamoDB,
  stackDynamoDB,
  storeParameters,
  testStore,
} from '../../test/support/stack-dynamodb';
import { stackRedis, testClusterUrl } from '../../test/support/stack-redis';
import { DynamoInspector, RedisInspector, type StoreInspector } from '../../test/support/store-inspector';
import { TestClient } from './client';
import { containerRuntimeUnavailable, startContainers } from './containers';
import { type MotoServer, motoUnavailable, startMoto } from './moto';
import { TARGET, type TargetName } from './target-name';

export { TARGET, type TargetName };

// This SDK's name for the switch (test/support/quiet-env.ts sets an older one).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const TEMPLATE_PATH = join(__dirname, '..', '..', 'template.yaml');

export interface Requirements {
  /** The test needs a knob of the in-process gateway emulator; says which (shown in the skip reason). */
  emulator?: string;
  /** The test needs the SQS publish path (moto locally, LocalStack in containers, PUBLISH_QUEUE_URL on AWS). */
  sqs?: boolean;
  /** The test needs a socket's connection id and the handlers' store (`connectWithId`, `memberIds`). */
  connectionIds?: boolean;
  /** The API Gateway behaviour the test checks, where an emulator may lack it (see EMULATOR_LACKS). */
  behaviour?: Behaviour;
  /** The test needs the Redis store itself; says what of it (shown in the skip reason on DynamoDB). */
  redis?: string;
}

/** The store the suite runs on (TEST_STORE=dynamodb: the jest project integration-dynamodb). */
export const STORE = testStore();

/** API Gateway behaviours that a deployment target may not implement. */
export type Behaviour = 'unauthorized-401' | 'frame-limit';

/**
 * What the emulator deployment (ministack, requirements-emulator.txt) does not do as API Gateway does, found
 * by running this suite against it; each is reported as a skipped test with this reason (and in README.md).
 */
export const EMULATOR_LACKS: Readonly<Record<Behaviour, string>> = {
  'unauthorized-401':
    'ministack answers a WebSocket $connect whose REQUEST authorizer throws Unauthorized with 500, not 401',
  'frame-limit': 'ministack has no 32 KB frame limit: it delivers a 40 KB frame instead of closing with 1009',
};

export interface TargetOptions {
  /** The gateway's idle timeout (emulator only; default 10 min). */
  idleTimeoutMs?: number;
  /** Template parameters (emulator only), e.g. `{ RoomHistoryLimit: '5' }`. */
  parameterOverrides?: Record<string, string>;
  /** Start the SQS publish path. */
  sqs?: boolean;
}

export interface Member {
  userId: string;
  name: string;
  role: 'teacher' | 'student';
}

export interface Target {
  name: TargetName;
  /** `ws(s)://HOST/STAGE` */
  url: string;
  /** The `@connections` endpoint (empty on AWS when MANAGEMENT_ENDPOINT is not set). */
  managementEndpoint: string;
  /** The in-process gateway (local and containers targets). */
  gateway?: Gateway;
  /** The store of the handlers. */
  store: 'redis' | 'dynamodb';
  /** The Redis the handlers use (local and containers targets on the Redis store). */
  redisUrl?: string;
  /** Whether `redisUrl` is a Redis Cluster (read it with `targetRedis`). */
  redisCluster?: boolean;
  /** The publish queue and a client for it, when started with `sqs`. */
  publishQueueUrl?: string;
  sqs?: SQSClient;
  /** The gateway's log lines (last 500), for debugging. */
  logs: string[];
  token(claims: TokenClaims): Promise<string>;
  /** `url?classRoomId=…&token=…` (a parameter left undefined is left out). */
  wsUrl(query: { classRoomId?: string; token?: string }): string;
  /** Connects `member` to `room` with a valid token for that room. */
  connect(member: Member, room: string, label?: string): Promise<TestClient>;
  /** Emulator only: connects and returns the gateway's connection id of the new socket too. */
  connectWithId(member: Member, room: string, label?: string): Promise<{ client: TestClient; id: string }>;
  /** Emulator only: from now on the gateway answers 410 to posts to this connection (a vanished client). */
  vanish(connectionId: string): void;
  /** Connection ids the store keeps as the room's members (local and emulator targets, either store). */
  memberIds(room: string): Promise<string[]>;
  stop(): Promise<void>;
}

// ---- availability (decided synchronously, before tests are registered) ------------------------------

/** Why tests with these requirements cannot run on the selected target, or undefined. */
export function unavailable(requirements: Requirements = {}): string | undefined {
  if (testClusterUrl() && TARGET !== 'local')
    return `the cluster target (integration-cluster) runs the local target only, not INTEGRATION_TARGET=${TARGET}`;
  if (STORE === 'dynamodb' && TARGET === 'containers')
    return 'the DynamoDB store (integration-dynamodb) runs on the local and emulator targets, not INTEGRATION_TARGET=containers';
  if (STORE === 'dynamodb' && requirements.redis)
    return `needs ${requirements.redis}, which the DynamoDB store does not have (TEST_STORE=dynamodb)`;
  if (TARGET === 'containers') {
    const reason = containerRuntimeUnavailable();
    if (reason) return reason;
  }
  if (TARGET === 'aws') {
    if (requirements.emulator)
      return `needs ${requirements.emulator}, a knob only the local gateway emulator has (INTEGRATION_TARGET=aws)`;
    if (requirements.connectionIds)
      return "needs a socket's connection id and the handlers' store, which a deployed stage does not expose (INTEGRATION_TARGET=aws)";
    if (requirements.sqs && !process.env.PUBLISH_QUEUE_URL)
      return 'PUBLISH_QUEUE_URL is not set (INTEGRATION_TARGET=aws)';
  }
  if (TARGET === 'emulator') {
    if (requirements.emulator)
      return `needs ${requirements.emulator}, a knob only the local gateway emulator has (INTEGRATION_TARGET=emulator)`;
    const lack = requirements.behaviour && EMULATOR_LACKS[requirements.behaviour];
    if (lack) return `${lack} (INTEGRATION_TARGET=emulator)`;
  }
  if (TARGET === 'local' && requirements.sqs) return motoUnavailable();
  return undefined;
}

/** The target as test names show it: `local`, `local, cluster` (integration-cluster), `local, dynamodb`, `aws`… */
export const TARGET_LABEL = testClusterUrl()
  ? `${TARGET}, cluster`
  : STORE === 'dynamodb'
    ? `${TARGET}, dynamodb`
    : TARGET;

export interface TargetContext {
  /** The started target (inside tests and hooks). */
  readonly target: Target;
}

/**
 * A `describe` bound to a target started in its beforeAll and stopped in its afterAll. When the target
 * cannot run these tests, each of them is registered as `skipped: <name> (<reason>)` instead.
 */
export function describeTarget(
  title: string,
  spec: { requires?: Requirements; options?: TargetOptions },
  body: (ctx: TargetContext) => void,
): void {
  const reason = unavailable(spec.requires);
  if (reason) {
    describe(`${title} [${TARGET_LABEL}]`, () => registerSkipped(`${title} [${TARGET_LABEL}]`, reason, body));
    return;
  }
  let started: Target | undefined;
  const ctx: TargetContext = {
    get target(): Target {
      if (!started) throw new Error('the target did not start (see the beforeAll error)');
      return started;
    },
  };
  describe(`${title} [${TARGET_LABEL}]`, () => {
    beforeAll(async () => {
      started = await startTarget(spec.options);
    }, 120_000);
    afterAll(async () => {
      await started?.stop();
    }, 30_000);
    body(ctx);
  });
}

/**
 * `it`, for a test with requirements of its own inside a `describeTarget`: registered as
 * `skipped: <name> (<reason>)` (printing the reason) when the target cannot run it.
 */
export function itRequires(
  requirements: Requirements,
  name: string,
  fn: () => Promise<void>,
  timeout?: number,
): void {
  const reason = unavailable(requirements);
  // Inside a describeTarget that is skipped as a whole, `it` already registers the skip with its reason.
  if (!reason || skippingGroup) {
    it(name, fn, timeout);
    return;
  }
  it(`skipped: ${name} (${reason})`, () => {
    console.warn(`[integration] ${name}: skipped: ${reason}`);
  });
}

/**
 * Runs `body` with `it`/`test` registering, for each of its tests, a test named
 * `skipped: <name> (<reason>)` that prints the reason and passes; its hooks are not registered.
 */
function registerSkipped(group: string, reason: string, body: (ctx: TargetContext) => void): void {
  const restore = registerAsSkipped(reason, (name) =>
    console.warn(`[integration] ${group} › ${name}: skipped: ${reason}`),
  );
  const ctx: TargetContext = {
    get target(): Target {
      throw new Error(`skipped: ${reason}`);
    },
  };
  skippingGroup = true;
  try {
    body(ctx);
  } finally {
    skippingGroup = false;
    restore();
  }
}

/** Whether registerSkipped is registering a skipped group's tests now. */
let skippingGroup = false;

// ---- helpers for tests ------------------------------------------------------------------------------

/** A room id no other test (or run, on AWS) uses. */
export function uniqueRoom(prefix = 'room'): string {
  return `it-${prefix}-${randomBytes(5).toString('hex')}`;
}

/**
 * A client for the handlers' Redis (`target.redisUrl`): ioredis' cluster client on a cluster (a room's keys
 * live on the master of their slot), else a plain one. Lazy; `disconnect()` it after use.
 */
export function targetRedis(target: Pick<Target, 'redisUrl' | 'redisCluster'>): Redis | Cluster {
  if (!target.redisUrl) throw new Error('the target does not expose its Redis');
  if (!target.redisCluster) return new Redis(target.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const { hostname, port } = new URL(target.redisUrl);
  const cluster = new Cluster([{ host: hostname, port: Number(port || 6379) }], {
    lazyConnect: true,
    redisOptions: { maxRetriesPerRequest: 1 },
  });
  cluster.on('error', () => undefined);
  return cluster;
}

export function member(userId: string, role: Member['role'] = 'student'): Member {
  return { userId, name: userId.charAt(0).toUpperCase() + userId.slice(1), role };
}

/**
 * `ctx.target.connect`, keeping every client it opens to close them after each test (`each`) or after
 * the group (`all`). Call it in a `describeTarget` body (it registers the hook).
 */
export function connector(ctx: TargetContext, closeAfter: 'each' | 'all' = 'each') {
  const open: TestClient[] = [];
  const closeAll = async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  };
  if (closeAfter === 'each') afterEach(closeAll);
  else afterAll(closeAll);
  return async (...args: Parameters<Target['connect']>): Promise<TestClient> => {
    const client = await ctx.target.connect(...args);
    open.push(client);
    return client;
  };
}

// ---- starting a target ------------------------------------------------------------------------------

export async function startTarget(options: TargetOptions = {}): Promise<Target> {
  if (TARGET === 'aws') return awsTarget(options);
  if (TARGET === 'emulator') return deployedTarget(options);
  return emulatorTarget(options);
}

function buildWsUrl(base: string, query: { classRoomId?: string; token?: string }): string {
  const params = new URLSearchParams();
  if (query.classRoomId !== undefined) params.set('classRoomId', query.classRoomId);
  if (query.token !== undefined) params.set('token', query.token);
  const qs = params.toString();
  return qs ? `${base}?${qs}` : base;
}

interface Infrastructure {
  /** The Redis store (undefined on DynamoDB). */
  redisUrl?: string;
  redisCluster: boolean;
  /** The DynamoDB store (TEST_STORE=dynamodb). */
  dynamodb?: StackDynamoDB;
  sqsEndpoint?: string;
  stop(): Promise<void>;
}

async function localInfrastructure(options: TargetOptions): Promise<Infrastructure> {
  const redis = STORE === 'redis' ? await stackRedis() : undefined;
  let dynamodb: StackDynamoDB | undefined;
  let moto: MotoServer | undefined;
  try {
    if (STORE === 'dynamodb') dynamodb = await stackDynamoDB();
    if (options.sqs) moto = await startMoto();
  } catch (error) {
    await dynamodb?.stop();
    await redis?.stop();
    throw error;
  }
  return {
    redisUrl: redis?.url,
    redisCluster: redis?.cluster ?? false,
    dynamodb,
    sqsEndpoint: moto?.endpoint,
    async stop() {
      await moto?.stop();
      await dynamodb?.stop();
      await redis?.stop();
    },
  };
}

/** Redis and LocalStack containers: those of the global setup when it started them, else our own. */
async function containerInfrastructure(): Promise<Infrastructure> {
  const shared = {
    redisUrl: process.env.INTEGRATION_REDIS_URL,
    sqsEndpoint: process.env.INTEGRATION_SQS_ENDPOINT,
  };
  if (shared.redisUrl && shared.sqsEndpoint) {
    return {
      redisUrl: shared.redisUrl,
      redisCluster: false,
      sqsEndpoint: shared.sqsEndpoint,
      stop: async () => {},
    };
  }
  const started = await startContainers();
  return {
    redisUrl: started.redisUrl,
    redisCluster: false,
    sqsEndpoint: started.sqsEndpoint,
    stop: started.stop,
  };
}

async function emulatorTarget(options: TargetOptions): Promise<Target> {
  const infrastructure =
    TARGET === 'containers' ? await containerInfrastructure() : await localInfrastructure(options);
  const secret = generateSecret();
  const vanished = new Set<string>();
  const logs: string[] = [];
  const live = process.env.INTEGRATION_GATEWAY_LOG === '1';
  let gateway: Gateway;
  try {
    gateway = await Gateway.start({
      templatePath: TEMPLATE_PATH,
      port: 0,
      host: '127.0.0.1',
      stage: 'local',
      idleTimeoutMs: options.idleTimeoutMs,
      parameterOverrides: { ...storeParameters(), ...options.parameterOverrides },
      sqsEndpoint: options.sqs ? infrastructure.sqsEndpoint : undefined,
      sqsWaitTimeSeconds: 1,
      // A client that vanished without a close frame: AWS answers 410 to posts to it.
      faults: (request) =>
        request.method === 'POST' && vanished.has(request.connectionId) ? '410' : undefined,
      logger: (line) => {
        logs.push(line);
        if (logs.length > 500) logs.shift();
        if (live) console.log(`[gateway] ${line}`);
      },
      // As local/dev.ts sets them.
      envOverrides: () =>
        localFunctionEnv({
          ...(infrastructure.dynamodb
            ? {
                dynamodb: {
                  endpoint: infrastructure.dynamodb.endpoint,
                  tableName: infrastructure.dynamodb.tableName,
                },
              }
            : { redisUrl: infrastructure.redisUrl, redisCluster: infrastructure.redisCluster }),
          jwtSecret: secret,
          logLevel: process.env.TEST_LOG_LEVEL,
        }),
    });
  } catch (error) {
    await infrastructure.stop();
    throw error;
  }
  const publishQueueUrl = options.sqs ? gateway.queueUrls.PublishQueue : undefined;
  if (options.sqs && !publishQueueUrl) {
    await gateway.close();
    await infrastructure.stop();
    throw new Error(
      `the gateway fed no PublishQueue from ${infrastructure.sqsEndpoint}:\n${logs.join('\n')}`,
    );
  }
  const sqs =
    options.sqs && infrastructure.sqsEndpoint
      ? new SQSClient({
          endpoint: infrastructure.sqsEndpoint,
          region: gateway.template.region,
          credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        })
      : undefined;
  const token = (claims: TokenClaims) => mintToken(secret, claims);
  const wsUrl = (query: { classRoomId?: string; token?: string }) => buildWsUrl(gateway.url, query);
  const connect = async (m: Member, room: string, label?: string) =>
    TestClient.connect(
      wsUrl({ classRoomId: room, token: await token({ ...m, rooms: [room] }) }),
      label ?? m.userId,
    );
  const inspector = lazyInspector(infrastructure);
  return {
    name: TARGET,
    store: STORE,
    url: gateway.url,
    managementEndpoint: gateway.managementEndpoint,
    gateway,
    redisUrl: infrastructure.redisUrl,
    redisCluster: infrastructure.redisCluster,
    publishQueueUrl,
    sqs,
    logs,
    token,
    wsUrl,
    connect,
    async connectWithId(m, room, label) {
      const before = new Set(gateway.connectionIds());
      const client = await connect(m, room, label);
      const fresh = gateway.connectionIds().filter((id) => !before.has(id));
      if (fresh.length !== 1) throw new Error(`expected one new connection id, got ${fresh.join(', ')}`);
      return { client, id: fresh[0] as string };
    },
    vanish(connectionId) {
      vanished.add(connectionId);
    },
    memberIds: (room) => inspector.get().memberIds(room),
    async stop() {
      sqs?.destroy();
      inspector.close();
      // The functions' workers, and their store clients, end with the gateway.
      await gateway.close();
      await infrastructure.stop();
    },
  };
}

/** A reader of the store (members), made at its first use. */
function lazyInspector(store: {
  redisUrl?: string;
  redisCluster: boolean;
  dynamodb?: { endpoint: string; tableName: string };
}): { get(): StoreInspector; close(): void } {
  let made: { inspect: StoreInspector; close(): void } | undefined;
  return {
    get() {
      if (!made) {
        if (store.dynamodb) {
          const inspect = new DynamoInspector(store.dynamodb.endpoint, store.dynamodb.tableName);
          made = { inspect, close: () => inspect.close() };
        } else if (store.redisUrl) {
          const redis = targetRedis({ redisUrl: store.redisUrl, redisCluster: store.redisCluster });
          made = { inspect: new RedisInspector(redis as Redis), close: () => redis.disconnect() };
        } else {
          throw new Error('the target exposes no store');
        }
      }
      return made.inspect;
    },
    close() {
      made?.close();
    },
  };
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`INTEGRATION_TARGET=aws needs ${name}`);
  return value;
}

async function awsTarget(options: TargetOptions): Promise<Target> {
  const url = requiredEnv('WS_URL')
    .replace(/[?#].*$/, '')
    .replace(/\/$/, '');
  const secret = requiredEnv('JWT_SECRET');
  const publishQueueUrl = options.sqs ? requiredEnv('PUBLISH_QUEUE_URL') : undefined;
  const region = /sqs[.-]([a-z0-9-]+)\.amazonaws\.com/.exec(publishQueueUrl ?? '')?.[1];
  // AWS_ENDPOINT_URL_SQS points the client at an emulator's SQS when the stack is deployed to one.
  const sqs = publishQueueUrl ? new SQSClient(region ? { region } : {}) : undefined;
  const token = (claims: TokenClaims) => mintToken(secret, claims);
  const wsUrl = (query: { classRoomId?: string; token?: string }) => buildWsUrl(url, query);
  const emulatorOnly = (what: string) => () => {
    throw new Error(`${what} is only available on the local gateway emulator`);
  };
  return {
    name: 'aws',
    // The deployed stage's own; the suite only labels it (connection ids and the store are not exposed).
    store: STORE,
    url,
    managementEndpoint: process.env.MANAGEMENT_ENDPOINT ?? '',
    publishQueueUrl,
    sqs,
    logs: [],
    token,
    wsUrl,
    connect: async (m, room, label) =>
      TestClient.connect(
        wsUrl({ classRoomId: room, token: await token({ ...m, rooms: [room] }) }),
        label ?? m.userId,
      ),
    connectWithId: emulatorOnly('connectWithId'),
    vanish: emulatorOnly('vanish'),
    memberIds: emulatorOnly('memberIds'),
    async stop() {
      sqs?.destroy();
    },
  };
}

// ---- the stack deployed to an emulator (npm run deploy:emulator) ------------------------------------

/** The emulator and stack to test: EMULATOR_ENDPOINT / EMULATOR_STACK_NAME, else what deploy:emulator recorded. */
function emulatorDeployment(): { endpoint: string; stackName: string; region: string } {
  const stateFile = join(__dirname, '..', '..', '.aws-sam', 'emulator', 'state.json');
  let state: { endpoint?: string; stackName?: string; region?: string } = {};
  try {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as typeof state;
  } catch {
    // none recorded
  }
  const endpoint = (process.env.EMULATOR_ENDPOINT ?? state.endpoint)?.replace(/\/$/, '');
  if (!endpoint)
    throw new Error(
      `INTEGRATION_TARGET=emulator needs a deployed stack: run npm run deploy:emulator (or set EMULATOR_ENDPOINT)`,
    );
  return {
    endpoint,
    stackName: process.env.EMULATOR_STACK_NAME ?? state.stackName ?? 'classroom-realtime',
    region: state.region ?? 'us-east-1',
  };
}

async function deployedTarget(options: TargetOptions): Promise<Target> {
  const { endpoint, stackName, region } = emulatorDeployment();
  const config = { endpoint, region, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
  const cfn = new CloudFormationClient(config);
  const secrets = new SecretsManagerClient(config);
  const elasticache = new ElastiCacheClient(config);
  let outputs: Record<string, string>;
  let secret: string;
  let redisUrl: string | undefined;
  try {
    const stack = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
    if (
      !stack ||
      !/_COMPLETE$/.test(stack.StackStatus ?? '') ||
      /ROLLBACK|DELETE/.test(stack.StackStatus ?? '')
    )
      throw new Error(`stack ${stackName} at ${endpoint} is ${stack?.StackStatus ?? 'missing'}`);
    outputs = Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
    // Store=DynamoDB: the TableName output, no cache.
    const store = outputs.TableName ? 'dynamodb' : 'redis';
    for (const key of [
      'WebSocketApiId',
      'StageName',
      'ManagementEndpoint',
      'JwtSecretArn',
      store === 'dynamodb' ? 'TableName' : 'ReplicationGroupId',
    ])
      if (!outputs[key]) throw new Error(`stack ${stackName} has no ${key} output`);
    if (store !== STORE)
      throw new Error(
        `stack ${stackName} runs the ${store} store, the suite TEST_STORE=${STORE}: deploy it with npm run deploy:emulator${STORE === 'dynamodb' ? ' -- --store dynamodb' : ''}, or run the matching jest project`,
      );
    secret =
      (await secrets.send(new GetSecretValueCommand({ SecretId: outputs.JwtSecretArn }))).SecretString ?? '';
    if (store === 'redis') {
      const group = (
        await elasticache.send(
          new DescribeReplicationGroupsCommand({ ReplicationGroupId: outputs.ReplicationGroupId }),
        )
      ).ReplicationGroups?.[0];
      const primary = group?.NodeGroups?.[0]?.PrimaryEndpoint;
      if (!primary?.Address || !primary.Port)
        throw new Error(`replication group ${outputs.ReplicationGroupId} has no primary endpoint`);
      redisUrl = `redis://${primary.Address}:${primary.Port}`;
    }
  } finally {
    cfn.destroy();
    secrets.destroy();
    elasticache.destroy();
  }
  // The emulator serves the API under its own endpoint (the WebSocketUrl output names the AWS host).
  const url = `${endpoint.replace(/^http/, 'ws')}/_aws/execute-api/${outputs.WebSocketApiId}/${outputs.StageName}`;
  const publishQueueUrl = options.sqs ? outputs.PublishQueueUrl : undefined;
  if (options.sqs && !publishQueueUrl) throw new Error(`stack ${stackName} has no PublishQueueUrl output`);
  const sqs = options.sqs ? new SQSClient(config) : undefined;
  // Connection ids are those the $connect handler adds to the room's members (the stack's own store: its
  // Redis, or its table on the emulator's DynamoDB).
  const inspector = lazyInspector({
    redisUrl,
    redisCluster: false,
    dynamodb: outputs.TableName ? { endpoint, tableName: outputs.TableName } : undefined,
  });
  const members = (room: string) => inspector.get().memberIds(room);
  const token = (claims: TokenClaims) => mintToken(secret, claims);
  const wsUrl = (query: { classRoomId?: string; token?: string }) => buildWsUrl(url, query);
  const connect = async (m: Member, room: string, label?: string) =>
    TestClient.connect(
      wsUrl({ classRoomId: room, token: await token({ ...m, rooms: [room] }) }),
      label ?? m.userId,
      EMULATOR_CONNECT_TIMEOUT_MS,
    );
  return {
    name: 'emulator',
    store: STORE,
    url,
    managementEndpoint: outputs.ManagementEndpoint as string,
    redisUrl,
    publishQueueUrl,
    sqs,
    logs: [],
    token,
    wsUrl,
    connect,
    async connectWithId(m, room, label) {
      const before = new Set(await members(room));
      const client = await connect(m, room, label);
      const fresh = (await members(room)).filter((id) => !before.has(id));
      if (fresh.length !== 1) throw new Error(`expected one new member connection, got ${fresh.join(', ')}`);
      return { client, id: fresh[0] as string };
    },
    vanish() {
      throw new Error("vanish needs the local gateway emulator's fault hook");
    },
    memberIds: members,
    async stop() {
      sqs?.destroy();
      inspector.close();
    },
  };
}

/** A cold start in the emulator runs the authorizer and $connect in fresh Node processes: allow for it. */
const EMULATOR_CONNECT_TIMEOUT_MS = 15_000;
