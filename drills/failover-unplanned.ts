/**
 * Drill: an unplanned Redis failover. The replication link is cut (a partition: the replica's
 * connection to the primary is dropped and every new one refused, not a pause) while the primary keeps
 * taking writes from every member, then the primary dies (SIGKILL), the replica is promoted
 * (`REPLICAOF NO ONE`) and the endpoint repointed to it, as ElastiCache Multi-AZ does when a primary
 * fails. What the old primary took during the cut is gone with it. Then, as ElastiCache replaces the
 * failed node, a new empty node joins as the new primary's replica: until it has synced, the promoted
 * node has no replica to confirm writes, so with MIN_REPLICA_ACKS=1 sends stay `unavailable` until then.
 *
 * Two redis-server processes; a TCP proxy stands for the primary endpoint (the functions' REDIS_URL) and a
 * second one carries the replication link (the replica is `--replicaof` that proxy), so the drill can
 * cut it. The functions run with MIN_REPLICA_ACKS (default 1) and REPLICA_ACK_TIMEOUT_MS: a message is
 * acknowledged only once a replica has it, so with the link cut senders get `unavailable` and resend the
 * same clientMsgId until acknowledged by the promoted replica.
 *
 * It holds when: 0 acknowledged messages lost (each acked (epoch, seq, id) is in the new primary's
 * history and held by every member), 0 duplicated deliveries, no (epoch, seq) with two ids, every
 * member's cursor is the room's (epoch, lastSeq). `--min-replica-acks 0` shows what happens without the
 * protection: messages acknowledged during the cut are lost and their seqs reused by other messages.
 *
 * Long form: `npm run drill:failover:unplanned -- --rooms 6 --members 6 --interval 200 --warmup 3
 * --cut 3 --reconnects 1 [--lull] --listeners 0 --detect 1 --replace 1 --replicas 1 --after 5 [--min-replica-acks 0] [--ack-timeout 200]`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { numberArg, parseArgs, runMain, trafficArgs } from './support/args';
import { type IntegrityFigures, integrity, integrityHolds, snapshotRooms } from './support/integrity';
import type { DrillMember } from './support/member';
import { RedisNode, waitFor } from './support/redis-node';
import { byReason, quantile, report } from './support/report';
import { startDrillStack } from './support/stack';
import { TcpProxy } from './support/tcp-proxy';
import { Traffic } from './support/traffic';

export interface UnplannedFailoverOptions {
  rooms: number;
  membersPerRoom: number;
  intervalMs: number;
  /** Traffic before the cut. */
  warmupMs: number;
  /**
   * Acknowledged messages the warmup needs before the cut, and the traffic after the promotion before
   * the senders stop (default 0: time alone). Each phase runs at least its time and on until then
   * (`phaseTimeoutMs` at most, default 60 s): a busy machine drives the same traffic, slower.
   */
  warmupAcks?: number;
  afterAcks?: number;
  phaseTimeoutMs?: number;
  /** The replication link is cut this long while the primary takes writes. */
  cutMs: number;
  /**
   * Members per room whose socket drops halfway through the cut: they reconnect and resume from the
   * primary while it holds writes no replica confirmed (a flaky connection, a student joining late).
   */
  reconnectsDuringCut: number;
  /** The senders pause while the rejoining members resume (so that their reads reach the primary). */
  lullForRejoin: boolean;
  /** Members per room that only listen (the last ones: the rejoining members are among them first). */
  listenersPerRoom: number;
  /** From the primary's death to the replica's promotion (failure detection). */
  detectMs: number;
  /** From the promotion to the replacement node's start (it then syncs from the new primary). */
  replaceMs: number;
  /**
   * Replicas (each behind its own cut link). With one, the promoted node has no replica until the
   * replacement has synced; with two, the other follows the promoted one at once.
   */
  replicas: number;
  /** Traffic after the promotion, before the senders stop (they still resend until acknowledged). */
  afterMs: number;
  minReplicaAcks: number;
  replicaAckTimeoutMs: number;
}

