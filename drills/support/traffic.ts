/**
 * Steady classroom traffic and its accounting, shared by the local drills and the deployed-stage
 * failover drill. Members of several rooms each send a message every `intervalMs` (jittered) with a
 * unique `clientMsgId`, retrying the same id after a failure (internal error, API Gateway error, timeout,
 * dropped socket) until it is acknowledged; a member told it is no longer in the room reconnects and
 * resumes. At the end every member resumes from its last contiguous `seq`, and the figures say, over
 * every (acknowledged message, member of its room) pair, how the member got it:
 *
 * - delivered: a live `message` frame; recovered: only through `resume`; own: the sender's `ack`;
 * - lost: neither (an acknowledged message a member can no longer get), plus any seq whose content
 *   differs from what was acknowledged under it;
 * - duplicated: a message (by clientMsgId) stored under more than one seq, so a client that drops
 *   duplicates by seq would still show it twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from '../../bench/lib/stats';
import { DrillMember, type Identity, type MemberOptions, type UrlFor } from './member';

export interface TrafficOptions {
  rooms: string[];
  membersPerRoom: number;
  /** Members of one room, when rooms differ in size (default: `membersPerRoom` for every room). */
  roomSize?: (room: string) => number;
  urlFor: UrlFor;
  /** Mean time between two messages of one member (uniform jitter ±50 %). */
  intervalMs: number;
  /** Members per room that send (the others only listen). Default: all. */
  sendersPerRoom?: number;
  /** A message is given up this long after its first attempt (default 30 s). */
  retryDeadlineMs?: number;
  /** Sockets opened at once while connecting (default 20). */
  connectConcurrency?: number;
  member?: MemberOptions;
  /** User id prefix (default `u`). */
  userPrefix?: string;
  /** More `data` fields of each message (e.g. padding to fill a cache); resends carry the same. */
  payload?: (clientMsgId: string) => Record<string, unknown>;
}

export interface AckRecord {
  clientMsgId: string;
  room: string;
  /** The ack's epoch (undefined from a server without epochs). */
  epoch?: number;
  seq: number;
  id: string;
  userId: string;
  firstSentAt: number;
  ackAt: number;
  attempts: number;
}

