/**
 * One ioredis client per warm container. Short timeouts and a bounded offline queue make a dead Redis
 * fail a request in about a second; `READONLY` after a failover makes the client reconnect (to the new
 * primary behind the same endpoint) and resend the command.
 */
import Redis, { type RedisOptions } from 'ioredis';
import { type RedisSettings, redisSettings } from './config';

export const REDIS_CONNECT_TIMEOUT_MS = 1000;
export const REDIS_COMMAND_TIMEOUT_MS = 1000;

export type AuthTokenSource = (secretArn: string) => Promise<string>;

/** ioredis options for the settings: pure, so the unit tests can check them. */
export function redisOptions(settings: RedisSettings, password?: string): RedisOptions {
  return {
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    // A command waits for at most one reconnect; queued commands also time out after commandTimeout.
    maxRetriesPerRequest: 1,
    enableAutoPipelining: false,
    lazyConnect: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    // After a primary failover the old node answers READONLY: reconnect and resend (2).
    reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
    ...(settings.tls ? { tls: {} } : {}),
    ...(password ? { password } : {}),
  };
}

let shared: Promise<Redis> | undefined;

async function create(loadAuthToken?: AuthTokenSource): Promise<Redis> {
  const settings = redisSettings();
  let password: string | undefined;
  if (settings.authSecretArn) {
    const load = loadAuthToken ?? (await import('./secrets')).secretString;
    password = await load(settings.authSecretArn);
  }
  const options = redisOptions(settings, password);
  const client = settings.url
    ? new Redis(settings.url, options)
    : new Redis({ ...options, host: settings.host, port: settings.port });
  // Errors surface on the commands that fail; without a listener ioredis would print each one.
  client.on('error', () => undefined);
  return client;
}

/** The container's Redis client, created on first use (not at import, so a module loads without Redis). */
export function getRedis(loadAuthToken?: AuthTokenSource): Promise<Redis> {
  if (!shared) {
    shared = create(loadAuthToken).catch((error: unknown) => {
      shared = undefined;
      throw error;
    });
  }
  return shared;
}

/** Closes the shared client (tests, the local emulator on reload). */
export async function closeRedis(): Promise<void> {
  const current = shared;
  shared = undefined;
  if (current) {
    const client = await current.catch(() => undefined);
    client?.disconnect();
  }
}
