/**
 * [8] The DynamoDB store (issue 17) against Redis, same run: the real handlers in child processes (one per
 * store: bench/store-worker.ts), a local DynamoDB (moto from the venv, or AWS_ENDPOINT_URL_DYNAMODB /
 * AWS_ENDPOINT_URL, through local/dynamodb.ts: the table of template.yaml with Store=DynamoDB) and the bench's
 * redis-server; both post to a management endpoint in this process that answers at once.
 *
 * - Request units per operation (the cost model's input for `npm run cost -- --profile dynamodb`): computed
 *   from item sizes by DynamoDB's documented rules (bench/lib/dynamodb-units.ts), because moto's
 *   ConsumedCapacity is a constant per call (PutItem 1, GetItem 0.5, Query 1), whatever the item size.
 * - sendMessage handler time per message to a room of 30 on both stores, p50/p99, and their ratio. moto is
 *   a Python process on this machine: its latency is not DynamoDB's (a round trip to DynamoDB in the
 *   Region is milliseconds over the network; moto's is spent in Python), so the ratio says what the
 *   handler costs here, not on AWS.
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startLocalDynamoDB } from '../local/dynamodb';
import { loadTemplate } from '../local/template';
import type { Figures } from './lib/results';
import { BENCH_HANDLER_ENV } from './lib/rooms';
import { percentile } from './lib/stats';
import type { WorkerInput, WorkerOutput } from './store-worker';

export interface StoreBenchOptions {
  figures: Figures;
  quick: boolean;
  redisUrl: string;
}

/** A management endpoint that answers every post 200 at once and counts them (GET /_count). */
async function startPostCounter(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  let posts = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/_count') {
      res.end(String(posts));
      return;
    }
    req.resume();
    req.on('end', () => {
      if (req.method === 'POST') posts++;
      res.statusCode = 200;
      res.end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function runWorker(input: WorkerInput, env: Record<string, string>): Promise<WorkerOutput> {
  return new Promise((resolve, reject) => {
    const child = fork(join(__dirname, 'store-worker.ts'), [JSON.stringify(input)], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let output: WorkerOutput | undefined;
    child.on('message', (message: WorkerOutput) => {
      output = message;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (output?.error) reject(new Error(`store worker (${input.store}): ${output.error}`));
      else if (output) resolve(output);
      else reject(new Error(`store worker (${input.store}) exited ${code} without results`));
    });
  });
}

export async function runDynamoBenches({ figures, quick, redisUrl }: StoreBenchOptions): Promise<void> {
  const posts = await startPostCounter();
  const dynamo = await startLocalDynamoDB({ stackName: `bench-${process.pid}` });
  console.log(`  local DynamoDB: ${dynamo.origin} (${dynamo.endpoint}), table ${dynamo.tableName}`);
  try {
    const template = loadTemplate(join(__dirname, '..', 'template.yaml'));
    const publishEnv = template.functions.get('PublishFunction')?.environment ?? {};
    const common: Record<string, string> = {
      MANAGEMENT_ENDPOINT: posts.endpoint,
      ...BENCH_HANDLER_ENV,
      AWS_REGION: dynamo.region,
      JWT_SECRET: 'bench-secret-not-used-by-these-routes-0123456789',
      PUBLISH_VISIBILITY_TIMEOUT_SECONDS: String(publishEnv.PUBLISH_VISIBILITY_TIMEOUT_SECONDS ?? '60'),
      PUBLISH_MAX_RECEIVES: String(publishEnv.PUBLISH_MAX_RECEIVES ?? '5'),
    };
    const redisEnv = { ...common, STORE: 'redis', REDIS_URL: redisUrl };
    const dynamoEnv = { ...common, ...dynamo.env };
    const samples = quick ? 100 : 300;
    const latency = { samples, warm: 10, rooms: quick ? 2 : 4, capacity: false };
    // The stores take turns (a change in the machine's load hits both), each run in a fresh process.
    const rounds = quick ? 1 : 2;
    const ms: Record<'redis' | 'dynamodb', number[]> = { redis: [], dynamodb: [] };
    const unavailable = { redis: 0, dynamodb: 0 };
    for (let round = 0; round < rounds; round++) {
      for (const store of ['redis', 'dynamodb'] as const) {
        const out = await runWorker({ ...latency, store }, store === 'redis' ? redisEnv : dynamoEnv);
        ms[store].push(...out.sendMs);
        unavailable[store] += out.unavailable;
        console.log(
          `  sendMessage, room of 30, ${store}: p50 ${percentile(out.sendMs, 50).toFixed(2)} ms, p99 ${percentile(out.sendMs, 99).toFixed(2)} ms (${out.sendMs.length} samples, round ${round + 1}/${rounds})`,
        );
      }
    }
    const capacity = await runWorker(
      { store: 'dynamodb', samples: 0, warm: 0, rooms: 0, capacity: true },
      dynamoEnv,
    );
    const atLimit = await runWorker(
      { store: 'dynamodb', samples: 0, warm: 0, rooms: 0, capacity: true, atLimitOnly: true },
      { ...dynamoEnv, ROOM_HISTORY_LIMIT: '40' },
    );
    const units = { ...capacity.units, ...atLimit.units };

    const method =
      'computed from item sizes by DynamoDB documented rules (1 write unit per KB of the larger of the item before and after, 1 read unit per 4 KB strongly consistent, a Query rounded once, a failed condition the existing item): moto reports constants';
    for (const store of ['redis', 'dynamodb'] as const) {
      figures.add(
        `store_send_p50_ms_${store}`,
        percentile(ms[store], 50),
        'ms',
        `sendMessage handler, room of 30 (29 posts answered at once), ${store === 'redis' ? 'local redis-server' : 'local moto DynamoDB: not DynamoDB latency'}; ${ms[store].length} samples, child process`,
      );
      figures.add(`store_send_p99_ms_${store}`, percentile(ms[store], 99), 'ms', 'same, p99');
      figures.add(
        `store_send_unavailable_${store}`,
        unavailable[store],
        'sends',
        `answered unavailable (a store call timed out after the client's retries; kept in the times above) of ${ms[store].length}`,
      );
    }
    const ratio = (p: number) => percentile(ms.dynamodb, p) / percentile(ms.redis, p);
    figures.add(
      'store_send_ratio_p50_dynamodb_redis',
      ratio(50),
      'x',
      'DynamoDB store (moto, local) / Redis store (local), same run: moto runs in Python on this machine, its latency is not DynamoDB service latency',
    );
    figures.add('store_send_ratio_p99_dynamodb_redis', ratio(99), 'x', 'same, p99');

    const describe: Record<string, string> = {
      send_room30: 'sendMessage to a room of 30 (below its history limit), with clientMsgId',
      send_room30_at_limit: 'sendMessage to a room of 30 at its history limit (trims the oldest message)',
      connect: '$connect to a room of 29 (join announced)',
      disconnect: '$disconnect from a room of 30 (leave announced)',
      resume_100: 'resume of 100 messages (one page)',
      resume_20: 'resume of 20 messages',
      presence_room30: 'presence of a room of 30',
      publish_room30: 'server publish (one SQS record) to a room of 30',
    };
    for (const [op, text] of Object.entries(describe)) {
      const u = units[op];
      if (!u || u.count === 0) throw new Error(`DynamoDB units: no measurement of ${op}`);
      figures.add(`dynamodb_wcu_${op}`, u.wcu / u.count, 'WRU', `${text}; mean of ${u.count}; ${method}`);
      figures.add(
        `dynamodb_rcu_${op}`,
        u.rcu / u.count,
        'RRU',
        `same operation, read request units (strongly consistent reads); moto reported ${(u.motoReported / u.count).toFixed(1)} units in all`,
      );
      figures.add(`dynamodb_calls_${op}`, u.calls / u.count, 'calls', 'DynamoDB requests of the operation');
    }
    const bytes = capacity.itemBytes ?? {};
    figures.add(
      'dynamodb_bytes_per_message_item',
      bytes.msg ?? Number.NaN,
      'bytes',
      'a stored chat message item (~80-character text), DynamoDB item size rules (names + values)',
    );
    figures.add(
      'dynamodb_bytes_per_member_item',
      bytes.conn ?? Number.NaN,
      'bytes',
      'a member connection item (short test ids and names), same rules',
    );
    console.log(
      `  request units per operation (${method}):\n${Object.keys(describe)
        .map((op) => {
          const u = units[op] as WorkerOutput['units'][string];
          return `    ${op.padEnd(22)} ${(u.wcu / u.count).toFixed(2).padStart(6)} WRU ${(u.rcu / u.count).toFixed(2).padStart(6)} RRU ${(u.calls / u.count).toFixed(1).padStart(5)} calls (moto said ${(u.motoReported / u.count).toFixed(1)})`;
        })
        .join('\n')}`,
    );
  } finally {
    await dynamo.stop();
    await posts.stop();
  }
}
