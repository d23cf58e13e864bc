/**
 * Handler test harness: a real Redis (from the jest global setup), the fake management API, the real
 * handlers loaded after the environment is set, and helpers to act as members of a room.
 *
 * On the cluster target (jest project `handlers-cluster`: TEST_REDIS_URL is a seed node and
 * TEST_REDIS_CLUSTER=true) the handlers get REDIS_CLUSTER=true and `h.redis` is ioredis' cluster client,
 * whose `keys(pattern)` asks every master (a plain cluster client sends KEYS to one node only).
 *
 * On the DynamoDB target (jest project `handlers-dynamodb`: TEST_STORE=dynamodb, the run's local table in
 * TEST_DYNAMODB_ENDPOINT / TEST_TABLE_NAME) the handlers get STORE=dynamodb and TABLE_NAME, no Redis, and
 * `h.redis` is not set: tests look at the store through `h.inspect` (either target).
 */
import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyResult } from 'aws-lambda';
import Redis, { Cluster } from 'ioredis';
import { parseRedisCluster } from '../../local/function-env';
import { FakeManagementApi } from '../../local/management-api';
import { connectionId, lambdaContext, type TestCaller, wsEvent } from './events';
import { DynamoInspector, RedisInspector, type StoreInspector } from './store-inspector';

/** The store the handler tests run on: TEST_STORE=dynamodb (project handlers-dynamodb) or Redis. */
export function testStore(): 'redis' | 'dynamodb' {
  return process.env.TEST_STORE === 'dynamodb' ? 'dynamodb' : 'redis';
}

/** A route handler as the tests and benchmarks call it. */
export type Route = (
  event: ReturnType<typeof wsEvent>,
  context: ReturnType<typeof lambdaContext>,
) => Promise<APIGatewayProxyResult>;

export interface Handlers {
  connect: Route;
  disconnect: Route;
  sendMessage: Route;
  resume: Route;
  presence: Route;
  endClass: Route;
  ping: Route;
  fallback: Route;
}

export class Harness {
  readonly api = new FakeManagementApi();
  /** The handlers' Redis, to inspect: a cluster client on a cluster (typed as Redis: the same commands). Redis target only. */
  redis!: Redis;
  /** What the tests look at in the store, on either target. */
  inspect!: StoreInspector;
  /** The store the handlers run on. */
  readonly store = testStore();
  /** Whether the handlers run against a Redis Cluster. */
  cluster = false;
  handlers!: Handlers;

  async start(env: Record<string, string> = {}): Promise<this> {
    if (this.store === 'dynamodb') return this.startOnDynamoDB(env);
    // A test file may bring its own Redis (REDIS_URL in env, REDIS_CLUSTER with it), e.g. a primary with a replica.
    const url = env.REDIS_URL ?? process.env.TEST_REDIS_URL;
    if (!url)
      throw new Error(
        'TEST_REDIS_URL is not set: run through the jest "handlers" or "handlers-cluster" project',
      );
    this.cluster =
      env.REDIS_URL !== undefined
        ? parseRedisCluster(env.REDIS_CLUSTER)
        : parseRedisCluster(process.env.TEST_REDIS_CLUSTER, 'TEST_REDIS_CLUSTER');
    const endpoint = await this.api.start();
    Object.assign(process.env, {
      REDIS_URL: url,
      REDIS_CLUSTER: String(this.cluster),
      MANAGEMENT_ENDPOINT: endpoint,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      ...env,
    });
    this.redis = this.cluster ? inspectorCluster(url) : new Redis(url);
    this.inspect = new RedisInspector(this.redis);
    return this.loadHandlers();
  }

  private async startOnDynamoDB(env: Record<string, string>): Promise<this> {
    const endpoint = process.env.TEST_DYNAMODB_ENDPOINT;
    const table = process.env.TEST_TABLE_NAME;
    if (!endpoint || !table)
      throw new Error('TEST_DYNAMODB_ENDPOINT is not set: run through the jest "handlers-dynamodb" project');
    const management = await this.api.start();
    for (const name of ['REDIS_URL', 'REDIS_CLUSTER', 'REDIS_HOST']) delete process.env[name];
    Object.assign(process.env, {
      STORE: 'dynamodb',
      TABLE_NAME: table,
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      // moto, one request at a time on a shared 2-core machine, accepts connections slowly under a burst.
      DYNAMODB_CONNECT_TIMEOUT_MS: '5000',
      DYNAMODB_REQUEST_TIMEOUT_MS: '5000',
      MANAGEMENT_ENDPOINT: management,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      POWERTOOLS_METRICS_DISABLED: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      ...env,
    });
    this.inspect = new DynamoInspector(endpoint, table);
    return this.loadHandlers();
  }

  private async loadHandlers(): Promise<this> {
    const load = async (path: string): Promise<Route> => (await import(path)).handler as Route;
    this.handlers = {
      connect: await load('../../functions/connect/index'),
      disconnect: await load('../../functions/disconnect/index'),
      sendMessage: await load('../../functions/send-message/index'),
      resume: await load('../../functions/resume/index'),
      presence: await load('../../functions/presence/index'),
      endClass: await load('../../functions/end-class/index'),
      ping: await load('../../functions/ping/index'),
      fallback: await load('../../functions/default/index'),
    };
    return this;
  }

  async stop(): Promise<void> {
    const { closeRedis, closeDynamo } = await import('@classroom/shared');
    await closeRedis();
    closeDynamo();
    this.redis?.disconnect();
    this.inspect?.close();
    await this.api.stop();
  }

  /** A room id no other test uses (tests share one Redis). */
  room(): string {
    return `room-${randomBytes(6).toString('hex')}`;
  }

  caller(classRoomId: string, userId: string, role: 'teacher' | 'student' = 'student'): TestCaller {
    return { connectionId: connectionId(), userId, name: userId.toUpperCase(), role, classRoomId };
  }

  async join(caller: TestCaller): Promise<TestCaller> {
    const result = await this.handlers.connect(wsEvent(caller, '$connect'), lambdaContext('connect'));
    if (result.statusCode !== 200) throw new Error(`connect failed: ${result.statusCode}`);
    return caller;
  }

  async leave(caller: TestCaller, code = 1000): Promise<APIGatewayProxyResult> {
    return this.handlers.disconnect(
      wsEvent(caller, '$disconnect', undefined, { disconnectStatusCode: code, disconnectReason: 'bye' }),
      lambdaContext('disconnect'),
    );
  }

  /** Sends a frame on a route; returns the parsed route response (undefined when empty). */
  async send(route: keyof Handlers, caller: TestCaller, body: unknown, timeoutMs = 10_000) {
    const routeKey = route === 'fallback' ? '$default' : route;
    const raw = typeof body === 'string' ? body : JSON.stringify(body);
    const result = await this.handlers[route](
      wsEvent(caller, routeKey, raw),
      lambdaContext(route, timeoutMs),
    );
    return result.body ? (JSON.parse(result.body) as Record<string, unknown>) : undefined;
  }
}

/** A cluster client for inspecting the store; `keys(pattern)` gathers the keys of every master. */
function inspectorCluster(url: string): Redis {
  const { hostname, port } = new URL(url);
  const cluster = new Cluster([{ host: hostname, port: Number(port || 6379) }]);
  cluster.on('error', () => undefined);
  const keys = async (pattern: string) =>
    (await Promise.all(cluster.nodes('master').map((node) => node.keys(pattern)))).flat();
  return Object.assign(cluster, { keys }) as unknown as Redis;
}