export const UNPLANNED_SHORT: UnplannedFailoverOptions = {
  rooms: 4,
  membersPerRoom: 6,
  intervalMs: 300,
  warmupMs: 2000,
  cutMs: 1500,
  reconnectsDuringCut: 1,
  lullForRejoin: false,
  listenersPerRoom: 0,
  detectMs: 300,
  replaceMs: 300,
  replicas: 1,
  afterMs: 2500,
  minReplicaAcks: 1,
  replicaAckTimeoutMs: 200,
  // 60 + 60 and what the cut lets through: the short forms' floor is 100 acknowledged messages.
  warmupAcks: 60,
  afterAcks: 60,
  phaseTimeoutMs: 30_000,
};

/**
 * Listeners that rejoin during the cut, with a lull in the conversation while they resume, so that their
 * reads do reach the old primary (the local functions share one Redis connection: busy with WAITs, it
 * would time their reads out instead; on AWS each container has its own).
 */
export const UNPLANNED_REJOIN_SHORT: UnplannedFailoverOptions = {
  ...UNPLANNED_SHORT,
  lullForRejoin: true,
  listenersPerRoom: 1,
  membersPerRoom: 6,
  rooms: 5,
  cutMs: 2500,
};

export interface UnplannedFailoverResult {
  integrity: IntegrityFigures;
  sent: number;
  gaveUp: number;
  acksBeforeCut: number;
  acksDuringCut: number;
  /** Acks between the primary's death and the promotion (none can come). */
  acksWhileDown: number;
  acksAfterPromotion: number;
  /** `unavailable` answers to sends made while the link was cut. */
  unavailableDuringCut: number;
  /** Failed attempts by answer, from the cut to the end. */
  failures: Record<string, number>;
  /** How the rejoining members' resumes during the cut were answered (`history`, an error code, `none`). */
  rejoinAnswers: Record<string, number>;
  /**
   * Members that got none of the messages acknowledged (to others) after the promotion live: no longer
   * in the room's member list, they saw no gap either, only the final resume gave them anything.
   */
  cutOffMembers: number;
  /** Bytes of replication stream the replica never got (what died with the primary). */
  unreplicatedBytes: number;
  /** From the promotion to the first ack of an attempt started after it. */
  recoverMs: number | undefined;
  /** From the primary's death to the first ack of an attempt started after it. */
  recoverFromKillMs: number | undefined;
  /** From the promotion until the new primary had a replica linked (another one, or the replacement). */
  replicaBackMs: number;
  /** From the cut until every sender had an ack again after its last failure. */
  allRecoveredMs: number | undefined;
  /** A first-attempt ack's latency, 90th percentile: what this machine adds to any request. */
  machineDelayMs: number;
  ackP50Ms: number;
  ackP99Ms: number;
  line: string;
}

/** Waits until no client of `node` has been blocked (in WAIT) for `forMs` in a row, or `timeoutMs`. */
async function quiet(node: RedisNode, forMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let since = Date.now();
  while (Date.now() < deadline && Date.now() - since < forMs) {
    const text = await node.admin.info('clients');
    if (!/\bblocked_clients:0\b/.test(text)) since = Date.now();
    await sleep(20);
  }
}

