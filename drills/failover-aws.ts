/**
 * Drill 1 against a deployed stage: `npm run drill:failover` runs ElastiCache TestFailover on the stack's
 * replication group while members of several rooms exchange a steady stream of messages through the
 * stage's WebSocket API, then reports the same figures as the local drill (sent, acknowledged,
 * delivered, recovered, lost, duplicated, time to recover).
 *
 *   WS_URL=wss://…/prod JWT_SECRET=… STACK_NAME=classroom-realtime npm run drill:failover
 *
 * Options (environment or flags): `WS_URL`; the token secret as `JWT_SECRET`, or `JWT_SECRET_ARN` (read
 * with Secrets Manager); the replication group as `--replication-group`/`REPLICATION_GROUP_ID`, else
 * found among the resources of `--stack`/`STACK_NAME`; `--rooms`, `--members`, `--interval` (ms),
 * `--failovers` (default 1: AWS allows only a few TestFailovers per group per day), `--warmup` and
 * `--gap` (s). AWS credentials and region come from the usual chain.
 *
 * The schedule and the accounting are those of the local drill (drills/support/failover-run.ts), which
 * CI runs; the ElastiCache trigger's logic has unit tests against recorded API answers
 * (test/unit/elasticache-failover.test.ts). The seq-counter check of the local drill needs Redis access
 * and is not made here: Redis is only reachable inside the VPC.
 */
import { CloudFormationClient, DescribeStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { ElastiCacheClient } from '@aws-sdk/client-elasticache';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mintToken } from '../local/tokens';
import { numberArg, parseArgs, runMain } from './support/args';
import { ElastiCacheFailoverTrigger } from './support/elasticache-failover';
import { runFailovers } from './support/failover-run';
import { report, trafficColumns } from './support/report';
import { Traffic } from './support/traffic';

async function tokenSecret(): Promise<string> {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  const arn = process.env.JWT_SECRET_ARN;
  if (!arn) throw new Error('set JWT_SECRET, or JWT_SECRET_ARN to read it from Secrets Manager');
  const answer = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn }));
  if (!answer.SecretString) throw new Error(`secret ${arn} has no SecretString`);
  return answer.SecretString;
}

async function replicationGroupId(args: Map<string, string>): Promise<string> {
  const explicit = args.get('replication-group') ?? process.env.REPLICATION_GROUP_ID;
  if (explicit) return explicit;
  const stack = args.get('stack') ?? process.env.STACK_NAME;
  if (!stack)
    throw new Error('set --replication-group/REPLICATION_GROUP_ID, or --stack/STACK_NAME to find it');
  const answer = await new CloudFormationClient({}).send(
    new DescribeStackResourcesCommand({ StackName: stack }),
  );
  const group = answer.StackResources?.find((r) => r.ResourceType === 'AWS::ElastiCache::ReplicationGroup');
  if (!group?.PhysicalResourceId) throw new Error(`stack ${stack} has no AWS::ElastiCache::ReplicationGroup`);
  return group.PhysicalResourceId;
}

runMain(async () => {
  const args = parseArgs();
  const wsUrl = args.get('url') ?? process.env.WS_URL;
  if (!wsUrl) throw new Error('set WS_URL (wss://{api}.execute-api.{region}.amazonaws.com/{stage})');
  const secret = await tokenSecret();
  const groupId = await replicationGroupId(args);
  const trigger = new ElastiCacheFailoverTrigger(new ElastiCacheClient({}), { replicationGroupId: groupId });
  const log = (line: string) => console.log(`[drill failover-aws] ${line}`);
  await trigger.ready();
  log(`${trigger.name} is available; starting traffic on ${wsUrl}`);

  const rooms = Array.from(
    { length: numberArg(args, 'rooms', 4) },
    (_, i) => `drill-failover-${Date.now()}-${i}`,
  );
  const traffic = await Traffic.start({
    rooms,
    membersPerRoom: numberArg(args, 'members', 5),
    intervalMs: numberArg(args, 'interval', 500),
    // A real failover takes tens of seconds: keep retrying a message for up to 3 minutes.
    retryDeadlineMs: 180_000,
    urlFor: async (identity, room) =>
      `${wsUrl}?classRoomId=${encodeURIComponent(room)}&token=${await mintToken(secret, {
        userId: identity.userId,
        name: identity.name,
        role: identity.role,
        rooms: [room],
      })}`,
  });
  try {
    const run = await runFailovers(
      traffic,
      trigger,
      {
        warmupMs: numberArg(args, 'warmup', 20) * 1000,
        gapMs: numberArg(args, 'gap', 60) * 1000,
        failovers: numberArg(args, 'failovers', 1),
        quietMs: 3000,
      },
      log,
    );
    const { figures, recoverMs, allRecoveredMs, events } = run;
    report(
      'failover-aws',
      {
        ...trafficColumns(figures, recoverMs),
        failovers: events.length,
        failover_ms: Math.max(...events.map((e) => e.completedAt - e.startedAt)),
        all_recovered_ms: allRecoveredMs,
        new_primary: String(events.at(-1)?.detail.new_primary ?? ''),
      },
      { url: wsUrl, replicationGroup: groupId },
    );
    return figures.lost === 0 && figures.duplicated === 0;
  } finally {
    await traffic.closeAll();
  }
});
