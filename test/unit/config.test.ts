import {
  authSettings,
  ConfigError,
  durabilitySettings,
  dynamoClientSettings,
  getBoolean,
  getInteger,
  getOptionalString,
  getString,
  managementEndpoint,
  publishDedupeSeconds,
  redisSettings,
  roomSettings,
  storeSettings,
} from '../../layers/shared/src/config';

const VARIABLES = [
  'TEST_VALUE',
  'ROOM_HISTORY_LIMIT',
  'ROOM_HISTORY_BYTES',
  'MIN_REPLICA_ACKS',
  'REPLICA_ACK_TIMEOUT_MS',
  'PUBLISH_VISIBILITY_TIMEOUT_SECONDS',
  'PUBLISH_MAX_RECEIVES',
  'ROOM_TTL_SECONDS',
  'CONNECTION_TTL_SECONDS',
  'RATE_LIMIT_PER_SECOND',
  'RATE_LIMIT_BURST',
  'REDIS_URL',
  'REDIS_HOST',
  'REDIS_PORT',
  'REDIS_TLS',
  'REDIS_AUTH_SECRET_ARN',
  'REDIS_CLUSTER',
  'REDIS_USERNAME',
  'JWKS_URL',
  'JWT_SECRET',
  'JWT_SECRET_ARN',
  'JWT_ISSUER',
  'JWT_AUDIENCE',
  'MANAGEMENT_ENDPOINT',
  'STORE',
  'TABLE_NAME',
  'DYNAMODB_CONNECT_TIMEOUT_MS',
  'DYNAMODB_REQUEST_TIMEOUT_MS',
  'DYNAMODB_MAX_ATTEMPTS',
  'DYNAMODB_OPERATION_BUDGET_MS',
];

let saved: NodeJS.ProcessEnv;

beforeEach(() => {
  saved = { ...process.env };
  for (const name of VARIABLES) delete process.env[name];
});

afterEach(() => {
  process.env = saved;
});

describe('Function: getString', () => {
  it('returns the value, else the fallback, else throws naming the variable', () => {
    // Prepare
    process.env.TEST_VALUE = 'set';

    // Act
    const value = getString('TEST_VALUE');
    process.env.TEST_VALUE = '';
    const fallback = getString('TEST_VALUE', 'fallback');

    // Assess
    expect(value).toBe('set');
    expect(fallback).toBe('fallback');
    expect(() => getString('TEST_VALUE')).toThrow(
      new ConfigError('Environment variable TEST_VALUE is required but not set'),
    );
  });
});

describe('Function: getOptionalString', () => {
  it('treats an empty value as unset', () => {
    // Prepare
    process.env.TEST_VALUE = '';

    // Act
    const value = getOptionalString('TEST_VALUE');

    // Assess
    expect(value).toBeUndefined();
  });
});

describe('Function: getInteger', () => {
  it.each([
    [undefined, 7],
    ['', 7],
    ['0', 0],
    ['10', 10],
    ['100', 100],
  ])('reads %p as %p', (raw, expected) => {
    // Prepare
    if (raw !== undefined) process.env.TEST_VALUE = raw;

    // Act
    const value = getInteger('TEST_VALUE', 7, { min: 0, max: 100 });

    // Assess
    expect(value).toBe(expected);
  });

  it.each([['-1'], ['101'], ['1.5'], ['abc'], ['12abc'], [' '], ['Infinity'], ['1e1'], ['0x10']])(
    'throws a ConfigError naming the variable for %p',
    (raw) => {
      // Prepare
      process.env.TEST_VALUE = raw;

      // Act & Assess
      expect(() => getInteger('TEST_VALUE', 7, { min: 0, max: 100 })).toThrow(
        new ConfigError(`Environment variable TEST_VALUE must be an integer in [0, 100], got "${raw}"`),
      );
    },
  );

  it('accepts negative values when min allows them', () => {
    // Prepare
    process.env.TEST_VALUE = '-5';

    // Act
    const value = getInteger('TEST_VALUE', 0, { min: -10 });

    // Assess
    expect(value).toBe(-5);
  });
});

