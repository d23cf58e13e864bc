/**
 * `npm run dev`: the whole classroom on this machine. The store: Redis by default (see redis-source.ts:
 * REDIS_URL, with REDIS_CLUSTER=true a cluster; REDIS_CLUSTER=true alone starts a local Redis Cluster), or with
 * STORE=dynamodb a local DynamoDB (local/dynamodb.ts: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, else a moto
 * server from the venv) with the template evaluated with Store=DynamoDB and its table created there, and no
 * Redis at all. Then the gateway emulator serving template.yaml on PORT (default 3001) with handlers reloaded on
 * change, and the SQS publish path when SQS_ENDPOINT points at an SQS-compatible server (moto, LocalStack).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { demoHttpHandler } from './demo-server';
import { DYNAMODB_PARAMETERS, type LocalDynamoDB, startLocalDynamoDB } from './dynamodb';
import { localFunctionEnv, localMinReplicaAcks } from './function-env';
import { Gateway } from './gateway';
import { type LocalRedis, localRedis } from './redis-source';
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

/** STORE: `redis` (default) or `dynamodb`, as the functions' STORE variable. */
function devStore(): 'redis' | 'dynamodb' {
  const value = (process.env.STORE ?? '').trim().toLowerCase() || 'redis';
  if (value === 'redis' || value === 'dynamodb') return value;
  throw new Error(`STORE must be redis or dynamodb, not "${process.env.STORE}"`);
}

/** The store's lines of the start-up summary. */
function storeLines(redis: LocalRedis | undefined, dynamodb: LocalDynamoDB | undefined): string[] {
  if (dynamodb) {
    const parameters = Object.entries(DYNAMODB_PARAMETERS).map(([k, v]) => `${k}=${v}`);
    return [
      `  Store           DynamoDB (STORE=dynamodb; template evaluated with ${parameters.join(', ')}; no Redis)`,
      `  DynamoDB        ${dynamodb.endpoint} (${dynamodb.origin})`,
      ...dynamodb.details.map((line) => `                    ${line}`),
      `  Table           TABLE_NAME=${dynamodb.tableName}`,
    ];
  }
  if (!redis) return [];
  const acks = localMinReplicaAcks();
  // A cluster's masters have replicas (the local one: one each): say how to have them confirm writes.
  const acksOrigin =
    redis.cluster && acks.origin !== 'MIN_REPLICA_ACKS'
      ? "local default; MIN_REPLICA_ACKS=1 has each write confirmed by its master's replica (WAIT per master)"
      : acks.origin;
  return [
    `  Store           Redis (STORE=redis; STORE=dynamodb runs the DynamoDB store)`,
    `  Redis           ${redis.url} (${redis.origin})`,
    ...redis.details.map((line) => `                    ${line}`),
    `  Redis client    ${redis.cluster ? 'cluster (REDIS_CLUSTER=true): follows MOVED/ASK across the masters' : 'standalone (REDIS_CLUSTER=false)'}`,
    `  Replica acks    MIN_REPLICA_ACKS=${acks.value} (${acksOrigin})`,
  ];
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3001);
  const stage = process.env.STAGE ?? 'local';
  const store = devStore();
  const dynamodb = store === 'dynamodb' ? await startLocalDynamoDB() : undefined;
  const redis = store === 'redis' ? await localRedis() : undefined;
  const stopStore = async () => {
    await redis?.stop();
    await dynamodb?.stop();
  };
  const { secret, origin } = devSecret();
  const gateway = await Gateway.start({
    templatePath: join(root, 'template.yaml'),
    port,
    stage,
    watch: true,
    sqsEndpoint: process.env.SQS_ENDPOINT,
    ...(dynamodb ? { parameterOverrides: { ...DYNAMODB_PARAMETERS } } : {}),
    // The moto started for the table serves the template's queues too: the SQS publish path runs on it.
    ...(dynamodb?.started ? { aws: dynamodb.endpoint } : {}),
    // The demo classroom page at / and its local-only POST /dev/token (built by `predev` into web/dist).
    httpHandler: demoHttpHandler({ distDir: join(root, 'web', 'dist'), secret, stage }),
    envOverrides: () =>
      localFunctionEnv({
        ...(dynamodb
          ? { dynamodb: { endpoint: dynamodb.endpoint, tableName: dynamodb.tableName } }
          : { redisUrl: redis?.url, redisCluster: redis?.cluster }),
        jwtSecret: secret,
        jwksUrl: process.env.JWKS_URL,
        logLevel: process.env.LOG_LEVEL ?? 'WARN',
      }),
  }).catch(async (error: unknown) => {
    // Do not leave the store (Redis server, local cluster, moto) started for it behind.
    await stopStore();
    throw error;
  });
  const tokenCmd = 'npm run token -- --user u1 --name Ann --role teacher --rooms r1';
  console.log(
    [
      '',
      'Classroom Realtime is running locally.',
      `  Demo classroom  ${gateway.origin}/ (open it in two windows: a teacher and a student)`,
      `  WebSocket API   ${gateway.url}?classRoomId=r1&token=<token>`,
      `  Management API  ${gateway.managementEndpoint}/@connections/{connectionId}`,
      ...storeLines(redis, dynamodb),
      `  JWT secret      ${origin}`,
      `  SQS publish     ${gateway.queueUrls.PublishQueue ? `fed from ${gateway.queueUrls.PublishQueue}` : 'not fed (set SQS_ENDPOINT, e.g. a moto server)'}`,
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
    await stopStore();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
