/**
 * The local stack a drill runs against: the gateway emulator in this process serving the real
 * template.yaml with the real handlers, on a free loopback port, with the environment local/dev.ts sets
 * (plus the drill's overrides), and Redis at the URL the drill gives (a redis-server, the TCP proxy, or a
 * node of a local Redis Cluster with `redisCluster`), or with `dynamodb` the DynamoDB store (the template
 * evaluated with Store=DynamoDB, the functions pointed at the given endpoint and table).
 */
import { join } from 'node:path';
import { localFunctionEnv } from '../../local/function-env';
import { Gateway, type GatewayOptions } from '../../local/gateway';
import { generateSecret, mintToken, type TokenClaims } from '../../local/tokens';

export const TEMPLATE_PATH = join(__dirname, '..', '..', 'template.yaml');

/**
 * One JWT secret per process: the authorizer resolves its secret once per cold start and the handlers
 * run in this process, so a second stack started in the same process (two drills in one test file, or
 * a long form running two phases) must sign with the same one.
 */
const PROCESS_SECRET = generateSecret();

export interface DrillStackOptions {
  /** The functions' Redis (STORE=redis); not used with `dynamodb`. */
  redisUrl?: string;
  /**
   * The DynamoDB store instead (local/dynamodb.ts's table, or a proxy in front of its endpoint): STORE=dynamodb,
   * TABLE_NAME, AWS_ENDPOINT_URL_DYNAMODB, and the template's Store=DynamoDB configuration.
   */
  dynamodb?: { endpoint: string; tableName: string };
  /** `redisUrl` is a Redis Cluster node (seed): the functions get REDIS_CLUSTER=true. Default false. */
  redisCluster?: boolean;
  /** More variables for every function (win over the dev.ts set), e.g. a short ROOM_TTL_SECONDS. */
  env?: Record<string, string>;
  faults?: GatewayOptions['faults'];
  idleTimeoutMs?: number;
  parameterOverrides?: Record<string, string>;
  /** Print the gateway's invocation lines (DRILL_GATEWAY_LOG=1 does too). */
  logLive?: boolean;
  /** Workers per function at most (the gateway's default: 16); fewer cold starts on a small machine. */
  maxConcurrency?: number;
  /** One warm worker per function before the drill starts (its cold start not in the figures). */
  preload?: boolean;
  /** The functions in this process (no workers): one Redis client shared by every invocation. */
  inProcess?: boolean;
}

export interface InvocationCounts {
  /** Lambda timeouts ("timeout" status lines). */
  timeouts: number;
  /** Handler throws (the integration failed: the client got "Internal server error"). */
  errors: number;
  total: number;
}

export interface DrillStack {
  gateway: Gateway;
  /** `ws://127.0.0.1:PORT/local` */
  url: string;
  secret: string;
  counts: InvocationCounts;
  /** The last 1000 gateway log lines. */
  logs: string[];
  token(claims: TokenClaims): Promise<string>;
  /** A ready URL for `userId` in `room` (a valid token for that room). */
  memberUrl(
    member: { userId: string; name?: string; role?: 'teacher' | 'student' },
    room: string,
  ): Promise<string>;
  stop(): Promise<void>;
}

export async function startDrillStack(options: DrillStackOptions): Promise<DrillStack> {
  const secret = PROCESS_SECRET;
  const logs: string[] = [];
  const counts: InvocationCounts = { timeouts: 0, errors: 0, total: 0 };
  const live = options.logLive || process.env.DRILL_GATEWAY_LOG === '1';
  const gateway = await Gateway.start({
    templatePath: TEMPLATE_PATH,
    port: 0,
    host: '127.0.0.1',
    stage: 'local',
    idleTimeoutMs: options.idleTimeoutMs,
    parameterOverrides: options.dynamodb
      ? { Store: 'DynamoDB', ...options.parameterOverrides }
      : options.parameterOverrides,
    faults: options.faults,
    maxConcurrency: options.maxConcurrency,
    preload: options.preload,
    inProcess: options.inProcess,
    logger: (line) => {
      if (/ \d+ms$/.test(line)) {
        counts.total++;
        if (/ timeout \d+ms$/.test(line)) counts.timeouts++;
        else if (/ error \(/.test(line)) counts.errors++;
      }
      logs.push(line);
      if (logs.length > 1000) logs.shift();
      if (live) console.log(`[gateway] ${line}`);
    },
    // As local/dev.ts sets them, then the drill's own.
    envOverrides: ({ managementEndpoint }) => ({
      ...localFunctionEnv({
        redisUrl: options.redisUrl,
        redisCluster: options.redisCluster ?? false,
        dynamodb: options.dynamodb,
        jwtSecret: secret,
        managementEndpoint,
        logLevel: process.env.DRILL_LOG_LEVEL,
      }),
      ...options.env,
    }),
  });
  const token = (claims: TokenClaims) => mintToken(secret, claims);
  return {
    gateway,
    url: gateway.url,
    secret,
    counts,
    logs,
    token,
    async memberUrl(member, room) {
      const t = await token({ userId: member.userId, name: member.name, role: member.role, rooms: [room] });
      return `${gateway.url}?classRoomId=${encodeURIComponent(room)}&token=${t}`;
    },
    async stop() {
      await gateway.close();
      // The handlers run in this process: close their warm Redis (or DynamoDB) client too.
      const { closeRedis, closeDynamo } = await import('@classroom/shared');
      await closeRedis();
      closeDynamo();
    },
  };
}

/**
 * Sets a function's `Timeout` (seconds) in the template the gateway serves: the emulator reads it at each
 * invocation. The template itself stays as it is; this stands for a deployed function with a shorter
 * timeout (the drill's way of cutting a handler off mid-broadcast without waiting 10 s).
 */
export function setFunctionTimeout(gateway: Gateway, functionId: string, seconds: number): void {
  const def = gateway.template.functions.get(functionId);
  if (!def) throw new Error(`no function ${functionId} in the template`);
  def.timeoutSeconds = seconds;
}
