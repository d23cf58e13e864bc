/**
 * Typed configuration accessors. Each one reads the environment once and fails with a message that
 * names the variable, so a misconfigured function dies at cold start instead of on the first message.
 */

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function getString(name: string, fallback?: string): string {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback !== undefined) return fallback;
  throw new ConfigError(`Environment variable ${name} is required but not set`);
}

export function getOptionalString(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

export function getInteger(
  name: string,
  fallback: number | undefined,
  { min = 0, max = Number.MAX_SAFE_INTEGER } = {},
): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(`Environment variable ${name} is required but not set`);
  }
  // Decimal integers only: Number() alone would read "  " as 0 and accept "1e3" or "0x10".
  const value = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(
      `Environment variable ${name} must be an integer in [${min}, ${max}], got "${raw}"`,
    );
  }
  return value;
}

export function getBoolean(name: string, fallback: boolean): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(`Environment variable ${name} must be true or false, got "${raw}"`);
}

export const DEFAULT_ROOM_HISTORY_BYTES = 4 * 1024 * 1024;

/** Settings of the room store and the rate limiter. */
export interface RoomSettings {
  historyLimit: number;
  /** Bytes of stored messages per room; the oldest go first when a new one would exceed it. */
  historyBytes: number;
  roomTtlSeconds: number;
  connectionTtlSeconds: number;
  ratePerSecond: number;
  rateBurst: number;
}

export function roomSettings(): RoomSettings {
  return {
    historyLimit: getInteger('ROOM_HISTORY_LIMIT', 1000, { min: 1, max: 100_000 }),
    historyBytes: getInteger('ROOM_HISTORY_BYTES', DEFAULT_ROOM_HISTORY_BYTES, { min: 65_536 }),
    roomTtlSeconds: getInteger('ROOM_TTL_SECONDS', 86_400, { min: 60 }),
    connectionTtlSeconds: getInteger('CONNECTION_TTL_SECONDS', 7_500, { min: 60 }),
    ratePerSecond: getInteger('RATE_LIMIT_PER_SECOND', 20, { min: 1, max: 10_000 }),
    rateBurst: getInteger('RATE_LIMIT_BURST', 40, { min: 1, max: 10_000 }),
  };
}

/**
 * Replica-confirmed acks (SPEC §5): a stored message is broadcast and acknowledged only once
 * `minReplicaAcks` replicas have confirmed it (Redis `WAIT`) within `timeoutMs`. 0 replicas: no `WAIT`.
 */
export interface DurabilitySettings {
  minReplicaAcks: number;
  timeoutMs: number;
}

export function durabilitySettings(): DurabilitySettings {
  return {
    minReplicaAcks: getInteger('MIN_REPLICA_ACKS', 0, { min: 0, max: 5 }),
    timeoutMs: getInteger('REPLICA_ACK_TIMEOUT_MS', 250, { min: 1, max: 500 }),
  };
}

/**
 * How long a server publish is remembered by its SQS message id: the queue's whole redelivery window
 * (visibility timeout x maximum receives, both passed from the template values the queue itself uses),
 * plus a minute for the last attempt's own run.
 */
export function publishDedupeSeconds(): number {
  // No defaults here: a second copy of the queue's settings is what let the window drift before.
  const visibility = getInteger('PUBLISH_VISIBILITY_TIMEOUT_SECONDS', undefined, { min: 1, max: 43_200 });
  const receives = getInteger('PUBLISH_MAX_RECEIVES', undefined, { min: 1, max: 1000 });
  return visibility * receives + 60;
}

/** Which store the functions use (`STORE`): Redis (default) or DynamoDB, whose table is `TABLE_NAME`. */
export type StoreSettings = { kind: 'redis' } | { kind: 'dynamodb'; tableName: string };

export function storeSettings(): StoreSettings {
  const kind = getString('STORE', 'redis').toLowerCase();
  if (kind === 'redis') return { kind };
  if (kind !== 'dynamodb') {
    throw new ConfigError(`Environment variable STORE must be redis or dynamodb, got "${process.env.STORE}"`);
  }
  const tableName = getOptionalString('TABLE_NAME');
  if (!tableName) throw new ConfigError('STORE=dynamodb needs TABLE_NAME (the table of the classroom store)');
  return { kind, tableName };
}

/** The DynamoDB client's timeouts and attempts (the SDK's own retries, with backoff, within the attempts). */
export interface DynamoClientSettings {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxAttempts: number;
  /** How long one store operation's calls may take in all (under the functions' timeout). */
  operationBudgetMs: number;
}

export function dynamoClientSettings(): DynamoClientSettings {
  return {
    connectTimeoutMs: getInteger('DYNAMODB_CONNECT_TIMEOUT_MS', 500, { min: 50, max: 10_000 }),
    requestTimeoutMs: getInteger('DYNAMODB_REQUEST_TIMEOUT_MS', 1500, { min: 100, max: 10_000 }),
    maxAttempts: getInteger('DYNAMODB_MAX_ATTEMPTS', 3, { min: 1, max: 10 }),
    operationBudgetMs: getInteger('DYNAMODB_OPERATION_BUDGET_MS', 6000, { min: 500, max: 60_000 }),
  };
}

/** Where Redis is: a URL locally, host/port/TLS/auth secret on AWS. */
export interface RedisSettings {
  url?: string;
  host?: string;
  port: number;
  tls: boolean;
  authSecretArn?: string;
  /** An ElastiCache user (user group access control, e.g. Serverless); default user when unset. */
  username?: string;
  /** Cluster mode (ElastiCache cluster mode enabled, Serverless): the cluster-aware client. */
  cluster: boolean;
}

export function redisSettings(): RedisSettings {
  const url = getOptionalString('REDIS_URL');
  // The URL replaces host, port and TLS only; an auth secret still applies (docs/design.md).
  const common = {
    authSecretArn: getOptionalString('REDIS_AUTH_SECRET_ARN'),
    username: getOptionalString('REDIS_USERNAME'),
    cluster: getBoolean('REDIS_CLUSTER', false),
  };
  if (url) return { url, port: 6379, tls: url.startsWith('rediss:'), ...common };
  return {
    host: getString('REDIS_HOST'),
    port: getInteger('REDIS_PORT', 6379, { min: 1, max: 65_535 }),
    tls: getBoolean('REDIS_TLS', true),
    ...common,
  };
}

/** How tokens are verified: a JWKS URL wins over an HS256 secret (given directly or by secret ARN). */
export interface AuthSettings {
  jwksUrl?: string;
  secret?: string;
  secretArn?: string;
  issuer?: string;
  audience?: string;
}

export function authSettings(): AuthSettings {
  const settings: AuthSettings = {
    jwksUrl: getOptionalString('JWKS_URL'),
    secret: getOptionalString('JWT_SECRET'),
    secretArn: getOptionalString('JWT_SECRET_ARN'),
    issuer: getOptionalString('JWT_ISSUER'),
    audience: getOptionalString('JWT_AUDIENCE'),
  };
  if (!settings.jwksUrl && !settings.secret && !settings.secretArn) {
    throw new ConfigError('Set one of JWKS_URL, JWT_SECRET_ARN or JWT_SECRET to verify tokens');
  }
  return settings;
}

/** The management API endpoint when configured (emulators, the SQS publish path). */
export function managementEndpoint(): string | undefined {
  return getOptionalString('MANAGEMENT_ENDPOINT');
}