export async function runUnplannedFailoverDrill(
  options: UnplannedFailoverOptions,
): Promise<UnplannedFailoverResult> {
  const nodes: RedisNode[] = [];
  const proxies: TcpProxy[] = [];
  let stack: Awaited<ReturnType<typeof startDrillStack>> | undefined;
  let traffic: Traffic | undefined;
  try {
    // A node that becomes primary starts a replica's full sync at once (not after the 5 s default delay).
    const nodeArgs = ['--repl-diskless-sync-delay', '0'];
    const primary = await RedisNode.start({ args: nodeArgs });
    nodes.push(primary);
    // The replication link goes through its own proxy, so it can be cut.
    const links: TcpProxy[] = [];
    const replicas: RedisNode[] = [];
    for (let i = 0; i < Math.max(1, options.replicas); i++) {
      const link = await TcpProxy.start({ host: '127.0.0.1', port: primary.port });
      proxies.push(link);
      links.push(link);
      const node = await RedisNode.start({
        args: [...nodeArgs, '--replicaof', '127.0.0.1', String(link.port)],
      });
      nodes.push(node);
      replicas.push(node);
      await waitFor(
        async () => (await node.replication()).master_link_status === 'up',
        'replica link up',
        10_000,
      );
    }
    // After its sync the primary streams to a replica only from the replica's first REPLCONF ACK (each
    // second): until then WAIT counts none, and every confirmed write (a $connect too) would be refused.
    await waitFor(
      async () => {
        await primary.admin.set('drill:probe', String(Date.now()));
        return Number(await primary.admin.call('WAIT', replicas.length, 100)) >= replicas.length;
      },
      'the replicas confirming writes',
      10_000,
    );
    const [replica, ...others] = replicas as [RedisNode, ...RedisNode[]];
    const endpoint = await TcpProxy.start({ host: '127.0.0.1', port: primary.port });
    proxies.push(endpoint);
    const started = await startDrillStack({
      redisUrl: endpoint.url,
      env: {
        MIN_REPLICA_ACKS: String(options.minReplicaAcks),
        REPLICA_ACK_TIMEOUT_MS: String(options.replicaAckTimeoutMs),
      },
    });
    stack = started;
    const rooms = Array.from({ length: options.rooms }, (_, i) => `unplanned-${i}`);
    traffic = await Traffic.start({
      rooms,
      membersPerRoom: options.membersPerRoom,
      sendersPerRoom: Math.max(1, options.membersPerRoom - options.listenersPerRoom),
      intervalMs: options.intervalMs,
      // Every message is resent until acknowledged, however long the failover takes.
      retryDeadlineMs: 60_000,
      urlFor: (identity, room) => started.memberUrl(identity, room),
    });
    await traffic.runUntil({
      minMs: options.warmupMs,
      acks: options.warmupAcks ?? 0,
      since: 0,
      timeoutMs: options.phaseTimeoutMs ?? 60_000,
    });

    // The partition: the replicas' links dropped, their reconnects refused; the primary goes on.
    const cutAt = Date.now();
    for (const link of links) link.block();
    await sleep(options.cutMs / 2);
    const t = traffic;
    const rejoining = rooms.flatMap((room) =>
      t.members.filter((m) => m.room === room).slice(-options.reconnectsDuringCut),
    );
    const rejoinAt = Date.now();
    const answered = (m: DrillMember) => (m.lastResumeAnswer?.at ?? 0) >= rejoinAt;
    if (options.lullForRejoin) {
      // A lull: the senders wait, what is in flight gets its answer, and the WAITs already sent to the
      // primary on the functions' connection (a client that timed out does not take them back) drain.
      t.hold();
      await waitFor(() => t.inFlight === 0, 'the sends in flight answered', 5000, 20).catch(() => undefined);
      await quiet(primary, options.replicaAckTimeoutMs + 200, 10_000);
    }
    // Reconnecting queues a resume from the member's cursor. Not awaited without a lull: the schedule
    // goes on whatever the rejoining members meet.
    // A handshake during the cut is refused (its membership cannot be confirmed): the member keeps trying,
    // as the SDK does, until well after the promotion and the replacement replica.
    const rejoinDeadline = Date.now() + options.cutMs + options.detectMs + options.replaceMs + 20_000;
    const rejoins = Promise.all(rejoining.map((m) => m.reconnect(rejoinDeadline).catch(() => undefined)));
    if (options.lullForRejoin) {
      // Until each has met the primary: its resume answered, or its handshake refused.
      const met = (m: DrillMember) => answered(m) || (m.lastConnectFailure?.at ?? 0) >= rejoinAt;
      await waitFor(() => rejoining.every(met), 'the rejoins met the primary', 10_000, 20).catch(
        () => undefined,
      );
      t.release();
    }
    await sleep(Math.max(0, cutAt + options.cutMs - Date.now()));
    // During the cut: the resume's answer, or the refused handshake (`refused HTTP 500`), or nothing.
    const rejoinAnswers = byReason(
      rejoining.map((m) => ({
        reason: answered(m)
          ? (m.lastResumeAnswer?.answer ?? 'none')
          : (m.lastConnectFailure?.at ?? 0) >= rejoinAt
            ? `refused ${m.lastConnectFailure?.reason}`
            : 'none',
      })),
    );

    // The primary dies with what it did not replicate.
    const primaryOffset = Number((await primary.replication()).master_repl_offset ?? 0);
    // What the replicas had when the link was cut (they got nothing since).
    const replicaOffset = Number((await replica.replication()).slave_repl_offset ?? 0);
    const killedAt = Date.now();
    await primary.kill();
    await sleep(options.detectMs);
    await replica.admin.call('REPLICAOF', 'NO', 'ONE');
    endpoint.repoint({ host: '127.0.0.1', port: replica.port });
    const promotedAt = Date.now();
    // The other replicas follow the new primary (a partial resync: they have what it has, or less).
    for (const node of others) await node.admin.call('REPLICAOF', '127.0.0.1', String(replica.port));
    const linked = async (node: RedisNode) => (await node.replication()).master_link_status === 'up';
    let replicaBackMs: number | undefined;
    if (others.length > 0) {
      await waitFor(async () => (await Promise.all(others.map(linked))).some(Boolean), 'a replica', 15_000);
      replicaBackMs = Date.now() - promotedAt;
    }

    // The failed node is replaced: a new empty node syncs from the new primary.
    await sleep(options.replaceMs);
    const replacement = await RedisNode.start({
      args: [...nodeArgs, '--replicaof', '127.0.0.1', String(replica.port)],
    });
    nodes.push(replacement);
    await waitFor(() => linked(replacement), 'the replacement replica linked', 15_000);
    replicaBackMs ??= Date.now() - promotedAt;

    await traffic.runUntil({
      minMs: Math.max(0, options.afterMs - replicaBackMs),
      acks: options.afterAcks ?? 0,
      since: promotedAt,
      timeoutMs: options.phaseTimeoutMs ?? 60_000,
    });
    await rejoins;
    await traffic.stop();
    await traffic.reconcile(1000);
    const snapshots = await snapshotRooms(traffic.members);
    const figures = integrity(traffic.acks, traffic.members, snapshots);
    const acks = traffic.acks;
    // Live deliveries after the promotion (once the members had a second to notice anything).
    let cutOffMembers = 0;
    for (const m of traffic.members) {
      const later = acks.filter(
        // Counted from the promotion, or from the member's rejoin when that came later (its handshake is
        // refused until its membership can be confirmed, then retried with backoff).
        (a) =>
          a.room === m.room &&
          a.userId !== m.identity.userId &&
          a.ackAt > Math.max(promotedAt, m.openedAt) + 1000,
      );
      const live = later.filter((a) => m.logs.get(a.epoch)?.have.get(a.seq) === 'live').length;
      if (later.length >= 3 && live === 0) cutOffMembers++;
    }
    const between = (from: number, to: number) => acks.filter((a) => a.ackAt >= from && a.ackAt < to).length;
    const failuresFromCut = traffic.failuresBetween(cutAt);
    const latencies = acks.map((a) => a.ackAt - a.firstSentAt).sort((a, b) => a - b);
    const result: Omit<UnplannedFailoverResult, 'line'> = {
      integrity: figures,
      sent: traffic.sent,
      gaveUp: traffic.gaveUp,
      acksBeforeCut: between(0, cutAt),
      acksDuringCut: between(cutAt, killedAt),
      acksWhileDown: between(killedAt, promotedAt),
      acksAfterPromotion: between(promotedAt, Number.POSITIVE_INFINITY),
      unavailableDuringCut: traffic.failuresBetween(cutAt, killedAt).filter((f) => f.reason === 'unavailable')
        .length,
      failures: byReason(failuresFromCut),
      rejoinAnswers,
      cutOffMembers,
      unreplicatedBytes: Math.max(0, primaryOffset - replicaOffset),
      recoverMs: traffic.recoveryMs(promotedAt),
      recoverFromKillMs: traffic.recoveryMs(killedAt),
      replicaBackMs,
      allRecoveredMs: traffic.allRecoveredMs(cutAt),
      machineDelayMs: traffic.machineDelayMs(),
      ackP50Ms: quantile(latencies, 0.5),
      ackP99Ms: quantile(latencies, 0.99),
    };
    const name = options.minReplicaAcks > 0 ? 'failover-unplanned' : 'failover-unplanned-unprotected';
    const line = report(
      name,
      {
        min_replica_acks: options.minReplicaAcks,
        replicas: Math.max(1, options.replicas),
        sent: result.sent,
        acknowledged: figures.acknowledged,
        lost: figures.lost,
        lost_from_store: figures.lostFromStore,
        lost_pairs: figures.lostPairs,
        duplicated: figures.duplicated,
        seq_conflicts: figures.seqConflicts,
        cursors_behind: figures.cursorsBehind,
        history_mismatch: figures.historyMismatch,
        store_gaps: figures.storeGaps,
        epochs_max: figures.maxEpochsPerRoom,
        epoch_resets: figures.epochResets,
        acks_before_cut: result.acksBeforeCut,
        acks_during_cut: result.acksDuringCut,
        acks_while_down: result.acksWhileDown,
        acks_after_promotion: result.acksAfterPromotion,
        unavailable_during_cut: result.unavailableDuringCut,
        rejoin_resumes:
          Object.entries(rejoinAnswers)
            .map(([k, v]) => `${k}:${v}`)
            .join(',') || 'none',
        cut_off_members: result.cutOffMembers,
        unreplicated_bytes: result.unreplicatedBytes,
        recover_ms: result.recoverMs,
        recover_from_kill_ms: result.recoverFromKillMs,
        replica_back_ms: result.replicaBackMs,
        all_recovered_ms: result.allRecoveredMs,
        machine_delay_ms: result.machineDelayMs,
        gave_up: result.gaveUp,
        stored_unacked: figures.storedUnacked,
        members: figures.members,
        rooms: options.rooms,
        ack_p50_ms: result.ackP50Ms,
        ack_p99_ms: result.ackP99Ms,
        failures:
          Object.entries(result.failures)
            .map(([k, v]) => `${k}:${v}`)
            .join(',') || 'none',
      },
      { ...options },
    );
    return { ...result, line };
  } finally {
    await traffic?.closeAll();
    await stack?.stop();
    for (const proxy of proxies) await proxy.close();
    for (const node of nodes) await node.stop();
  }
}

