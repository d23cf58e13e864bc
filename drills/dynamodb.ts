/**
 * Drills on the DynamoDB store (issue 17): the gateway emulator serving template.yaml with Store=DynamoDB,
 * the real handlers on the store of layers/shared/src/dynamo-store.ts, a local DynamoDB (moto, table from the
 * template: local/dynamodb.ts) reached through an HTTP proxy that can throttle, refuse or hang
 * (drills/support/dynamodb-proxy.ts), and real WebSocket clients.
 *
 * 1. burst: N members of one room send at the same instant, for several rounds. Every ack has its own seq, the
 *    room's seqs are exactly 1..sent (no gap, none twice), the table holds them, every member gets every
 *    message live or through `resume`.
 * 2. throttle: steady traffic in several rooms while the proxy answers a share of the writes (and reads) with
 *    DynamoDB's throttling errors. Every acknowledged message is in the store and at every member (lost 0),
 *    every refused attempt was answered `unavailable` and resent until acknowledged (the SDK retried the
 *    rest), no seq twice, no gap in the stored seqs; the throttled requests are counted at the proxy.
 * 3. outage: the proxy refuses connections, then hangs (accepts and never answers), a few seconds each.
 *    Sends are answered `unavailable` within the store's client bound (its timeouts and attempts), well inside
 *    the Lambda timeout; a handshake is refused with 500; nothing partial is left; once the endpoint is back,
 *    sends are acknowledged again without a restart (recovery time measured).
 *
 * Results: artifacts/drills/dynamodb-{burst,throttle,outage}.json (drills/support/report.ts).
 * Long form: `npm run drill:dynamodb` (all three) or `npm run drill:dynamodb -- --scenario throttle --acks 1000`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from '../bench/lib/stats';
import {
  DYNAMODB_CONNECT_TIMEOUT_MS,
  DYNAMODB_MAX_ATTEMPTS,
  DYNAMODB_OPERATION_BUDGET_MS,
  DYNAMODB_REQUEST_TIMEOUT_MS,
} from '../layers/shared/src/dynamo-store';
import { type LocalDynamoDB, startLocalDynamoDB } from '../local/dynamodb';
import { DynamoInspector } from '../test/support/store-inspector';
import { numberArg, parseArgs, runMain } from './support/args';
import { withMachineDelay } from './support/bounds';
import { DynamoProxy } from './support/dynamodb-proxy';
import { type IntegrityFigures, integrity, snapshotRooms } from './support/integrity';
import { type DrillMember, tryHandshake } from './support/member';
import { type FigureValue, report, trafficColumns } from './support/report';
import { type DrillStack, startDrillStack } from './support/stack';
import { type AckRecord, Traffic, type TrafficFigures } from './support/traffic';

/** The functions' Timeout in template.yaml (Globals): a request answered after it was cut off, not by the store. */
export const LAMBDA_TIMEOUT_MS = 10_000;

/**
 * The store's own bound on a store operation against a dead endpoint: its calls are cut at the operation budget
 * (DYNAMODB_OPERATION_BUDGET_MS: a hung endpoint), or fail sooner after their attempts (DYNAMODB_MAX_ATTEMPTS,
 * each within the connection and request timeouts, a refused connection at once); a clean-up call after the
 * budget (a dedupe claim released) gets 500 ms more. The handler then answers; 1 s is allowed for that.
 */
export const STORE_CALL_BOUND_MS =
  Math.min(
    DYNAMODB_OPERATION_BUDGET_MS,
    DYNAMODB_MAX_ATTEMPTS * (DYNAMODB_CONNECT_TIMEOUT_MS + DYNAMODB_REQUEST_TIMEOUT_MS) + 1000,
  ) +
  500 +
  1000;

// ---- the DynamoDB drill stack ----------------------------------------------------------------------------

interface DynamoDrillEnv {
  local: LocalDynamoDB;
  proxy: DynamoProxy;
  stack: DrillStack;
  inspector: DynamoInspector;
}

