/**
 * Drill: a Redis Cluster master crashes under traffic and its replica takes over. A local cluster (3
 * masters + `replicas` replicas each, local/redis-cluster.ts), the drill stack with REDIS_CLUSTER=true,
 * members of rooms on every master sending with clientMsgIds (resent with the same id until
 * acknowledged). A master is killed (SIGKILL: no shutdown, nothing more replicated); its replica is
 * promoted by the cluster itself once the other masters flag the node failed (`cluster-node-timeout`,
 * then the replica's election), or at once by `CLUSTER FAILOVER TAKEOVER` on the replica (`--promote
 * takeover`). Then, as ElastiCache replaces a failed node, the killed node starts again (empty, same port
 * and cluster identity) and becomes the promoted node's replica. `--failovers N` kills the master of the
 * next shard each time.
 *
 * With MIN_REPLICA_ACKS=1 (WAIT per shard: the send script and WAIT pipelined to the room's master) a
 * message is acknowledged only once its master's replica has it, so the promoted replica holds every
 * acknowledged message; until it has a replica of its own (another replica of the shard, or the restarted
 * node once synced) its rooms' sends are answered `unavailable` and resent. With MIN_REPLICA_ACKS=0 an ack
 * only says the master had it: what the replica had not received when the master died is lost
 * (`lost_unreplicated` says whether every lost message was in that window).
 *
 * Figures, as the standalone failover drill's: acknowledged, lost, duplicated (epoch-keyed: the integrity
 * checks of drills/support/integrity.ts), recovery times (from the kill: the promotion, the first ack
 * in the killed master's rooms of an attempt started after the kill, every sender of those rooms
 * acknowledged again), failures in the other masters' rooms (the cluster is down for every slot while a
 * master is flagged failed and not yet replaced).
 *
 * Long form: `npm run drill:cluster:failover -- --rooms-per-master 2 --members 5 --interval 250 --warmup 3
 * --failovers 3 --gap 6 --promote auto|takeover --detect 0.5 --replace 1 --replicas 1 --node-timeout 2000
 * --min-replica-acks 0|1 [--ack-timeout 250] [--in-process]` (the functions in this process instead of the
 * gateway's worker threads: one Redis client for all, its redirects counted).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ClusterNode, LocalRedisCluster } from '../local/redis-cluster';
import { startRedisCluster } from '../local/redis-cluster';
import type { RedisProcess } from '../local/redis-server';
import { numberArg, parseArgs, runMain } from './support/args';
import {
  answerFigures,
  countSeqCountersBehind,
  countsText,
  currentMasterOf,
  inspector,
  killNode,
  RedirectWatch,
  replicationOf,
  restartNode,
  roomSlot,
  roomsOn,
  startClusterDrillStack,
  topologyFrom,
  until,
  withNode,
} from './support/cluster-drill';
import { type IntegrityFigures, integrity, snapshotRooms } from './support/integrity';
import { report } from './support/report';
import { Traffic } from './support/traffic';

export interface ClusterFailoverOptions {
  roomsPerMaster: number;
  membersPerRoom: number;
  intervalMs: number;
  /** Traffic before the first kill. */
  warmupMs: number;
  failovers: number;
  /** Traffic after each failover (from the promotion), before the next kill or the end. */
  gapMs: number;
  /** `auto`: the cluster promotes the replica after cluster-node-timeout; `takeover`: CLUSTER FAILOVER TAKEOVER. */
  promote: 'auto' | 'takeover';
  /** `takeover`: from the kill to the TAKEOVER (an operator's or a monitor's detection). */
  detectMs: number;
  /** From the promotion to the killed node's restart (it then syncs as the promoted node's replica). */
  replaceMs: number;
  replicasPerMaster: number;
  nodeTimeoutMs: number;
  minReplicaAcks: number;
  replicaAckTimeoutMs: number;
  /**
   * The functions in this process instead of worker threads (one Redis client for every invocation): the
   * handlers' client's own redirect counts are then reported too.
   */
  inProcess?: boolean;
  /** A message is given up this long after its first attempt (default 60 s). */
  retryDeadlineMs?: number;
  /**
   * Acknowledged messages the warmup needs before the first kill, and the whole run before the senders
   * stop (default 0: time alone). Each phase runs at least its time and on until then (`phaseTimeoutMs`
   * at most, default 60 s), so a busy machine drives the same traffic, slower.
   */
  warmupAcks?: number;
  minAcks?: number;
  phaseTimeoutMs?: number;
}

