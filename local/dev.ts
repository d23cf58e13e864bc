/**
 * `npm run dev`: the whole classroom on this machine. Redis (see redis-source.ts: REDIS_URL, with
 * REDIS_CLUSTER=true a cluster; REDIS_CLUSTER=true alone starts a local Redis Cluster), the gateway emulator
 * serving template.yaml on PORT (default 3001) with handlers reloaded on change, and the SQS publish path
 * when SQS_ENDPOINT points at an SQS-compatible server (moto, LocalStack).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { demoHttpHandler } from './demo-server';
import { localFunctionEnv, localMinReplicaAcks } from './function-env';
import { Gateway } from './gateway';
import { localRedis } from './redis-source';
import { generateSecret, LOCAL_SECRET_FILE, localSecret } from './tokens';

const root = join(__dirname, '..');

/** JWT_SECRET, else the one kept in .local/ (made once), so tokens survive a restart. */
function devSecret(): { secret: string; origin: string } {
  const existing = localSecret();
  if (existing)
    return { secret: existing, origin: process.env.JWT_SECRET ? 'JWT_SECRET' : '.local/jwt-secret' };
  mkdirSync(dirname(LOCAL_SECRET_FILE), { recursive: true });
  const secret = generateSecret();
  writeFileSync(LOCAL_SECRET_FILE, secret, { mode: 0o600 });
  return { secret, origin: '.local/jwt-secret (generated)' };
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3001);
  const stage = process.env.STAGE ?? 'local';
  const redis = await localRedis();
  const { secret, origin } = devSecret();
  const acks = localMinReplicaAcks();
  const gateway = await Gateway.start({
    templatePath: join(root, 'template.yaml'),
    port,
    stage,
    watch: true,
    sqsEndpoint: process.env.SQS_ENDPOINT,
    // The demo classroom page at / and its local-only POST /dev/token (built by `predev` into web/dist).
    httpHandler: demoHttpHandler({ distDir: join(root, 'web', 'dist'), secret, stage }),
    envOverrides: () =>
      localFunctionEnv({
        redisUrl: redis.url,
        redisCluster: redis.cluster,
        jwtSecret: secret,
        jwksUrl: process.env.JWKS_URL,
        logLevel: process.env.LOG_LEVEL ?? 'WARN',
      }),
  }).catch(async (error: unknown) => {
    // Do not leave the Redis (server or local cluster) started for it behind.
    await redis.stop();
    throw error;
  });
  // A cluster's masters have replicas (the local one: one each): say how to have them confirm writes.
  const acksOrigin =
    redis.cluster && acks.origin !== 'MIN_REPLICA_ACKS'
      ? "local default; MIN_REPLICA_ACKS=1 has each write confirmed by its master's replica (WAIT per master)"
      : acks.origin;
  const tokenCmd = 'npm run token -- --user u1 --name Ann --role teacher --rooms r1';
  console.log(
    [
      '',
      'Classroom Realtime is running locally.',
      `  Demo classroom  ${gateway.origin}/ (open it in two windows: a teacher and a student)`,
      `  WebSocket API   ${gateway.url}?classRoomId=r1&token=<token>`,
      `  Management API  ${gateway.managementEndpoint}/@connections/{connectionId}`,
      `  Redis           ${redis.url} (${redis.origin})`,
      ...redis.details.map((line) => `                    ${line}`),
      `  Redis client    ${redis.cluster ? 'cluster (REDIS_CLUSTER=true): follows MOVED/ASK across the masters' : 'standalone (REDIS_CLUSTER=false)'}`,
      `  Replica acks    MIN_REPLICA_ACKS=${acks.value} (${acksOrigin})`,
      `  JWT secret      ${origin}`,
      `  SQS publish     ${process.env.SQS_ENDPOINT ? `fed from ${process.env.SQS_ENDPOINT}` : 'not fed (set SQS_ENDPOINT, e.g. a moto server)'}`,
      '',
      'Mint a token:',
      `  ${tokenCmd}`,
      'Join the class from a terminal (run it in two terminals with different users):',
      `  npm run client -- --url ${gateway.url} --room r1 --user u1 --name Ann --role teacher`,
      `  npm run client -- --url ${gateway.url} --room r1 --user u2 --name Ben --role student`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async () => {
    // A second Ctrl-C does not wait: the exit hook of local/redis-server.ts still kills what was started.
    if (stopping) process.exit(130);
    stopping = true;
    await gateway.close();
    await redis.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