describe('Function: getBoolean', () => {
  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['False', false],
    ['0', false],
    ['no', false],
  ])('reads %p as %p', (raw, expected) => {
    // Prepare
    process.env.TEST_VALUE = raw;

    // Act
    const value = getBoolean('TEST_VALUE', !expected);

    // Assess
    expect(value).toBe(expected);
  });

  it('returns the fallback when unset or empty', () => {
    // Prepare
    process.env.TEST_VALUE = '';

    // Act
    const values = [getBoolean('TEST_VALUE', true), getBoolean('OTHER_UNSET_VALUE', false)];

    // Assess
    expect(values).toEqual([true, false]);
  });

  it('throws a ConfigError naming the variable for anything else', () => {
    // Prepare
    process.env.TEST_VALUE = 'maybe';

    // Act & Assess
    expect(() => getBoolean('TEST_VALUE', true)).toThrow(
      new ConfigError('Environment variable TEST_VALUE must be true or false, got "maybe"'),
    );
  });
});

describe('Function: roomSettings', () => {
  it('uses the defaults of SPEC §4 and §5', () => {
    // Prepare & Act
    const settings = roomSettings();

    // Assess
    expect(settings).toEqual({
      historyLimit: 1000,
      historyBytes: 4 * 1024 * 1024,
      roomTtlSeconds: 86_400,
      connectionTtlSeconds: 7_500,
      ratePerSecond: 20,
      rateBurst: 40,
    });
  });

  it('reads the environment', () => {
    // Prepare
    Object.assign(process.env, {
      ROOM_HISTORY_LIMIT: '5',
      ROOM_HISTORY_BYTES: '100000',
      ROOM_TTL_SECONDS: '3600',
      CONNECTION_TTL_SECONDS: '120',
      RATE_LIMIT_PER_SECOND: '2',
      RATE_LIMIT_BURST: '4',
    });

    // Act
    const settings = roomSettings();

    // Assess
    expect(settings).toEqual({
      historyLimit: 5,
      historyBytes: 100_000,
      roomTtlSeconds: 3600,
      connectionTtlSeconds: 120,
      ratePerSecond: 2,
      rateBurst: 4,
    });
  });

  it('refuses a history limit of 0', () => {
    // Prepare
    process.env.ROOM_HISTORY_LIMIT = '0';

    // Act & Assess
    expect(() => roomSettings()).toThrow(/ROOM_HISTORY_LIMIT/);
  });
});

describe('Function: storeSettings', () => {
  it('is Redis by default', () => {
    // Prepare & Act & Assess
    expect(storeSettings()).toEqual({ kind: 'redis' });
  });

  it('is DynamoDB with its table for STORE=dynamodb (any case)', () => {
    // Prepare
    Object.assign(process.env, { STORE: 'DynamoDB', TABLE_NAME: 'stack-ClassroomTable-1X2Y' });

    // Act & Assess
    expect(storeSettings()).toEqual({ kind: 'dynamodb', tableName: 'stack-ClassroomTable-1X2Y' });
  });

  it('refuses STORE=dynamodb without TABLE_NAME, naming both', () => {
    // Prepare
    process.env.STORE = 'dynamodb';

    // Act & Assess
    expect(() => storeSettings()).toThrow(ConfigError);
    expect(() => storeSettings()).toThrow(/STORE=dynamodb needs TABLE_NAME/);
  });

  it('refuses a store it does not know', () => {
    // Prepare
    process.env.STORE = 'memcached';

    // Act & Assess
    expect(() => storeSettings()).toThrow(/STORE must be redis or dynamodb, got "memcached"/);
  });
});