async function withDynamoStack<T>(
  name: string,
  { seed = 17, maxConcurrency }: { seed?: number; maxConcurrency?: number },
  run: (env: DynamoDrillEnv) => Promise<T>,
): Promise<T> {
  const local = await startLocalDynamoDB({ stackName: `drill-${name}-${Date.now().toString(36)}` });
  // The drill's own reads of the table (the inspector) use this process's SDK configuration.
  process.env.AWS_REGION ??= local.region;
  process.env.AWS_ACCESS_KEY_ID ??= 'local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
  let proxy: DynamoProxy | undefined;
  let stack: DrillStack | undefined;
  let inspector: DynamoInspector | undefined;
  try {
    proxy = await DynamoProxy.start(local.endpoint, { seed });
    stack = await startDrillStack({
      dynamodb: { endpoint: proxy.url, tableName: local.tableName },
      maxConcurrency,
    });
    inspector = new DynamoInspector(local.endpoint, local.tableName);
    return await run({ local, proxy, stack, inspector });
  } finally {
    await stack?.stop();
    await proxy?.close();
    inspector?.close();
    await local.stop();
  }
}

/** A room as the table holds it, read straight from DynamoDB (not through the store's code). */
export interface TableRoom {
  room: string;
  /** The state item's last assigned seq (0 without one). */
  seq: number;
  /** Message items of the current epoch. */
  items: number;
  /**
   * Seqs at or below `seq` without their message item, the newest excepted (it is kept in the state item until
   * the next message writes its item): messages gone from the table.
   */
  holes: number[];
  /** The newest message is only in the state item so far. */
  newestInStateOnly: boolean;
  /** Live member items (connections). */
  memberItems: number;
}

/** Rooms stay below this many messages in these drills, so that no trimming (ROOM_HISTORY_LIMIT) hides a hole. */
const HISTORY_LIMIT = 1000;

async function tableRoom(inspector: DynamoInspector, room: string): Promise<TableRoom> {
  const seq = (await inspector.seq(room)) ?? 0;
  const stored = new Set(await inspector.storedSeqs(room));
  const holes: number[] = [];
  for (let s = Math.max(1, seq - HISTORY_LIMIT + 1); s < seq; s++) if (!stored.has(s)) holes.push(s);
  return {
    room,
    seq,
    items: stored.size,
    holes,
    newestInStateOnly: seq > 0 && !stored.has(seq),
    memberItems: (await inspector.memberIds(room)).length,
  };
}

/** The store's view and the members' (integrity.ts), with the table's. */
async function checkRooms(
  traffic: Traffic,
  inspector: DynamoInspector,
  rooms: string[],
): Promise<{ integrity: IntegrityFigures; tables: TableRoom[] }> {
  const snapshots = await snapshotRooms(traffic.members);
  const figures = integrity(traffic.acks, traffic.members, snapshots);
  const tables: TableRoom[] = [];
  for (const room of rooms) tables.push(await tableRoom(inspector, room));
  return { integrity: figures, tables };
}

function storeColumns(check: {
  integrity: IntegrityFigures;
  tables: TableRoom[];
}): Record<string, FigureValue> {
  const i = check.integrity;
  return {
    lost_from_store: i.lostFromStore,
    seq_conflicts: i.seqConflicts,
    store_gaps: i.storeGaps,
    table_holes: check.tables.reduce((n, t) => n + t.holes.length, 0),
    history_mismatch: i.historyMismatch,
    cursors_behind: i.cursorsBehind,
  };
}

/** How long the local DynamoDB took to answer the requests the proxy forwarded (this machine's store latency). */
function storeLatency(proxy: DynamoProxy): Record<string, FigureValue> {
  const ms = [...proxy.stats.upstreamMs].sort((a, b) => a - b);
  return {
    store_requests: proxy.stats.requests,
    store_p50_ms: ms.length ? Math.round(percentile(ms, 50)) : 0,
    store_p99_ms: ms.length ? Math.round(percentile(ms, 99)) : 0,
  };
}

/**
 * For each message item missing from the table: how its writes fared at the proxy (`room/seq: item writes
 * throttled T, forwarded F, held H`), e.g. a message item whose every write was throttled.
 */