export const CLUSTER_FAILOVER_SHORT: ClusterFailoverOptions = {
  roomsPerMaster: 2,
  membersPerRoom: 4,
  intervalMs: 400,
  warmupMs: 2000,
  failovers: 1,
  gapMs: 3000,
  promote: 'auto',
  detectMs: 500,
  replaceMs: 500,
  replicasPerMaster: 1,
  nodeTimeoutMs: 2000,
  minReplicaAcks: 0,
  replicaAckTimeoutMs: 250,
  // Above the kill-to-promotion time (node timeout, election) on a busy machine, with room to resend
  // after a request that met the drill's 20 s wait for an answer.
  retryDeadlineMs: 45_000,
  // The short form's floor is 100 acknowledged messages.
  warmupAcks: 50,
  minAcks: 130,
  phaseTimeoutMs: 30_000,
};

export interface ClusterFailoverEvent {
  killedPort: number;
  promotedPort: number;
  /** Rooms of the killed master. */
  rooms: string[];
  killedAt: number;
  /** Replication bytes the replica lacked just before the kill (master offset - replica offset). */
  unreplicatedBytes: number;
  /** From the kill until the replica called itself master. */
  promoteMs: number;
  /** From the kill until every live node said cluster_state:ok again with the replica as master. */
  clusterOkMs: number;
  /** From the kill to the first ack, in the killed master's rooms, of an attempt started after the kill. */
  recoverMs: number | undefined;
  /** From the kill until every sender of those rooms had an ack after its last failure. */
  allRecoveredMs: number | undefined;
  /** From the promotion until the promoted node had a replica online again. */
  replicaBackMs: number | undefined;
  /** Failed attempts in the killed master's rooms, and in the others', from the kill to the next one. */
  failuresHere: number;
  failuresElsewhere: number;
}

export interface ClusterFailoverResult {
  integrity: IntegrityFigures;
  sent: number;
  gaveUp: number;
  events: ClusterFailoverEvent[];
  /** Acknowledged messages lost that were acknowledged more than 1 s before their master died. */
  lostOutsideWindow: number;
  failures: Record<string, number>;
  internal: number;
  unavailableMessages: number;
  unavailableThenAcked: number;
  seqCountersBehind: number;
  ackP50Ms: number;
  ackP99Ms: number;
  line: string;
}

const worst = (values: (number | undefined)[]) =>
  values.some((v) => v === undefined) ? undefined : Math.max(0, ...(values as number[]));