describe('Function: dynamoClientSettings', () => {
  it('fails a dead endpoint fast by default: 500 ms to connect, 1.5 s per request, 3 attempts', () => {
    // Prepare & Act & Assess
    expect(dynamoClientSettings()).toEqual({
      connectTimeoutMs: 500,
      requestTimeoutMs: 1500,
      maxAttempts: 3,
      operationBudgetMs: 6000,
    });
  });

  it.each([
    ['DYNAMODB_CONNECT_TIMEOUT_MS', '10'],
    ['DYNAMODB_REQUEST_TIMEOUT_MS', '60000'],
    ['DYNAMODB_MAX_ATTEMPTS', '0'],
    ['DYNAMODB_OPERATION_BUDGET_MS', '100'],
  ])('refuses %s=%s', (name, value) => {
    // Prepare
    process.env[name] = value;

    // Act & Assess
    expect(() => dynamoClientSettings()).toThrow(new RegExp(name));
  });
});

describe('Function: durabilitySettings', () => {
  it('confirms nothing by default (a local Redis has no replica)', () => {
    // Prepare & Act & Assess
    expect(durabilitySettings()).toEqual({ minReplicaAcks: 0, timeoutMs: 250 });
  });

  it('reads MIN_REPLICA_ACKS and REPLICA_ACK_TIMEOUT_MS', () => {
    // Prepare
    Object.assign(process.env, { MIN_REPLICA_ACKS: '2', REPLICA_ACK_TIMEOUT_MS: '400' });

    // Act & Assess
    expect(durabilitySettings()).toEqual({ minReplicaAcks: 2, timeoutMs: 400 });
  });

  it.each([
    ['MIN_REPLICA_ACKS', '-1'],
    ['MIN_REPLICA_ACKS', '6'],
    ['REPLICA_ACK_TIMEOUT_MS', '0'],
    ['REPLICA_ACK_TIMEOUT_MS', '501'],
  ])('refuses %s=%s', (name, value) => {
    // Prepare
    process.env[name] = value;

    // Act & Assess
    expect(() => durabilitySettings()).toThrow(new RegExp(name));
  });
});

describe('Function: publishDedupeSeconds', () => {
  it('covers the queue redelivery window: visibility timeout x maximum receives, plus a minute', () => {
    // Prepare
    Object.assign(process.env, { PUBLISH_VISIBILITY_TIMEOUT_SECONDS: '180', PUBLISH_MAX_RECEIVES: '5' });

    // Act & Assess
    expect(publishDedupeSeconds()).toBe(960);
  });

  it.each([['PUBLISH_VISIBILITY_TIMEOUT_SECONDS'], ['PUBLISH_MAX_RECEIVES']])(
    'throws a ConfigError naming %s when it is missing (no second copy of the queue settings)',
    (name) => {
      // Prepare
      Object.assign(process.env, { PUBLISH_VISIBILITY_TIMEOUT_SECONDS: '30', PUBLISH_MAX_RECEIVES: '3' });
      delete process.env[name];

      // Act & Assess
      expect(() => publishDedupeSeconds()).toThrow(
        new ConfigError(`Environment variable ${name} is required but not set`),
      );
    },
  );
});

describe('Function: authSettings', () => {
  it('throws a ConfigError when no way to verify tokens is set', () => {
    // Prepare
    process.env.JWT_ISSUER = 'https://issuer';

    // Act & Assess
    expect(() => authSettings()).toThrow(ConfigError);
  });

  it('reads the secret, issuer and audience', () => {
    // Prepare
    Object.assign(process.env, {
      JWT_SECRET: 's3cret',
      JWT_ISSUER: 'iss',
      JWT_AUDIENCE: 'aud',
      JWKS_URL: '',
    });

    // Act
    const settings = authSettings();

    // Assess
    expect(settings).toEqual({
      jwksUrl: undefined,
      secret: 's3cret',
      secretArn: undefined,
      issuer: 'iss',
      audience: 'aud',
    });
  });

  it.each([['JWKS_URL'], ['JWT_SECRET_ARN']])('accepts %s alone', (name) => {
    // Prepare
    process.env[name] = 'value';

    // Act & Assess
    expect(() => authSettings()).not.toThrow();
  });
});

