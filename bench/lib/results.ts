/** The benchmark's figures: collected in order, printed as a table, written as bench/results/latest.json. */
import { cpus, totalmem } from 'node:os';
import { round } from './stats';

export interface Figure {
  key: string;
  value: number | string | boolean;
  unit: string;
  note: string;
}

export interface Results {
  figures: Figure[];
  machine: string;
  date: string;
  mode?: string;
  durationSeconds?: number;
}

export class Figures {
  readonly list: Figure[] = [];

  add(key: string, value: number | string | boolean, unit: string, note = ''): void {
    const v = typeof value === 'number' ? round(value) : value;
    const existing = this.list.findIndex((f) => f.key === key);
    const figure = { key, value: v, unit, note };
    if (existing >= 0) this.list[existing] = figure;
    else this.list.push(figure);
    console.log(`  ${key} = ${v} ${unit}${note ? `  (${note})` : ''}`);
  }

  addAll(figures: readonly Figure[]): void {
    for (const f of figures) this.add(f.key, f.value, f.unit, f.note);
  }

  get(key: string): number | undefined {
    const value = this.list.find((f) => f.key === key)?.value;
    return typeof value === 'number' ? value : undefined;
  }
}

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} x ${cpu[0]?.model.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, ${process.platform}/${process.arch}`;
}

function cell(value: Figure['value']): string {
  return typeof value === 'number'
    ? value.toLocaleString('en-US', { maximumFractionDigits: 6 })
    : String(value);
}

/** A fixed-width text table for the terminal. */
export function textTable(figures: readonly Figure[]): string {
  const rows = figures.map((f) => [f.key, cell(f.value), f.unit, f.note]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => (r[i] as string).length), 4));
  const line = (r: string[]) =>
    `${(r[0] as string).padEnd(widths[0] as number)}  ${(r[1] as string).padStart(widths[1] as number)}  ${(r[2] as string).padEnd(widths[2] as number)}  ${r[3]}`;
  return [line(['key', 'value', 'unit', 'note']), ...rows.map(line)].join('\n');
}

/** A Markdown table (for the README). */
export function markdownTable(figures: readonly Figure[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    '| key | value | unit | note |',
    '| --- | ---: | --- | --- |',
    ...figures.map((f) => `| \`${f.key}\` | ${cell(f.value)} | ${esc(f.unit)} | ${esc(f.note)} |`),
  ].join('\n');
}