export async function runClusterFailoverDrill(
  options: ClusterFailoverOptions,
): Promise<ClusterFailoverResult> {
  let cluster: LocalRedisCluster | undefined;
  let stack: Awaited<ReturnType<typeof startClusterDrillStack>> | undefined;
  let traffic: Traffic | undefined;
  let watch: RedirectWatch | undefined;
  const restarted: RedisProcess[] = [];
  try {
    cluster = await startRedisCluster({
      replicasPerMaster: options.replicasPerMaster,
      nodeTimeoutMs: options.nodeTimeoutMs,
    });
    const c = cluster;
    const shards = c.masters();
    const taken = new Set<string>();
    const roomsOfShard = shards.map((m, i) => roomsOn(m, options.roomsPerMaster, `shard${i}`, taken));
    const rooms = roomsOfShard.flat();
    const byPort = new Map<number, ClusterNode>(c.nodes.map((n) => [n.port, n]));
    watch = RedirectWatch.install();
    const started = await startClusterDrillStack(c.url, options);
    stack = started;
    traffic = await Traffic.start({
      rooms,
      membersPerRoom: options.membersPerRoom,
      intervalMs: options.intervalMs,
      connectConcurrency: 4,
      retryDeadlineMs: options.retryDeadlineMs ?? 60_000,
      urlFor: (identity, room) => started.memberUrl(identity, room),
    });
    const t = traffic;
    const roomOf = new Map(t.members.map((m) => [m.identity.userId, m.room]));
    await t.runUntil({
      minMs: options.warmupMs,
      acks: options.warmupAcks ?? 0,
      since: 0,
      timeoutMs: options.phaseTimeoutMs ?? 60_000,
    });

    const events: ClusterFailoverEvent[] = [];
    const eventsMeta: { rooms: Set<string>; killedAt: number; promotedAt: number }[] = [];
    for (let i = 0; i < options.failovers; i++) {
      const shardRooms = roomsOfShard[i % shards.length] as string[];
      const slot = roomSlot(shardRooms[0] as string);
      const master = await currentMasterOf(c, slot);
      const victim = byPort.get(master.port) as ClusterNode;
      const topology = await topologyFrom(master.port);
      const replicas = topology.filter(
        (e) => e.role === 'replica' && e.masterId === master.id && !e.flags.includes('fail') && e.connected,
      );
      if (replicas.length === 0) throw new Error(`master 127.0.0.1:${master.port} has no replica to promote`);
      // What the replicas had just before the kill.
      const masterOffset = Number((await replicationOf(master.port)).master_repl_offset ?? 0);
      const replicaOffsets = await Promise.all(
        replicas.map(async (r) => Number((await replicationOf(r.port)).slave_repl_offset ?? 0)),
      );
      const unreplicatedBytes = Math.max(0, masterOffset - Math.max(...replicaOffsets));
      const killedAt = Date.now();
      await killNode(victim);
      if (process.env.DRILL_DEBUG)
        console.log(`${new Date(killedAt).toISOString().slice(11, 23)} killed ${victim.port}`);
      if (options.promote === 'takeover') {
        await sleep(options.detectMs);
        // The most up to date replica takes over without the other masters' agreement.
        const best = replicas[replicaOffsets.indexOf(Math.max(...replicaOffsets))] ?? replicas[0];
        await withNode((best as { port: number }).port, (n) => n.call('CLUSTER', 'FAILOVER', 'TAKEOVER'));
      }
      // The promoted node: the replica that calls itself master of the slot.
      let promotedPort = 0;
      await until(
        async () => {
          for (const r of replicas) {
            const self = (await topologyFrom(r.port)).find((e) => e.flags.includes('myself'));
            if (self?.role === 'master' && self.slots.some(([a, b]) => slot >= a && slot <= b)) {
              promotedPort = r.port;
              return true;
            }
          }
          return false;
        },
        `a replica of 127.0.0.1:${master.port} promoted`,
        options.nodeTimeoutMs * 5 + 10_000,
      );
      const promotedAt = Date.now();
      if (process.env.DRILL_DEBUG)
        console.log(`${new Date().toISOString().slice(11, 23)} promoted ${promotedPort}`);
      const live = c.nodes.filter((n) => n.port !== victim.port).map((n) => n.port);
      await until(
        async () => {
          for (const port of live) {
            const info = String(await withNode(port, (n) => n.call('CLUSTER', 'INFO')));
            if (!/cluster_state:ok/.test(info)) return false;
          }
          return true;
        },
        'cluster_state:ok on every live node',
        options.nodeTimeoutMs * 5 + 10_000,
      );
      const clusterOkAt = Date.now();
      // The replacement: the killed node starts again and follows the promoted one.
      const replaceAt = promotedAt + options.replaceMs;
      await sleep(Math.max(0, replaceAt - Date.now()));
      const again = await restartNode(victim, options.nodeTimeoutMs);
      restarted.push(again);
      if (process.env.DRILL_DEBUG)
        console.log(`${new Date().toISOString().slice(11, 23)} restarted ${victim.port}`);
      victim.process = again.process;
      victim.pid = again.process.pid as number;
      let replicaBackAt: number | undefined;
      await until(
        async () => {
          const info = await replicationOf(promotedPort);
          return /state=online/.test(Object.entries(info).find(([k]) => k.startsWith('slave'))?.[1] ?? '');
        },
        `a replica online for 127.0.0.1:${promotedPort}`,
        30_000,
      )
        .then(() => {
          replicaBackAt = Date.now();
        })
        .catch(() => undefined);
      await sleep(Math.max(0, promotedAt + options.gapMs - Date.now()));
      events.push({
        killedPort: victim.port,
        promotedPort,
        rooms: shardRooms,
        killedAt,
        unreplicatedBytes,
        promoteMs: promotedAt - killedAt,
        clusterOkMs: clusterOkAt - killedAt,
        recoverMs: undefined,
        allRecoveredMs: undefined,
        replicaBackMs: replicaBackAt === undefined ? undefined : replicaBackAt - promotedAt,
        failuresHere: 0,
        failuresElsewhere: 0,
      });
      eventsMeta.push({ rooms: new Set(shardRooms), killedAt, promotedAt });
    }

    await t.runUntil({ acks: options.minAcks ?? 0, since: 0, timeoutMs: options.phaseTimeoutMs ?? 60_000 });
    await t.stop();
    await t.reconcile(1000);
    watch.uninstall();
    const watched = watch;
    const toProduct = { ...watch.toProduct };
    const followed = { ...watch.followed };
    if (process.env.DRILL_DEBUG) console.log(watch.examples.join('\n'));
    watch = undefined;
    const snapshots = await snapshotRooms(t.members);
    const figures = integrity(t.acks, t.members, snapshots);

    // Recovery, per failover, in the killed master's rooms.
    for (const [i, event] of events.entries()) {
      const meta = eventsMeta[i] as (typeof eventsMeta)[number];
      const next = eventsMeta[i + 1]?.killedAt ?? Number.POSITIVE_INFINITY;
      const here = (userId: string) => meta.rooms.has(roomOf.get(userId) ?? '');
      const ack = t.ackLog.find((a) => here(a.userId) && a.attemptStartedAt >= meta.killedAt);
      event.recoverMs = ack ? ack.at - meta.killedAt : undefined;
      const senders = t.members.filter((m) => meta.rooms.has(m.room)).map((m) => m.identity.userId);
      event.allRecoveredMs = worst(
        senders.map((userId) => {
          const lastFailure = t.failureLog
            .filter((f) => f.userId === userId && f.at >= meta.killedAt && f.at < next)
            .reduce((at, f) => Math.max(at, f.at), meta.killedAt);
          const back = t.ackLog.find((a) => a.userId === userId && a.at > lastFailure);
          return back ? back.at - meta.killedAt : undefined;
        }),
      );
      const window = t.failureLog.filter((f) => f.at >= meta.killedAt && f.at < next);
      event.failuresHere = window.filter((f) => here(f.userId)).length;
      event.failuresElsewhere = window.length - event.failuresHere;
    }
    // A message lost with MIN_REPLICA_ACKS=0 is expected only if acked just before its master died.
    const lostIds = new Set<string>();
    for (const a of t.acks) {
      const snapshot = snapshots.get(a.room);
      const stored = snapshot?.messages.find((m) => m.seq === a.seq)?.id;
      if (snapshot?.epoch !== a.epoch || stored !== a.id) lostIds.add(a.clientMsgId);
    }
    const lostOutsideWindow = t.acks.filter(
      (a) =>
        lostIds.has(a.clientMsgId) &&
        !eventsMeta.some((m) => m.rooms.has(a.room) && a.ackAt <= m.killedAt && a.ackAt > m.killedAt - 1000),
    ).length;

    const reader = inspector(c);
    const seqCountersBehind = await countSeqCountersBehind(reader, rooms, t);

    const answers = answerFigures(t, started.logs);
    const result: Omit<ClusterFailoverResult, 'line'> = {
      integrity: figures,
      sent: t.sent,
      gaveUp: t.gaveUp,
      events,
      lostOutsideWindow,
      failures: answers.failures,
      internal: answers.internal,
      unavailableMessages: answers.unavailableMessages,
      unavailableThenAcked: answers.unavailableThenAcked,
      seqCountersBehind,
      ackP50Ms: answers.ackP50Ms,
      ackP99Ms: answers.ackP99Ms,
    };
    const max = (pick: (e: ClusterFailoverEvent) => number | undefined) => worst(events.map(pick));
    const line = report(
      options.minReplicaAcks > 0 ? 'cluster-failover-replica-acks' : 'cluster-failover',
      {
        min_replica_acks: options.minReplicaAcks,
        promote: options.promote,
        replicas: options.replicasPerMaster,
        sent: result.sent,
        acknowledged: figures.acknowledged,
        lost: figures.lost,
        lost_outside_window: lostOutsideWindow,
        duplicated: figures.duplicated,
        seq_conflicts: figures.seqConflicts,
        cursors_behind: figures.cursorsBehind,
        history_mismatch: figures.historyMismatch,
        store_gaps: figures.storeGaps,
        seq_counters_behind: seqCountersBehind,
        failovers: events.length,
        promote_ms: max((e) => e.promoteMs),
        cluster_ok_ms: max((e) => e.clusterOkMs),
        recover_ms: max((e) => e.recoverMs),
        all_recovered_ms: max((e) => e.allRecoveredMs),
        replica_back_ms: max((e) => e.replicaBackMs),
        unreplicated_bytes: events.reduce((n, e) => n + e.unreplicatedBytes, 0),
        failures_killed_rooms: events.reduce((n, e) => n + e.failuresHere, 0),
        failures_other_rooms: events.reduce((n, e) => n + e.failuresElsewhere, 0),
        internal: result.internal,
        // The gateway's side of an `internal`: a function that timed out, or one that threw.
        lambda_timeouts: started.counts.timeouts,
        lambda_errors: started.counts.errors,
        unavailable_msgs: result.unavailableMessages,
        unavailable_then_acked: result.unavailableThenAcked,
        client_followed: watched.text(followed),
        product_redirects: watched.text(toProduct),
        gave_up: result.gaveUp,
        stored_unacked: figures.storedUnacked,
        members: figures.members,
        rooms: rooms.length,
        ack_p50_ms: result.ackP50Ms,
        ack_p99_ms: result.ackP99Ms,
        failures: countsText(result.failures),
      },
      { ...options },
    );
    return { ...result, line };
  } finally {
    watch?.uninstall();
    await traffic?.closeAll();
    await stack?.stop();
    for (const node of restarted) await node.stop();
    await cluster?.stop();
  }
}