function holeDiagnosis(proxy: DynamoProxy, tables: TableRoom[]): string[] {
  const out: string[] = [];
  for (const table of tables) {
    for (const seq of table.holes) {
      const suffix = `#${String(seq).padStart(16, '0')}`;
      const sum = { throttled: 0, forwarded: 0, held: 0 };
      for (const [key, writes] of proxy.stats.itemWrites) {
        if (key.startsWith(`room#${table.room} msg#`) && key.endsWith(suffix)) {
          sum.throttled += writes.throttled;
          sum.forwarded += writes.forwarded;
          sum.held += writes.held;
        }
      }
      out.push(
        `${table.room}/${seq}: item writes throttled ${sum.throttled}, forwarded ${sum.forwarded}, held ${sum.held}`,
      );
    }
  }
  return out;
}

const describeCounts = (counts: Record<string, number>): string =>
  Object.entries(counts)
    .map(([k, v]) => `${k}:${v}`)
    .join(',') || 'none';

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

// ---- 1. burst: every member of one room sends at the same instant -----------------------------------------

export interface BurstOptions {
  members: number;
  rounds: number;
  /** Pause between two rounds (ms). */
  roundGapMs: number;
  /** Workers per function at most. */
  maxConcurrency: number;
}

export const BURST_SHORT: BurstOptions = { members: 50, rounds: 3, roundGapMs: 500, maxConcurrency: 4 };

export interface BurstResult {
  figures: TrafficFigures;
  integrity: IntegrityFigures;
  table: TableRoom;
  /** The acknowledged seqs, sorted. */
  ackedSeqs: number[];
  /** Distinct seqs among the acks. */
  distinctSeqs: number;
  /** Time from the round's start to its last ack, per round (ms). */
  roundMs: number[];
  gatewayErrors: number;
  line: string;
}

/**
 * One message, resent with the same clientMsgId until acknowledged (or the deadline), recorded in `traffic`'s
 * books as its own senders do, so that its reconciliation accounts for it.
 */
async function sendUntilAcked(
  traffic: Traffic,
  member: DrillMember,
  clientMsgId: string,
  deadlineMs: number,
): Promise<void> {
  const firstSentAt = Date.now();
  const userId = member.identity.userId;
  traffic.sent++;
  for (let attempt = 0; ; attempt++) {
    if (Date.now() > firstSentAt + deadlineMs) {
      traffic.gaveUp++;
      return;
    }
    if (!member.isOpen) await member.reconnect(firstSentAt + deadlineMs).catch(() => undefined);
    traffic.attempts++;
    const attemptStartedAt = Date.now();
    const outcome = await member.sendOnce(clientMsgId);
    if (outcome.ok) {
      const record: AckRecord = {
        clientMsgId,
        room: member.room,
        ...(outcome.epoch === undefined ? {} : { epoch: outcome.epoch }),
        seq: outcome.seq,
        id: outcome.id,
        userId,
        firstSentAt,
        ackAt: Date.now(),
        attempts: attempt + 1,
      };
      const room = traffic.acked.get(member.room) as Map<number, AckRecord>;
      const previous = room.get(outcome.seq);
      // One seq acknowledged for two messages: kept as a conflict, which the figures count as lost.
      room.set(
        outcome.seq,
        previous && previous.clientMsgId !== clientMsgId
          ? { ...previous, id: `${previous.id}|conflict` }
          : record,
      );
      traffic.acks.push(record);
      traffic.ackLog.push({ at: record.ackAt, userId, attemptStartedAt });
      return;
    }
    traffic.failureLog.push({
      at: Date.now(),
      userId,
      reason: outcome.reason,
      latencyMs: outcome.latencyMs,
      clientMsgId,
    });
    if (outcome.reason === 'forbidden')
      await member.reconnect(firstSentAt + deadlineMs).catch(() => undefined);
    else await sleep(Math.min(1000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2));
  }
}

