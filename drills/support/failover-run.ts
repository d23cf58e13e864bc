/**
 * The failover drill's schedule and figures, shared by the local drill (a TCP proxy over two
 * redis-server processes) and the deployed-stage drill (ElastiCache TestFailover): traffic warms up,
 * each failover runs while messages flow, then traffic stops, every member resumes and the figures are
 * taken. Only the trigger differs, so the local drill that CI runs exercises the same schedule and
 * accounting as the one run against AWS.
 */
import type { FigureValue } from './report';
import type { Traffic, TrafficFigures } from './traffic';

export interface FailoverEvent {
  /** When the failover was asked for (epoch ms). */
  startedAt: number;
  /** When the new primary was known to accept writes. */
  completedAt: number;
  /** Trigger-specific figures (write pause, resets, the new primary's id…). */
  detail: Record<string, FigureValue>;
}

export interface FailoverTrigger {
  /** What fails over, for the log. */
  readonly name: string;
  /** Resolves once another failover may run (the replica is in sync, the group available). */
  ready(): Promise<void>;
  /** Runs failover number `index`; resolves when the new primary accepts writes. */
  failover(index: number): Promise<FailoverEvent>;
}

export interface FailoverSchedule {
  warmupMs: number;
  gapMs: number;
  failovers: number;
  /** Quiet time after traffic stops, before everyone resumes. */
  quietMs?: number;
  /**
   * Acknowledged messages the warmup needs before the first failover, and each gap after a failover
   * before the next step (default 0: time alone). The phase runs at least its time and on until then
   * (`phaseTimeoutMs` at most, default 60 s), so a busy machine drives the same traffic, slower.
   */
  warmupAcks?: number;
  gapAcks?: number;
  phaseTimeoutMs?: number;
}

export interface FailoverRun {
  events: FailoverEvent[];
  figures: TrafficFigures;
  /** Worst, over the failovers, time from a failover's start to the first ack of a later attempt. */
  recoverMs: number | undefined;
  /** Worst time until every sender was acknowledged again after its last failure. */
  allRecoveredMs: number | undefined;
}

/** The worst of the values, or undefined when any is undefined (a sender that never recovered). */
export function worst(values: (number | undefined)[]): number | undefined {
  return values.some((v) => v === undefined) ? undefined : Math.max(0, ...(values as number[]));
}

/** Runs the schedule over traffic that is already sending; stops the traffic and reconciles. */
export async function runFailovers(
  traffic: Traffic,
  trigger: FailoverTrigger,
  schedule: FailoverSchedule,
  log: (line: string) => void = () => undefined,
): Promise<FailoverRun> {
  const phaseTimeoutMs = schedule.phaseTimeoutMs ?? 60_000;
  await traffic.runUntil({
    minMs: schedule.warmupMs,
    acks: schedule.warmupAcks ?? 0,
    since: 0,
    timeoutMs: phaseTimeoutMs,
  });
  const events: FailoverEvent[] = [];
  for (let i = 0; i < schedule.failovers; i++) {
    await trigger.ready();
    log(`failover ${i + 1}/${schedule.failovers} of ${trigger.name}`);
    const event = await trigger.failover(i);
    events.push(event);
    log(
      `failover ${i + 1} done in ${event.completedAt - event.startedAt} ms ${JSON.stringify(event.detail)}`,
    );
    await traffic.runUntil({
      minMs: schedule.gapMs,
      acks: schedule.gapAcks ?? 0,
      since: event.startedAt,
      timeoutMs: phaseTimeoutMs,
    });
  }
  await traffic.stop();
  const figures = await traffic.reconcile(schedule.quietMs);
  const recoverMs = worst(events.map((e) => traffic.recoveryMs(e.startedAt)));
  const allRecoveredMs = worst(
    events.map((e, i) => traffic.allRecoveredMs(e.startedAt, events[i + 1]?.startedAt)),
  );
  return { events, figures, recoverMs, allRecoveredMs };
}