export interface TrafficFigures {
  rooms: number;
  members: number;
  sent: number;
  acknowledged: number;
  gaveUp: number;
  /** (acknowledged message, member) pairs to account for. */
  expected: number;
  delivered: number;
  recovered: number;
  own: number;
  lost: number;
  duplicated: number;
  /** Frames dropped by the clients' dedupe by seq (redelivered, or both live and resumed). */
  dedupedFrames: number;
  /** Stored messages (seen by members) whose sender never got an ack. */
  storedUnacked: number;
  incompleteHistory: number;
  attempts: number;
  retries: number;
  reconnects: number;
  resumes: number;
  failures: Record<string, number>;
  ackP50Ms: number;
  ackP99Ms: number;
  ackMaxMs: number;
  /** Examples of lost pairs (`room/user/seq`), for the log. */
  lostExamples: string[];
}

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function eachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class Traffic {
  readonly members: DrillMember[] = [];
  /** room -> seq -> the acknowledged message (one epoch: for drills whose rooms keep theirs). */
  readonly acked = new Map<string, Map<number, AckRecord>>();
  /** Every acknowledged message, in ack order, with its epoch. */
  readonly acks: AckRecord[] = [];
  /** Failed attempts: when, by whom, why (for the recovery time). */
  readonly failureLog: {
    at: number;
    userId: string;
    reason: string;
    latencyMs: number;
    /** The message whose attempt failed (absent for a failed reconnect). */
    clientMsgId?: string;
  }[] = [];
  /** When each member got each ack, and when that attempt started (for the recovery time). */
  readonly ackLog: { at: number; userId: string; attemptStartedAt: number }[] = [];
  sent = 0;
  gaveUp = 0;
  /** Messages given up because `stop({ abandon: true })` asked for it (not counted in `gaveUp`). */
  abandoned = 0;
  attempts = 0;
  /** Attempts sent and not yet answered. */
  inFlight = 0;
  private running = false;
  private abandoning = false;
  private held?: { promise: Promise<void>; release: () => void };
  private loops: Promise<void>[] = [];
  private readonly senders = new Set<DrillMember>();

  private constructor(private readonly options: TrafficOptions) {
    for (const room of options.rooms) this.acked.set(room, new Map());
  }

  /** Connects every member (all before any traffic), then starts the senders. */
  static async start(options: TrafficOptions): Promise<Traffic> {
    const traffic = new Traffic(options);
    await traffic.connectAll();
    traffic.startSending();
    return traffic;
  }

  /** Connects every member without starting traffic (start it with `startSending`). */
  static async connect(options: TrafficOptions): Promise<Traffic> {
    const traffic = new Traffic(options);
    await traffic.connectAll();
    return traffic;
  }

  startSending(): void {
    this.running = true;
    this.loops = [...this.senders].map((m, i) => this.loop(m, i));
  }

  /**
   * Stops sending; resolves once every message in flight is acknowledged or given up. With `abandon`,
   * messages still being retried are given up at their next attempt (a cache that refuses every write).
   */
  async stop({ abandon = false } = {}): Promise<void> {
    this.running = false;
    if (abandon) this.abandoning = true;
    await Promise.all(this.loops);
  }

  /** A lull: no new attempt starts (messages or resends) until `release`; those in flight finish. */
  hold(): void {
    if (this.held) return;
    let release: () => void = () => undefined;
    const promise = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.held = { promise, release };
  }

  release(): void {
    this.held?.release();
    this.held = undefined;
  }

  /**
   * After `stop`: waits `quietMs` for broadcasts still in flight, then every member resumes from its
   * last contiguous seq; returns the figures.
   */
  async reconcile(quietMs = 1000): Promise<TrafficFigures> {
    await sleep(quietMs);
    await eachLimit(this.members, 50, async (m) => {
      if (!m.isOpen) await m.reconnect().catch(() => undefined);
      await m.resumeUntilDone();
    });
    return this.figures();
  }

  /** Messages acknowledged whose ack came at or after `from` (epoch ms; default: all of them). */
  acksSince(from = 0): number {
    let n = 0;
    for (let i = this.acks.length - 1; i >= 0 && (this.acks[i] as AckRecord).ackAt >= from; i--) n++;
    return n;
  }

  /**
   * Lets the traffic run `minMs`, then on until `acks` messages have been acknowledged since `since`
   * (default: this call), `timeoutMs` at most in all (then it returns: the drill's floor on acknowledged
   * messages says what was missing). A drill's traffic is sized in acknowledged messages, not in time, so
   * a busy machine runs longer instead of asserting on fewer messages than the drill needs.
   */
  async runUntil({
    minMs = 0,
    acks = 0,
    since = Date.now(),
    timeoutMs = 60_000,
  }: {
    minMs?: number;
    acks?: number;
    since?: number;
    timeoutMs?: number;
  }): Promise<void> {
    const deadline = Date.now() + Math.max(minMs, timeoutMs);
    await sleep(minMs);
    while (this.acksSince(since) < acks && Date.now() < deadline) await sleep(50);
  }

  /**
   * How long an ordinary request takes on this machine during the drill: the `q` quantile (0..1) of the
   * ack latency of messages acknowledged at their first attempt (no fault in their way) since `from`.
   * The drills add it to the product's own bounds, so a busy machine's scheduling delay does not fail
   * them while a product that hangs or never recovers still does.
   */
  machineDelayMs(q = 0.9, from = 0): number {
    const latencies = this.acks
      .filter((a) => a.attempts === 1 && a.ackAt >= from)
      .map((a) => a.ackAt - a.firstSentAt)
      .sort((a, b) => a - b);
    if (latencies.length === 0) return 0;
    return latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] as number;
  }

  async closeAll(): Promise<void> {
    await eachLimit(this.members, 100, (m) => m.close());
  }

  /**
   * Time to recover from a fault that began (or, for an outage, ended) at `from`: until the first ack
   * of an attempt started at or after `from` (undefined when none came).
   */
  recoveryMs(from: number): number | undefined {
    const ack = this.ackLog.find((a) => a.attemptStartedAt >= from);
    return ack ? ack.at - from : undefined;
  }

  /**
   * Time from `from` until every sender had an ack again after its last failure in [from, until)
   * (undefined when some sender never did).
   */
  allRecoveredMs(from: number, until = Number.POSITIVE_INFINITY): number | undefined {
    let worst = 0;
    for (const m of this.senders) {
      const userId = m.identity.userId;
      const lastFailure = this.failureLog
        .filter((f) => f.userId === userId && f.at >= from && f.at < until)
        .reduce((t, f) => Math.max(t, f.at), from);
      const ack = this.ackLog.find((a) => a.userId === userId && a.at > lastFailure);
      if (!ack) return undefined;
      worst = Math.max(worst, ack.at - from);
    }
    return worst;
  }

  /** Failed attempts whose answer came in [from, until). */
  failuresBetween(from: number, until = Number.POSITIVE_INFINITY) {
    return this.failureLog.filter((f) => f.at >= from && f.at < until);
  }

  /** The figures as they stand (call after `reconcile`). */
  figures(): TrafficFigures {
    const f: TrafficFigures = {
      rooms: this.options.rooms.length,
      members: this.members.length,
      sent: this.sent,
      acknowledged: 0,
      gaveUp: this.gaveUp,
      expected: 0,
      delivered: 0,
      recovered: 0,
      own: 0,
      lost: 0,
      duplicated: 0,
      dedupedFrames: 0,
      storedUnacked: 0,
      incompleteHistory: 0,
      attempts: this.attempts,
      retries: Math.max(0, this.attempts - this.sent),
      reconnects: 0,
      resumes: 0,
      failures: {},
      ackP50Ms: 0,
      ackP99Ms: 0,
      ackMaxMs: 0,
      lostExamples: [],
    };
    for (const failure of this.failureLog) f.failures[failure.reason] = (f.failures[failure.reason] ?? 0) + 1;
    const latencies: number[] = [];
    for (const room of this.options.rooms) {
      const acked = this.acked.get(room) as Map<number, AckRecord>;
      const members = this.members.filter((m) => m.room === room);
      f.acknowledged += acked.size;
      const storedUnderTag = new Map<string, Set<number>>();
      const seen = new Set<number>();
      for (const record of acked.values()) {
        latencies.push(record.ackAt - record.firstSentAt);
        const seqs = storedUnderTag.get(record.clientMsgId) ?? new Set<number>();
        seqs.add(record.seq);
        storedUnderTag.set(record.clientMsgId, seqs);
      }
      for (const m of members) {
        f.dedupedFrames += m.rawDuplicates;
        f.incompleteHistory += m.incompleteHistory;
        f.reconnects += m.reconnects;
        f.resumes += m.resumes;
        for (const [seq, tag] of m.tags) {
          seen.add(seq);
          const seqs = storedUnderTag.get(tag) ?? new Set<number>();
          seqs.add(seq);
          storedUnderTag.set(tag, seqs);
        }
        for (const [seq, record] of acked) {
          f.expected++;
          const source = m.have.get(seq);
          const sameMessage = m.ids.get(seq) === record.id;
          if (source === undefined || !sameMessage) {
            f.lost++;
            if (f.lostExamples.length < 5)
              f.lostExamples.push(`${room}/${m.identity.userId}/${seq}${source ? ' (other content)' : ''}`);
          } else if (source === 'live') f.delivered++;
          else if (source === 'resume') f.recovered++;
          else f.own++;
        }
      }
      for (const seqs of storedUnderTag.values()) f.duplicated += seqs.size - 1;
      for (const seq of seen) if (!acked.has(seq)) f.storedUnacked++;
    }
    latencies.sort((a, b) => a - b);
    f.ackP50Ms = latencies.length ? percentile(latencies, 50) : 0;
    f.ackP99Ms = latencies.length ? percentile(latencies, 99) : 0;
    f.ackMaxMs = latencies[latencies.length - 1] ?? 0;
    return f;
  }

  // ---- internals -------------------------------------------------------------------------------------

  private async connectAll(): Promise<void> {
    const { rooms, membersPerRoom, urlFor } = this.options;
    const prefix = this.options.userPrefix ?? 'u';
    const sendersPerRoom = this.options.sendersPerRoom ?? membersPerRoom;
    rooms.forEach((room, r) => {
      const size = this.options.roomSize?.(room) ?? membersPerRoom;
      for (let i = 0; i < size; i++) {
        const identity: Identity = {
          userId: `${prefix}${r}x${i}`,
          name: `Member ${r}.${i}`,
          role: i === 0 ? 'teacher' : 'student',
        };
        const member = new DrillMember(identity, room, urlFor, this.options.member);
        this.members.push(member);
        if (i < sendersPerRoom) this.senders.add(member);
      }
    });
    await eachLimit(this.members, this.options.connectConcurrency ?? 20, async (m) => {
      // A handshake refused with a 5xx (the store busy or not confirming) is retried, as the SDK does.
      for (let attempt = 1; ; attempt++) {
        try {
          await m.connect();
          return;
        } catch (error) {
          if (attempt >= 5 || !/^HTTP 5\d\d$/.test((error as Error).message)) throw error;
          await sleep(100 * 2 ** attempt);
        }
      }
    });
  }

  private async loop(member: DrillMember, index: number): Promise<void> {
    const { intervalMs } = this.options;
    let n = 0;
    // Spread the first messages over one interval.
    await sleep(((index * 7919) % 1000) * (intervalMs / 1000));
    while (this.running) {
      await this.deliver(member, `${member.identity.userId}.${n++}`);
      if (!this.running) break;
      await sleep(intervalMs * (0.5 + Math.random()));
    }
  }

  private async deliver(member: DrillMember, clientMsgId: string): Promise<void> {
    const firstSentAt = Date.now();
    const deadline = firstSentAt + (this.options.retryDeadlineMs ?? 30_000);
    const userId = member.identity.userId;
    this.sent++;
    const data = this.options.payload?.(clientMsgId) ?? {};
    for (let attempt = 0; ; attempt++) {
      if (this.abandoning) {
        this.abandoned++;
        return;
      }
      if (Date.now() > deadline) {
        this.gaveUp++;
        return;
      }
      if (!member.isOpen) {
        try {
          await member.reconnect(deadline);
        } catch {
          this.failureLog.push({ at: Date.now(), userId, reason: 'connect', latencyMs: 0 });
          continue;
        }
      }
      while (this.held) await this.held.promise;
      this.attempts++;
      const attemptStartedAt = Date.now();
      this.inFlight++;
      const outcome = await member.sendOnce(clientMsgId, data).finally(() => {
        this.inFlight--;
      });
      if (outcome.ok) {
        const now = Date.now();
        const room = this.acked.get(member.room) as Map<number, AckRecord>;
        const previous = room.get(outcome.seq);
        const record: AckRecord = {
          clientMsgId,
          room: member.room,
          ...(outcome.epoch === undefined ? {} : { epoch: outcome.epoch }),
          seq: outcome.seq,
          id: outcome.id,
          userId,
          firstSentAt,
          ackAt: now,
          attempts: attempt + 1,
        };
        this.acks.push(record);
        if (previous && previous.clientMsgId !== clientMsgId && previous.epoch === outcome.epoch) {
          // One seq acknowledged for two messages: the second overwrote nothing in our books, but the
          // members will hold one of them only, which `figures` counts as lost.
          room.set(outcome.seq, { ...previous, id: `${previous.id}|conflict` });
        } else {
          room.set(outcome.seq, record);
        }
        this.ackLog.push({ at: now, userId, attemptStartedAt });
        return;
      }
      this.failureLog.push({
        at: Date.now(),
        userId,
        reason: outcome.reason,
        latencyMs: outcome.latencyMs,
        clientMsgId,
      });
      if (['bad_request', 'unknown_action', 'too_large'].includes(outcome.reason)) {
        this.gaveUp++;
        return;
      }
      if (outcome.reason === 'forbidden') {
        // "This connection is no longer in the classroom": pruned (a 410 answered for it). Rejoin.
        await member.reconnect(deadline).catch(() => undefined);
        continue;
      }
      await sleep(Math.min(1000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
  }
}