export async function runBurstDrill(options: BurstOptions): Promise<BurstResult> {
  return withDynamoStack(
    'burst',
    { maxConcurrency: options.maxConcurrency },
    async ({ proxy, stack, inspector }) => {
      const room = `burst-${Date.now().toString(36)}`;
      const traffic = await Traffic.connect({
        rooms: [room],
        membersPerRoom: options.members,
        intervalMs: 1000,
        urlFor: (identity, r) => stack.memberUrl(identity, r),
        connectConcurrency: 10,
        // Fifty sends queue behind the functions' workers on a small machine: an answer may take tens of seconds
        // (a member resends after its timeout, which dedupe absorbs, but the load only grows). Messages of one
        // burst are broadcast out of seq order: a member resumes only for a gap that stays open for seconds.
        member: { requestTimeoutMs: 120_000, gapWaitMs: 5000 },
        userPrefix: 'b',
      });
      try {
        const roundMs: number[] = [];
        for (let round = 0; round < options.rounds; round++) {
          if (round > 0) await sleep(options.roundGapMs);
          const started = Date.now();
          // Every member's send leaves in the same tick.
          await Promise.all(
            traffic.members.map((m) => sendUntilAcked(traffic, m, `${m.identity.userId}.r${round}`, 180_000)),
          );
          roundMs.push(Date.now() - started);
        }
        const figures = await traffic.reconcile(1500);
        const check = await checkRooms(traffic, inspector, [room]);
        const table = check.tables[0] as TableRoom;
        const ackedSeqs = traffic.acks.map((a) => a.seq).sort((a, b) => a - b);
        const distinctSeqs = new Set(ackedSeqs).size;
        const gatewayErrors = stack.counts.errors + stack.counts.timeouts;
        const line = report(
          'dynamodb-burst',
          {
            ...trafficColumns(figures),
            rounds: options.rounds,
            distinct_seqs: distinctSeqs,
            seq_range: `${ackedSeqs[0] ?? 0}..${ackedSeqs[ackedSeqs.length - 1] ?? 0}`,
            room_seq: table.seq,
            table_items: table.items,
            ...storeColumns(check),
            round_max_ms: Math.max(...roundMs),
            ...storeLatency(proxy),
            gateway_errors: gatewayErrors,
          },
          { ...options },
        );
        return {
          figures,
          integrity: check.integrity,
          table,
          ackedSeqs,
          distinctSeqs,
          roundMs,
          gatewayErrors,
          line,
        };
      } finally {
        await traffic.closeAll();
      }
    },
  );
}

// ---- 2. throttle: a share of the requests answered with DynamoDB's throttling errors ----------------------

export interface ThrottleOptions {
  rooms: number;
  membersPerRoom: number;
  intervalMs: number;
  /** Share of write requests throttled (0..1). */
  writeShare: number;
  /** Share of read requests throttled (0..1). */
  readShare: number;
  /** Messages acknowledged while the throttling is on (the drill runs until then). */
  acks: number;
  /** Seed of the proxy's choice of requests to throttle. */
  seed: number;
  maxConcurrency: number;
}

export const THROTTLE_SHORT: ThrottleOptions = {
  rooms: 3,
  membersPerRoom: 4,
  intervalMs: 400,
  writeShare: 0.3,
  readShare: 0.1,
  acks: 120,
  seed: 17,
  maxConcurrency: 6,
};

export interface ThrottleResult {
  figures: TrafficFigures;
  integrity: IntegrityFigures;
  tables: TableRoom[];
  /** Acknowledged while the throttling was on. */
  ackedUnderThrottle: number;
  throttled: { requests: number; throttled: number; writes: number; reads: number; byOperation: string };
  /** Failed attempts by answer. */
  failures: Record<string, number>;
  /** Messages refused at least once (`unavailable`), then acknowledged on a resend. */
  unavailableThenAcked: number;
  /** Messages with a refused attempt. */
  unavailableMessages: number;
  /** Per message item missing from the table, its writes at the proxy. */
  holes: string[];
  gatewayErrors: number;
  line: string;
}