describe('Function: redisSettings', () => {
  it('uses REDIS_URL and ignores host, port and TLS', () => {
    // Prepare
    Object.assign(process.env, {
      REDIS_URL: 'redis://127.0.0.1:6380/0',
      REDIS_HOST: 'ignored.example.com',
      REDIS_PORT: 'not-a-port',
      REDIS_TLS: 'true',
    });

    // Act
    const settings = redisSettings();

    // Assess
    expect(settings).toEqual({
      url: 'redis://127.0.0.1:6380/0',
      port: 6379,
      tls: false,
      authSecretArn: undefined,
      username: undefined,
      cluster: false,
    });
  });

  it('derives TLS from a rediss URL', () => {
    // Prepare
    process.env.REDIS_URL = 'rediss://cache.example.com:6379';

    // Act
    const settings = redisSettings();

    // Assess
    expect(settings.tls).toBe(true);
  });

  it('keeps the auth secret with REDIS_URL (only host, port and TLS are ignored)', () => {
    // Prepare
    process.env.REDIS_URL = 'redis://127.0.0.1:6379/0';
    process.env.REDIS_AUTH_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:redis';

    // Act
    const settings = redisSettings();

    // Assess
    expect(settings.authSecretArn).toBe('arn:aws:secretsmanager:eu-west-1:123456789012:secret:redis');
  });

  it('uses host, port, TLS (default on) and the auth secret without REDIS_URL', () => {
    // Prepare
    Object.assign(process.env, {
      REDIS_HOST: 'master.cache.example.com',
      REDIS_PORT: '6380',
      REDIS_AUTH_SECRET_ARN: 'arn:secret',
    });

    // Act
    const settings = redisSettings();

    // Assess
    expect(settings).toEqual({
      host: 'master.cache.example.com',
      port: 6380,
      tls: true,
      authSecretArn: 'arn:secret',
      username: undefined,
      cluster: false,
    });
  });

  it('reads REDIS_TLS=false and defaults the port', () => {
    // Prepare
    Object.assign(process.env, { REDIS_HOST: 'h', REDIS_TLS: 'false' });

    // Act
    const settings = redisSettings();

    // Assess
    expect(settings).toEqual({
      host: 'h',
      port: 6379,
      tls: false,
      authSecretArn: undefined,
      username: undefined,
      cluster: false,
    });
  });

  it('reads cluster mode and an ElastiCache user (REDIS_CLUSTER, REDIS_USERNAME)', () => {
    // Prepare
    Object.assign(process.env, {
      REDIS_HOST: 'clustercfg.cache.example.com',
      REDIS_CLUSTER: 'true',
      REDIS_USERNAME: 'classroom',
    });

    // Act
    const settings = redisSettings();

    // Assess
    expect(settings).toMatchObject({ cluster: true, username: 'classroom', tls: true });
  });

  it('throws naming REDIS_HOST when neither URL nor host is set', () => {
    // Prepare & Act & Assess
    expect(() => redisSettings()).toThrow(/REDIS_HOST/);
  });

  it('refuses a port out of range', () => {
    // Prepare
    Object.assign(process.env, { REDIS_HOST: 'h', REDIS_PORT: '70000' });

    // Act & Assess
    expect(() => redisSettings()).toThrow(/REDIS_PORT/);
  });
});

describe('Function: managementEndpoint', () => {
  it('returns the configured endpoint or undefined', () => {
    // Prepare
    process.env.MANAGEMENT_ENDPOINT = '';

    // Act
    const unset = managementEndpoint();
    process.env.MANAGEMENT_ENDPOINT = 'http://127.0.0.1:3001';
    const set = managementEndpoint();

    // Assess
    expect([unset, set]).toEqual([undefined, 'http://127.0.0.1:3001']);
  });
});
