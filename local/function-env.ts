/**
 * The environment the handlers get when they run locally instead of on AWS: a plain Redis URL instead of
 * the ElastiCache endpoint and its auth-token secret, and the JWT secret itself instead of its Secrets Manager
 * ARN. Applied over each function's template environment.
 *
 * Management endpoint: not set here. The functions reach the gateway's management API as they reach API
 * Gateway on AWS — the template's MANAGEMENT_ENDPOINT when it has one (the publish function's
 * `https://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}`), else
 * `https://{domainName}/{stage}` from the request — which the gateway serves locally
 * (local/aws-endpoints.ts). `managementEndpoint` forces one only where no gateway serves the functions
 * (scripts/invoke.ts's recorder) or another emulator does.
 *
 * Replica-confirmed acks: the template's MinReplicaAcks defaults to 1 (ElastiCache has replicas), but a local
 * Redis is one redis-server without a replica, where every send would come back `unavailable`. Locally
 * MIN_REPLICA_ACKS is therefore 0 unless it is set in the environment (or passed in the options), and
 * REPLICA_ACK_TIMEOUT_MS is the template's (250) unless set the same way.
 *
 * Cluster mode: REDIS_CLUSTER=true with REDIS_URL makes the functions use the cluster client seeded from that
 * URL (the same variables as on AWS). Each function gets REDIS_CLUSTER explicitly, true or false.
 *
 * DynamoDB store (`dynamodb`, with the template evaluated with Store=DynamoDB): STORE=dynamodb, the local table's
 * TABLE_NAME and AWS_ENDPOINT_URL_DYNAMODB (the SDK's own variable; only the DynamoDB client goes there), and no
 * REDIS_* or replica-ack variables (the template gives none in that configuration).
 */

/**
 * The local settings read from the environment the process started with (a snapshot taken when this module is
 * first loaded): a local stack writes its functions' variables (REDIS_URL, MIN_REPLICA_ACKS…) into
 * `process.env` while it runs, and a second stack started meanwhile must not take those for the user's.
 */
const STARTUP_ENV: Readonly<Record<string, string | undefined>> = {
  REDIS_URL: process.env.REDIS_URL,
  REDIS_CLUSTER: process.env.REDIS_CLUSTER,
  MIN_REPLICA_ACKS: process.env.MIN_REPLICA_ACKS,
  REPLICA_ACK_TIMEOUT_MS: process.env.REPLICA_ACK_TIMEOUT_MS,
};

function startupValue(name: string): string | undefined {
  const value = STARTUP_ENV[name];
  return value === undefined || value === '' ? undefined : value;
}

/** REDIS_URL as the user set it when the process started, or undefined. */
export function userRedisUrl(): string | undefined {
  return startupValue('REDIS_URL');
}

/** Parses a REDIS_CLUSTER-style boolean as layers/shared/src/config.ts does (unset or empty: false). */
export function parseRedisCluster(raw: string | undefined, name = 'REDIS_CLUSTER'): boolean {
  if (raw === undefined || raw === '') return false;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}

/** REDIS_CLUSTER as the user set it when the process started (false when unset). */
export function userRedisCluster(): boolean {
  return parseRedisCluster(startupValue('REDIS_CLUSTER'));
}

/** MIN_REPLICA_ACKS locally when neither the options nor the environment set it: a local Redis has no replica. */
export const LOCAL_MIN_REPLICA_ACKS = 0;

/** MIN_REPLICA_ACKS the local functions get when the options do not set it, and where it comes from. */
export function localMinReplicaAcks(): { value: string; origin: string } {
  const value = startupValue('MIN_REPLICA_ACKS');
  return value !== undefined
    ? { value, origin: 'MIN_REPLICA_ACKS' }
    : { value: String(LOCAL_MIN_REPLICA_ACKS), origin: 'local default: no replica to confirm writes' };
}

export interface LocalFunctionEnv {
  /** The Redis of the functions (STORE=redis); not used with `dynamodb`. */
  redisUrl?: string;
  /**
   * Whether `redisUrl` is a Redis Cluster (REDIS_CLUSTER). Default: $REDIS_CLUSTER when `redisUrl` is the
   * user's REDIS_URL, else false (a redis-server the caller started itself).
   */
  redisCluster?: boolean;
  jwtSecret: string;
  /**
   * MANAGEMENT_ENDPOINT to force on every function. Default: not set (the template's value applies, and the
   * gateway serves the endpoints AWS code builds); give it only where no gateway serves the functions.
   */
  managementEndpoint?: string;
  /** Verify tokens against a JWKS instead of the local secret. */
  jwksUrl?: string;
  /** Powertools log level of the handlers (default SILENT). */
  logLevel?: string;
  /** EMF metrics on stdout (default off). */
  metrics?: boolean;
  /** MIN_REPLICA_ACKS (default: $MIN_REPLICA_ACKS, else 0). */
  minReplicaAcks?: number;
  /** REPLICA_ACK_TIMEOUT_MS (default: $REPLICA_ACK_TIMEOUT_MS, else the template's). */
  replicaAckTimeoutMs?: number;
  /**
   * The DynamoDB store (the template evaluated with Store=DynamoDB; local/dynamodb.ts): STORE=dynamodb, its
   * TABLE_NAME and AWS_ENDPOINT_URL_DYNAMODB, and none of the Redis or replica-ack variables.
   */
  dynamodb?: { endpoint: string; tableName: string };
}

export function localFunctionEnv(options: LocalFunctionEnv): Record<string, string> {
  const common = {
    JWT_SECRET: options.jwtSecret,
    JWT_SECRET_ARN: '',
    JWKS_URL: options.jwksUrl ?? '',
    ...(options.managementEndpoint === undefined ? {} : { MANAGEMENT_ENDPOINT: options.managementEndpoint }),
    POWERTOOLS_METRICS_DISABLED: options.metrics ? 'false' : 'true',
    POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'SILENT',
  };
  if (options.dynamodb) {
    return {
      STORE: 'dynamodb',
      TABLE_NAME: options.dynamodb.tableName,
      AWS_ENDPOINT_URL_DYNAMODB: options.dynamodb.endpoint,
      ...common,
    };
  }
  if (options.redisUrl === undefined) throw new Error('localFunctionEnv: redisUrl or dynamodb is required');
  const timeout = options.replicaAckTimeoutMs ?? startupValue('REPLICA_ACK_TIMEOUT_MS');
  const cluster = options.redisCluster ?? (options.redisUrl === userRedisUrl() && userRedisCluster());
  return {
    STORE: 'redis',
    REDIS_URL: options.redisUrl,
    REDIS_CLUSTER: cluster ? 'true' : 'false',
    REDIS_AUTH_SECRET_ARN: '',
    JWT_SECRET: options.jwtSecret,
    JWT_SECRET_ARN: '',
    JWKS_URL: options.jwksUrl ?? '',
    ...(options.managementEndpoint === undefined ? {} : { MANAGEMENT_ENDPOINT: options.managementEndpoint }),
    POWERTOOLS_METRICS_DISABLED: options.metrics ? 'false' : 'true',
    POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'SILENT',
    MIN_REPLICA_ACKS: String(options.minReplicaAcks ?? localMinReplicaAcks().value),
    ...(timeout === undefined ? {} : { REPLICA_ACK_TIMEOUT_MS: String(timeout) }),
  };
}