export async function runThrottleDrill(options: ThrottleOptions): Promise<ThrottleResult> {
  return withDynamoStack(
    'throttle',
    { seed: options.seed, maxConcurrency: options.maxConcurrency },
    async ({ proxy, stack, inspector }) => {
      const tag = Date.now().toString(36);
      const rooms = Array.from({ length: options.rooms }, (_, i) => `throttle-${tag}-${i}`);
      const traffic = await Traffic.connect({
        rooms,
        membersPerRoom: options.membersPerRoom,
        intervalMs: options.intervalMs,
        urlFor: (identity, room) => stack.memberUrl(identity, room),
        // A claim left in flight by a refused attempt is taken over after STALE_CLAIM_MS (15 s): resends wait.
        retryDeadlineMs: 90_000,
        member: { requestTimeoutMs: 20_000 },
        userPrefix: 't',
      });
      try {
        // The members are in (their handshakes unthrottled); from the first message on, the store is throttled.
        proxy.throttle({ writes: options.writeShare, reads: options.readShare });
        const since = Date.now();
        traffic.startSending();
        await traffic.runUntil({ acks: options.acks, since, timeoutMs: 240_000 });
        const ackedUnderThrottle = traffic.acksSince(since);
        // Messages still being resent finish with the throttling on; then the members resume unthrottled.
        await traffic.stop();
        proxy.throttle({ writes: 0 });
        const figures = await traffic.reconcile(1500);
        const check = await checkRooms(traffic, inspector, rooms);
        const failures = countBy(traffic.failureLog, (f) => f.reason);
        const refused = new Set(
          traffic.failureLog.filter((f) => f.reason === 'unavailable').map((f) => f.clientMsgId),
        );
        const ackedIds = new Set(traffic.acks.map((a) => a.clientMsgId));
        const unavailableThenAcked = [...refused].filter((id) => id !== undefined && ackedIds.has(id)).length;
        const s = proxy.stats;
        const throttled = {
          requests: s.requests,
          throttled: s.throttled,
          writes: s.throttledWrites,
          reads: s.throttledReads,
          byOperation: describeCounts(s.throttledByOperation),
        };
        const gatewayErrors = stack.counts.errors + stack.counts.timeouts;
        const holes = holeDiagnosis(proxy, check.tables);
        for (const text of [...holes, ...check.integrity.examples])
          console.log(`[drill dynamodb-throttle] ${text}`);
        const line = report(
          'dynamodb-throttle',
          {
            ...trafficColumns(figures),
            acked_under_throttle: ackedUnderThrottle,
            ...storeLatency(proxy),
            throttled: s.throttled,
            throttled_writes: s.throttledWrites,
            throttled_reads: s.throttledReads,
            throttled_by_operation: throttled.byOperation,
            unavailable: failures.unavailable ?? 0,
            unavailable_msgs: refused.size,
            unavailable_then_acked: unavailableThenAcked,
            ...storeColumns(check),
            newest_in_state_only: check.tables.filter((t) => t.newestInStateOnly).length,
            holes: holes.join('; ') || 'none',
            gateway_errors: gatewayErrors,
          },
          { ...options },
        );
        return {
          figures,
          integrity: check.integrity,
          tables: check.tables,
          ackedUnderThrottle,
          throttled,
          failures,
          unavailableThenAcked,
          unavailableMessages: refused.size,
          holes,
          gatewayErrors,
          line,
        };
      } finally {
        await traffic.closeAll();
      }
    },
  );
}

// ---- 3. outage: the endpoint refuses connections, then hangs -----------------------------------------------

export type OutageKind = 'refuse' | 'hang';

export interface OutageOptions {
  rooms: number;
  membersPerRoom: number;
  intervalMs: number;
  /** Acknowledged messages before the first outage. */
  warmupAcks: number;
  outageMs: number;
  /** After each outage: traffic until this many acks (and at least `afterMs`). */
  afterAcks: number;
  afterMs: number;
  maxConcurrency: number;
}

export const OUTAGE_SHORT: OutageOptions = {
  rooms: 2,
  membersPerRoom: 4,
  intervalMs: 300,
  warmupAcks: 16,
  outageMs: 3000,
  afterAcks: 12,
  afterMs: 1500,
  maxConcurrency: 6,
};

export interface OutagePhase {
  kind: OutageKind;
  startedAt: number;
  backAt: number;
  /** Attempts answered while the endpoint was away (and shortly after, for those begun before it came back). */
  failures: Record<string, number>;
  /** Of the attempts begun during the outage: time to their error answer, median and worst (ms). */
  errorP50Ms: number;
  errorMaxMs: number;
  /** Attempts begun during the outage that got an answer. */
  answered: number;
  handshakeStatus: string;
  handshakeMs: number;
  /** From the endpoint being back to the first ack of an attempt begun after that. */
  recoverMs: number | undefined;
  /** The store's bound plus this machine's delay (bounds.ts): what the error times are held to. */
  boundMs: number;
  /** Requests the proxy held (hang) or connections it reset. */
  held: number;
  reset: number;
}