/** The verdict with replica-confirmed acks: nothing acknowledged lost (what the short forms assert). */
export function clusterFailoverHolds(r: ClusterFailoverResult, options: ClusterFailoverOptions): boolean {
  const f = r.integrity;
  const lostOk = options.minReplicaAcks > 0 ? f.lost === 0 : r.lostOutsideWindow === 0;
  return (
    f.acknowledged > 0 &&
    lostOk &&
    f.duplicated === 0 &&
    f.cursorsBehind === 0 &&
    f.historyMismatch === 0 &&
    f.unreadRooms === 0 &&
    r.internal === 0 &&
    r.unavailableThenAcked === r.unavailableMessages &&
    r.gaveUp === 0 &&
    r.events.every((e) => e.recoverMs !== undefined)
  );
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const promote = args.get('promote') ?? 'auto';
    if (promote !== 'auto' && promote !== 'takeover') throw new Error('--promote must be auto or takeover');
    const options: ClusterFailoverOptions = {
      roomsPerMaster: numberArg(args, 'rooms-per-master', 2),
      membersPerRoom: numberArg(args, 'members', 5),
      intervalMs: numberArg(args, 'interval', 250),
      warmupMs: numberArg(args, 'warmup', 3) * 1000,
      failovers: numberArg(args, 'failovers', 3),
      gapMs: numberArg(args, 'gap', 6) * 1000,
      promote,
      detectMs: numberArg(args, 'detect', 0.5) * 1000,
      replaceMs: numberArg(args, 'replace', 1) * 1000,
      replicasPerMaster: numberArg(args, 'replicas', 1),
      nodeTimeoutMs: numberArg(args, 'node-timeout', 2000),
      minReplicaAcks: numberArg(args, 'min-replica-acks', 0),
      replicaAckTimeoutMs: numberArg(args, 'ack-timeout', 250),
      inProcess: args.has('in-process'),
    };
    const result = await runClusterFailoverDrill(options);
    if (result.integrity.examples.length) console.log(`examples: ${result.integrity.examples.join('; ')}`);
    return clusterFailoverHolds(result, options);
  });
}