/** The protected run's verdict (what the short form asserts). */
export function unplannedHolds(r: UnplannedFailoverResult): boolean {
  const f = r.integrity;
  return f.acknowledged > 0 && integrityHolds(f) && r.cutOffMembers === 0 && r.gaveUp === 0;
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const result = await runUnplannedFailoverDrill({
      ...trafficArgs(args, { rooms: 6, members: 6, interval: 200 }),
      warmupMs: numberArg(args, 'warmup', 3) * 1000,
      cutMs: numberArg(args, 'cut', 3) * 1000,
      reconnectsDuringCut: numberArg(args, 'reconnects', 1),
      lullForRejoin: args.has('lull'),
      listenersPerRoom: numberArg(args, 'listeners', 0),
      detectMs: numberArg(args, 'detect', 1) * 1000,
      replaceMs: numberArg(args, 'replace', 1) * 1000,
      replicas: numberArg(args, 'replicas', 1),
      afterMs: numberArg(args, 'after', 5) * 1000,
      minReplicaAcks: numberArg(args, 'min-replica-acks', 1),
      replicaAckTimeoutMs: numberArg(args, 'ack-timeout', 200),
    });
    if (result.integrity.examples.length) console.log(`examples: ${result.integrity.examples.join('; ')}`);
    // Without replica acks the drill is expected to lose messages: it succeeds when it shows that.
    return numberArg(args, 'min-replica-acks', 1) === 0 ? true : unplannedHolds(result);
  });
}