export interface OutageResult {
  figures: TrafficFigures;
  integrity: IntegrityFigures;
  tables: TableRoom[];
  phases: OutagePhase[];
  /** Member items in the table per room against the members connected (nothing half-joined left). */
  members: { room: string; items: number; open: number }[];
  /** Per message item missing from the table, its writes at the proxy. */
  holes: string[];
  gatewayErrors: number;
  gatewayTimeouts: number;
  line: string;
}

export async function runOutageDrill(options: OutageOptions): Promise<OutageResult> {
  return withDynamoStack(
    'outage',
    { maxConcurrency: options.maxConcurrency },
    async ({ proxy, stack, inspector }) => {
      const tag = Date.now().toString(36);
      const rooms = Array.from({ length: options.rooms }, (_, i) => `outage-${tag}-${i}`);
      const traffic = await Traffic.start({
        rooms,
        membersPerRoom: options.membersPerRoom,
        intervalMs: options.intervalMs,
        urlFor: (identity, room) => stack.memberUrl(identity, room),
        retryDeadlineMs: options.outageMs + 60_000,
        member: { requestTimeoutMs: LAMBDA_TIMEOUT_MS + 5000 },
        userPrefix: 'o',
      });
      try {
        await traffic.runUntil({ acks: options.warmupAcks, since: 0, timeoutMs: 120_000 });
        const phases: OutagePhase[] = [];
        for (const kind of ['refuse', 'hang'] as const) {
          const heldBefore = proxy.stats.held;
          const resetBefore = proxy.stats.reset;
          const startedAt = Date.now();
          if (kind === 'refuse') await proxy.refuse();
          else proxy.hang();
          const handshake = await tryHandshake(stack, rooms[0] as string, LAMBDA_TIMEOUT_MS + 5000);
          await sleep(Math.max(0, options.outageMs - (Date.now() - startedAt)));
          await proxy.restore();
          const backAt = Date.now();
          await traffic.runUntil({
            acks: options.afterAcks,
            since: backAt,
            minMs: options.afterMs,
            timeoutMs: 120_000,
          });
          // Attempts begun while the endpoint was away, whenever their answer came.
          const begun = traffic.failureLog.filter(
            (f) => f.at - f.latencyMs >= startedAt && f.at - f.latencyMs < backAt,
          );
          const latencies = begun.map((f) => f.latencyMs).sort((a, b) => a - b);
          const machineDelay = traffic.machineDelayMs(0.9);
          phases.push({
            kind,
            startedAt,
            backAt,
            failures: countBy(
              traffic.failuresBetween(startedAt, backAt + STORE_CALL_BOUND_MS),
              (f) => f.reason,
            ),
            errorP50Ms: latencies[Math.floor(latencies.length / 2)] ?? 0,
            errorMaxMs: latencies[latencies.length - 1] ?? 0,
            answered: begun.length,
            handshakeStatus: handshake.status,
            handshakeMs: handshake.ms,
            recoverMs: traffic.recoveryMs(backAt),
            boundMs: Math.min(withMachineDelay(STORE_CALL_BOUND_MS, machineDelay), LAMBDA_TIMEOUT_MS - 1000),
            held: proxy.stats.held - heldBefore,
            reset: proxy.stats.reset - resetBefore,
          });
        }
        await traffic.stop();
        const figures = await traffic.reconcile(1500);
        const check = await checkRooms(traffic, inspector, rooms);
        const members = check.tables.map((t) => ({
          room: t.room,
          items: t.memberItems,
          open: traffic.members.filter((m) => m.room === t.room && m.isOpen).length,
        }));
        const [refuse, hang] = phases as [OutagePhase, OutagePhase];
        const gatewayErrors = stack.counts.errors;
        const gatewayTimeouts = stack.counts.timeouts;
        const recover = Math.max(refuse.recoverMs ?? Number.NaN, hang.recoverMs ?? Number.NaN);
        const holes = holeDiagnosis(proxy, check.tables);
        for (const text of [...holes, ...check.integrity.examples])
          console.log(`[drill dynamodb-outage] ${text}`);
        const line = report(
          'dynamodb-outage',
          {
            ...trafficColumns(figures, recover),
            store_bound_ms: STORE_CALL_BOUND_MS,
            refuse_errors: describeCounts(refuse.failures),
            refuse_error_p50_ms: refuse.errorP50Ms,
            refuse_error_max_ms: refuse.errorMaxMs,
            refuse_handshake: `${refuse.handshakeStatus}/${refuse.handshakeMs}ms`,
            refuse_recover_ms: refuse.recoverMs ?? 'never',
            hang_errors: describeCounts(hang.failures),
            hang_error_p50_ms: hang.errorP50Ms,
            hang_error_max_ms: hang.errorMaxMs,
            hang_handshake: `${hang.handshakeStatus}/${hang.handshakeMs}ms`,
            hang_recover_ms: hang.recoverMs ?? 'never',
            hang_held_requests: hang.held,
            ...storeLatency(proxy),
            ...storeColumns(check),
            partial_members: members.filter((m) => m.items !== m.open).length,
            holes: holes.join('; ') || 'none',
            gateway_errors: gatewayErrors,
            lambda_timeouts: gatewayTimeouts,
          },
          { ...options },
        );
        return {
          figures,
          integrity: check.integrity,
          tables: check.tables,
          phases,
          members,
          holes,
          gatewayErrors,
          gatewayTimeouts,
          line,
        };
      } finally {
        await traffic.closeAll();
      }
    },
  );
}

