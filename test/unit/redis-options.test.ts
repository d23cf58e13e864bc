import type { RedisSettings } from '../../layers/shared/src/config';
import {
  clusterOptions,
  clusterSeed,
  REDIS_COMMAND_TIMEOUT_MS,
  REDIS_CONNECT_TIMEOUT_MS,
  redisOptions,
} from '../../layers/shared/src/redis';

const plain: RedisSettings = { url: 'redis://127.0.0.1:6379/0', port: 6379, tls: false, cluster: false };
const aws: RedisSettings = { host: 'master.cache.example.com', port: 6379, tls: true, cluster: false };
const clustered: RedisSettings = {
  host: 'clustercfg.cache.example.com',
  port: 6379,
  tls: true,
  cluster: true,
};

describe('Function: redisOptions', () => {
  it('fails fast: timeouts of about a second and one retry per request', () => {
    // Prepare & Act
    const options = redisOptions(plain);

    // Assess
    expect(REDIS_CONNECT_TIMEOUT_MS).toBe(1000);
    expect(REDIS_COMMAND_TIMEOUT_MS).toBe(1000);
    expect(options).toMatchObject({
      connectTimeout: 1000,
      commandTimeout: 1000,
      maxRetriesPerRequest: 1,
      lazyConnect: true,
    });
  });

  it('reconnects and resends (2) on READONLY, reconnects only (1) on UNBLOCKED, and not on other errors', () => {
    // Prepare
    const { reconnectOnError } = redisOptions(plain);
    if (!reconnectOnError) throw new Error('reconnectOnError is not set');

    // Act
    const answers = [
      reconnectOnError(new Error("READONLY You can't write against a read only replica.")),
      reconnectOnError(new Error('ERR unknown command')),
      reconnectOnError(new Error('NOSCRIPT No matching script')),
      reconnectOnError(new Error('LOADING Redis is loading the dataset in memory')),
      reconnectOnError(new Error('UNBLOCKED force unblock from blocking operation, instance state changed')),
    ];

    // Assess
    expect(answers).toEqual([2, false, false, false, 1]);
  });

  it('backs off reconnects up to one second', () => {
    // Prepare
    const { retryStrategy } = redisOptions(plain);
    if (!retryStrategy) throw new Error('retryStrategy is not set');

    // Act
    const delays = [1, 2, 3, 4, 5, 10, 100].map((attempt) => retryStrategy(attempt));

    // Assess
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('enables TLS only when the settings ask for it', () => {
    // Prepare & Act
    const withTls = redisOptions(aws);
    const withoutTls = redisOptions(plain);

    // Assess
    expect(withTls.tls).toEqual({});
    expect('tls' in withoutTls).toBe(false);
  });

  it('sets the password only when one is given', () => {
    // Prepare & Act
    const withPassword = redisOptions(aws, 'auth-token');
    const withoutPassword = redisOptions(aws);
    const emptyPassword = redisOptions(aws, '');

    // Assess
    expect(withPassword.password).toBe('auth-token');
    expect('password' in withoutPassword).toBe(false);
    expect('password' in emptyPassword).toBe(false);
  });

  it('sets an ElastiCache user only when one is configured', () => {
    // Prepare & Act
    const withUser = redisOptions({ ...aws, username: 'classroom' }, 'pw');
    const withoutUser = redisOptions(aws, 'pw');

    // Assess
    expect(withUser).toMatchObject({ username: 'classroom', password: 'pw' });
    expect('username' in withoutUser).toBe(false);
  });
});

describe('Function: clusterOptions', () => {
  it('gives every node the standalone timeouts, TLS, auth and READONLY handling', () => {
    // Prepare & Act
    const options = clusterOptions({ ...clustered, username: 'classroom' }, 'pw');

    // Assess
    expect(options.redisOptions).toMatchObject({
      connectTimeout: 1000,
      commandTimeout: 1000,
      maxRetriesPerRequest: 1,
      tls: {},
      username: 'classroom',
      password: 'pw',
    });
    expect(options.redisOptions?.reconnectOnError?.(new Error('READONLY replica'))).toBe(2);
    expect(options.redisOptions).not.toHaveProperty('retryStrategy');
    expect(options).toMatchObject({ lazyConnect: true, scaleReads: 'master' });
  });

  it('keeps node host names for TLS (no lookup to an IP address)', () => {
    // Prepare
    const { dnsLookup } = clusterOptions(clustered);
    if (!dnsLookup) throw new Error('dnsLookup is not set');
    let resolved: string | undefined;

    // Act
    dnsLookup('node-0001.cache.example.com', (_error, address) => {
      resolved = address;
    });

    // Assess
    expect(resolved).toBe('node-0001.cache.example.com');
  });

  it('gives up reconnecting after a few attempts, so a dead cluster fails fast and is recreated', () => {
    // Prepare
    const { clusterRetryStrategy } = clusterOptions(clustered);
    if (!clusterRetryStrategy) throw new Error('clusterRetryStrategy is not set');

    // Act
    const delays = [1, 2, 3, 4, 10].map((times) => clusterRetryStrategy(times));

    // Assess
    expect(delays).toEqual([200, 400, 800, null, null]);
  });
});

describe('Function: clusterSeed', () => {
  it('seeds from the configuration endpoint, or from REDIS_URL', () => {
    // Prepare & Act & Assess
    expect(clusterSeed(clustered)).toEqual({ host: 'clustercfg.cache.example.com', port: 6379 });
    expect(clusterSeed({ ...plain, url: 'redis://127.0.0.1:30001', cluster: true })).toEqual({
      host: '127.0.0.1',
      port: 30001,
    });
  });
});
