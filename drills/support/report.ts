/**
 * Prints a drill's figures on one line (`[drill NAME] key=value …`) and keeps them, with the date and the
 * options, in artifacts/drills/NAME.json (git-ignored) for the README's reliability table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrafficFigures } from './traffic';

export type FigureValue = number | string | boolean | undefined;

export const RESULTS_DIR = join(__dirname, '..', '..', 'artifacts', 'drills');

/** The standard columns of a traffic drill, in the README's order. */
export function trafficColumns(f: TrafficFigures, recoverMs?: number): Record<string, FigureValue> {
  return {
    sent: f.sent,
    acknowledged: f.acknowledged,
    delivered: f.delivered,
    recovered: f.recovered,
    lost: f.lost,
    duplicated: f.duplicated,
    recover_ms: recoverMs === undefined ? undefined : Math.round(recoverMs),
    members: f.members,
    rooms: f.rooms,
    own: f.own,
    gave_up: f.gaveUp,
    stored_unacked: f.storedUnacked,
    deduped_frames: f.dedupedFrames,
    retries: f.retries,
    reconnects: f.reconnects,
    resumes: f.resumes,
    incomplete_history: f.incompleteHistory,
    ack_p50_ms: f.ackP50Ms,
    ack_p99_ms: f.ackP99Ms,
    ack_max_ms: f.ackMaxMs,
    failures:
      Object.entries(f.failures)
        .map(([k, v]) => `${k}:${v}`)
        .join(',') || 'none',
  };
}

export function formatLine(drill: string, figures: Record<string, FigureValue>): string {
  const cells = Object.entries(figures)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  return `[drill ${drill}] ${cells.join(' ')}`;
}

/** Prints the line and saves the figures; returns the line. */
export function report(
  drill: string,
  figures: Record<string, FigureValue>,
  options: Record<string, FigureValue> = {},
): string {
  const line = formatLine(drill, figures);
  process.stdout.write(`${line}\n`);
  try {
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(
      join(RESULTS_DIR, `${drill}.json`),
      `${JSON.stringify({ drill, at: new Date().toISOString(), options, figures }, null, 2)}\n`,
    );
  } catch {
    // The figures are printed; keeping them is a convenience.
  }
  return line;
}

/** How many of `failures` gave each reason. */
export function byReason(failures: { reason: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of failures) out[f.reason] = (out[f.reason] ?? 0) + 1;
  return out;
}

/** The `q` quantile of `sorted` (ascending), 0 when it is empty. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}