// ---- long form --------------------------------------------------------------------------------------------

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const scenario = args.get('scenario') ?? 'all';
    if (!['all', 'burst', 'throttle', 'outage'].includes(scenario))
      throw new Error(`--scenario must be burst, throttle, outage or all, not "${scenario}"`);
    let ok = true;
    if (scenario === 'all' || scenario === 'burst') {
      const r = await runBurstDrill({
        members: numberArg(args, 'members', 50),
        rounds: numberArg(args, 'rounds', 10),
        roundGapMs: numberArg(args, 'round-gap', 500),
        maxConcurrency: numberArg(args, 'concurrency', 16),
      });
      ok &&= r.figures.lost === 0 && r.figures.duplicated === 0 && r.integrity.storeGaps === 0;
      ok &&= r.table.holes.length === 0 && r.distinctSeqs === r.ackedSeqs.length && r.figures.gaveUp === 0;
    }
    if (scenario === 'all' || scenario === 'throttle') {
      const r = await runThrottleDrill({
        rooms: numberArg(args, 'rooms', 4),
        membersPerRoom: numberArg(args, 'members-per-room', 6),
        intervalMs: numberArg(args, 'interval', 400),
        writeShare: numberArg(args, 'write-share', 0.3),
        readShare: numberArg(args, 'read-share', 0.1),
        acks: numberArg(args, 'acks', 600),
        seed: numberArg(args, 'seed', 17),
        maxConcurrency: numberArg(args, 'concurrency', 16),
      });
      ok &&= r.figures.lost === 0 && r.figures.duplicated === 0 && r.integrity.lostFromStore === 0;
      ok &&= r.integrity.storeGaps === 0 && r.tables.every((t) => t.holes.length === 0);
      ok &&= r.figures.gaveUp === 0 && r.gatewayErrors === 0;
    }
    if (scenario === 'all' || scenario === 'outage') {
      const r = await runOutageDrill({
        rooms: numberArg(args, 'rooms', 3),
        membersPerRoom: numberArg(args, 'members-per-room', 5),
        intervalMs: numberArg(args, 'interval', 300),
        warmupAcks: numberArg(args, 'warmup-acks', 30),
        outageMs: numberArg(args, 'outage', 8) * 1000,
        afterAcks: numberArg(args, 'after-acks', 30),
        afterMs: numberArg(args, 'after', 5) * 1000,
        maxConcurrency: numberArg(args, 'concurrency', 16),
      });
      ok &&= r.figures.lost === 0 && r.figures.duplicated === 0 && r.gatewayTimeouts === 0;
      ok &&= r.integrity.storeGaps === 0 && r.integrity.cursorsBehind === 0 && r.figures.gaveUp === 0;
    }
    return ok;
  });
}
