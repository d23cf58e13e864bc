/**
 * `npm run bench` (`tsx bench/run.ts [--quick]`): the benchmarks of issue 6, both sides of every
 * comparison in the same run, against a real redis-server. Writes bench/results/latest.json
 * ({"figures": [{key, value, unit, note}], "machine", "date"}) and latest.md, and prints the table.
 *
 *   1-3  in this process: fan-out, lookup scaling vs a scan-all design, Redis cost, handler times
 *   4    fresh `node` processes: bundle sizes and module load times
 *   5    child processes: the gateway emulator (or Socket.IO) and the load generator
 *   6    in this process, against a primary with one replica: ack latency with and without
 *        replica-confirmed acks (MIN_REPLICA_ACKS 0 vs 1, two handler instances, same run), round trips
 *        per confirmed send, and memory per resume of rooms at their limits (bench/replica.ts)
 *   7    in this process, against a local Redis Cluster (3 masters + 1 replica each): round trips per
 *        sendMessage with the cluster client, MIN_REPLICA_ACKS 0 and 1 (bench/cluster.ts)
 *   8    child processes, one per store: the DynamoDB store on a local DynamoDB (moto) against the Redis
 *        store, same run: request units per operation (the input of `npm run cost -- --profile dynamodb`),
 *        sendMessage p50/p99 on both and their ratio (moto's latency is not DynamoDB's) (bench/dynamodb.ts)
 *
 * `--check` (CI): exit 1 when a required figure is missing or not a number, or when a target is missed
 * (fan-out to 100 within 2 x one 20 ms round trip; lookup within 1.2x from 1k to 100k connections;
 * a confirmed sendMessage in 1 Redis round trip, its ack p50 within 3x the unconfirmed one's (generous:
 * the replica process waiting for a CPU on a busy machine shows in it); a resume of a room at its limits
 * with no Redis reply above one page and at most 16 pages of memory growth; a sendMessage on a Redis
 * Cluster in 1 round trip, MIN_REPLICA_ACKS 0 and 1, its script on the room's master; the authorizer's
 * layer entry loading within AUTH_TARGET_RATIO (bench/coldstart.ts) x jose alone, same run).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRedisServer } from '../test/support/redis-server';
import { runClusterBenches } from './cluster';
import { runColdStart } from './coldstart';
import { runDynamoBenches } from './dynamodb';
import { runEndToEnd } from './e2e';
import { runHandlerBenches } from './handlers';
import { Figures, machine, markdownTable, type Results, textTable } from './lib/results';
import { runReplicaBenches } from './replica';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string', default: join(__dirname, 'results') },
  },
});
const quick = values.quick ?? false;

/** The figures issue 6 asks for (bench/results/latest.json). */
const REQUIRED = [
  'fanout_ms_100',
  'fanout_sequential_ms_100',
  'lookup_ms_1k',
  'lookup_ms_100k',
  'scan_lookup_ms_1k',
  'scan_lookup_ms_100k',
  'redis_roundtrips_send',
  'e2e_p99_ms',
  'e2e_deliveries_per_s',
  'socketio_p99_ms',
  'socketio_deliveries_per_s',
  'ack_p50_ms_unconfirmed',
  'ack_p99_ms_unconfirmed',
  'ack_p50_ms_confirmed',
  'ack_p99_ms_confirmed',
  'ack_ratio_p50_confirmed',
  'redis_roundtrips_send_confirmed',
  'resume_large_max_reply_bytes',
  'resume_large_heap_growth_bytes',
  'resume_many_max_reply_bytes',
  'resume_many_heap_growth_bytes',
  'roundtrips_per_send_cluster',
  'roundtrips_per_send_cluster_confirmed',
  'coldstart_load_ms_layer_auth',
  'coldstart_load_ms_jose',
  'coldstart_ratio_auth_jose',
  'store_send_p50_ms_redis',
  'store_send_p50_ms_dynamodb',
  'store_send_p99_ms_redis',
  'store_send_p99_ms_dynamodb',
  'store_send_ratio_p50_dynamodb_redis',
  'dynamodb_wcu_send_room30',
  'dynamodb_rcu_send_room30',
  'dynamodb_wcu_send_room30_at_limit',
  'dynamodb_rcu_send_room30_at_limit',
  'dynamodb_wcu_connect',
  'dynamodb_rcu_connect',
  'dynamodb_wcu_disconnect',
  'dynamodb_rcu_disconnect',
  'dynamodb_rcu_resume_100',
  'dynamodb_rcu_resume_20',
  'dynamodb_rcu_presence_room30',
  'dynamodb_wcu_publish_room30',
  'dynamodb_rcu_publish_room30',
  'dynamodb_bytes_per_message_item',
  'dynamodb_bytes_per_member_item',
];
const TARGETS = [
  'fanout_target_pass_100',
  'lookup_flat_pass',
  'ack_roundtrips_pass',
  'ack_ratio_pass',
  'resume_large_bounded_pass',
  'resume_many_bounded_pass',
  'cluster_roundtrips_pass',
  'coldstart_auth_target_pass',
];

/** What is wrong with the figures: required ones missing or not finite, targets missed. */
function problems(figures: Figures): string[] {
  const found: string[] = [];
  for (const key of REQUIRED) {
    const value = figures.get(key);
    if (value === undefined || !Number.isFinite(value)) found.push(`${key}: missing or not a number`);
  }
  for (const key of TARGETS) {
    const figure = figures.list.find((f) => f.key === key);
    if (figure && figure.value !== true) found.push(`${key}: target missed (${figure.note})`);
  }
  return found;
}
const PARTS = ['handlers', 'coldstart', 'e2e', 'replica', 'cluster', 'dynamodb'];
const only = new Set((values.only ?? PARTS.join(',')).split(','));

async function main(): Promise<void> {
  const started = Date.now();
  const figures = new Figures();
  const redis = await startRedisServer();
  console.log(`bench (${quick ? 'quick' : 'full'}) on ${machine()}; redis-server at ${redis.url}`);
  try {
    if (only.has('handlers')) await runHandlerBenches({ figures, quick, redisUrl: redis.url });
    if (only.has('coldstart')) {
      console.log('\n[4] cold start: bundles with the template settings, load time in fresh node processes');
      await runColdStart(figures, quick ? 3 : 7);
    }
    if (only.has('e2e')) {
      console.log('\n[5] local stack end to end (server and load generator in separate child processes)');
      await runEndToEnd(figures, redis.url, {
        clients: quick ? 200 : 1000,
        roomSize: 30,
        seconds: quick ? 5 : 20,
        saturatedSeconds: quick ? 3 : 10,
        thinkMs: 30_000,
      });
    }
    if (only.has('replica')) {
      console.log(
        '\n[6] replica-confirmed acks and resume memory (a primary with one replica, in this process)',
      );
      await runReplicaBenches({ figures, quick });
    }
    if (only.has('cluster')) {
      console.log('\n[7] sendMessage on a Redis Cluster (3 masters + 1 replica each, in this process)');
      await runClusterBenches({ figures, quick });
    }
    if (only.has('dynamodb')) {
      console.log(
        '\n[8] the DynamoDB store (local moto) against the Redis store: request units per operation, sendMessage latency',
      );
      await runDynamoBenches({ figures, quick, redisUrl: redis.url });
    }
  } finally {
    await redis.stop();
  }
  const results: Results = {
    figures: figures.list,
    machine: machine(),
    date: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    durationSeconds: Math.round((Date.now() - started) / 1000),
  };
  mkdirSync(values.out as string, { recursive: true });
  writeFileSync(join(values.out as string, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(
    join(values.out as string, 'latest.md'),
    `Run: \`npm run bench${quick ? ' -- --quick' : ''}\` on ${results.machine}, ${results.date} (${results.durationSeconds} s)\n\n${markdownTable(figures.list)}\n`,
  );
  console.log(`\n${textTable(figures.list)}`);
  console.log(`\nwrote ${join(values.out as string, 'latest.json')} (${results.durationSeconds} s)`);
  // With --only, a part of the figures is expected to be missing.
  const complete = PARTS.every((part) => only.has(part));
  const wrong = complete ? problems(figures) : [];
  for (const p of wrong) console.error(`bench: ${p}`);
  // Keep-alive sockets and SDK clients would hold the process open.
  process.exit(values.check && wrong.length > 0 ? 1 : 0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
