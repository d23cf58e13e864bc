/**
 * `npm run docs [-- --check] [-- --drills]`: the generated regions of docs/*.md, and the library the
 * repository's other generators can share (regions between markers, Biome formatting, write or check).
 *
 *   npm run docs                 rewrites every generated region of docs/*.md (and docs/cost-chart.svg)
 *   npm run docs -- --check      writes nothing; exits 1 when a region or the chart is not what the committed
 *                                JSON gives, or when a relative link in README.md or docs/*.md leads nowhere
 *   npm run docs -- --drills     first copies the drill results of the last runs (artifacts/drills/*.json,
 *                                git-ignored) into docs/results/drills/, the committed snapshot, then rewrites
 *
 * A region is `<!-- generated:NAME -->` … `<!-- /generated -->`; the form `<!-- NAME:start (…) -->` …
 * `<!-- NAME:end -->` (docs/cost.md, local/README.md) is read the same way. Sources: bench/results/latest.json
 * (written by `npm run bench`), docs/results/drills/*.json (a drill's figures, options and date, as
 * drills/support/report.ts writes them), and scripts/cost.ts with bench/prices.json for docs/cost.md.
 * Every figure comes from those files: a key that is missing fails the run, it is never left blank.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { Figure, Results } from '../bench/lib/results';
import { compareAt, LOAD_LABELS, LOADS, loadMeasured, loadPrices, loadTemplate, money } from './cost';
import {
  renderDynamoUnits,
  renderLines,
  renderPrices,
  renderSvg,
  renderTable,
  renderTargets,
} from './cost-chart';

export const ROOT = join(__dirname, '..');
export const DOCS_DIR = join(ROOT, 'docs');
export const BENCH_RESULTS = join(ROOT, 'bench', 'results', 'latest.json');
export const DRILL_ARTIFACTS = join(ROOT, 'artifacts', 'drills');
export const DRILL_SNAPSHOT = join(DOCS_DIR, 'results', 'drills');
const COST_SVG = join(DOCS_DIR, 'cost-chart.svg');

// ---------------------------------------------------------------------------------------------------------
// The library: regions, formatting, write or check, links
// ---------------------------------------------------------------------------------------------------------

/** A region's body: the text between its markers. */
export type Renderer = () => string;

const OPEN = /<!-- generated:([a-z0-9-]+) -->|<!-- ([a-z0-9-]+):start(?: \([^)]*\))? -->/g;

/**
 * Replaces the body of every region in `text` with what `renderers[name]` gives. Throws on a region without
 * its closing marker and on a region no renderer knows (a typo must not leave stale text behind).
 */
export function fillRegions(text: string, renderers: Record<string, Renderer>, file = 'text'): string {
  let out = '';
  let at = 0;
  OPEN.lastIndex = 0;
  for (let m = OPEN.exec(text); m; m = OPEN.exec(text)) {
    const name = (m[1] ?? m[2]) as string;
    const close = m[1] ? '<!-- /generated -->' : `<!-- ${name}:end -->`;
    const bodyStart = m.index + m[0].length;
    const end = text.indexOf(close, bodyStart);
    if (end < 0) throw new Error(`${file}: region "${name}" has no ${close}`);
    const render = renderers[name];
    if (!render) throw new Error(`${file}: no generator for region "${name}"`);
    out += `${text.slice(at, bodyStart)}\n\n${render().trim()}\n\n`;
    at = end;
    OPEN.lastIndex = end + close.length;
  }
  return out + text.slice(at);
}

/** The names of the regions in `text`, in order. */
export function regionNames(text: string): string[] {
  return [...text.matchAll(OPEN)].map((m) => (m[1] ?? m[2]) as string);
}

/** The text as `biome format` writes it for `path` (the lint checks Markdown, JSON and SVG formatting). */
export function biomeFormat(text: string, path: string): string {
  const biome = join(ROOT, 'node_modules', '.bin', 'biome');
  if (!existsSync(biome)) throw new Error(`${biome} is missing: npm install first`);
  const result = spawnSync(biome, ['format', `--stdin-file-path=${path}`], { input: text, encoding: 'utf8' });
  if (result.status !== 0 || !result.stdout)
    throw new Error(`biome format ${relative(ROOT, path)}: ${result.stderr || `exit ${result.status}`}`);
  return result.stdout;
}

/** Writes `next` to `path` when it differs, or (check) only reports that it differs. Returns whether it did. */
export function writeOrCheck(path: string, next: string, check: boolean): boolean {
  const now = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  if (now === next) return false;
  if (!check) writeFileSync(path, next);
  return true;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown text's headings (repeats get -1, -2, … as on GitHub). */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of withoutCode(markdown).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug((m[1] as string).replace(/\[([^\]]*)\]\([^)]*\)/g, '$1'));
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The text with fenced blocks, inline code and HTML comments blanked (their brackets are not links). */
function withoutCode(markdown: string): string {
  return markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, ' '))
    .replace(/<!--[\s\S]*?-->/g, (c) => c.replace(/[^\n]/g, ' '))
    .replace(/`[^`\n]*`/g, (c) => ' '.repeat(c.length));
}

/** The link targets of a Markdown text: inline links and images, and reference definitions. */
export function linkTargets(markdown: string): string[] {
  const text = withoutCode(markdown);
  const inline = [...text.matchAll(/!?\[[^\]]*\]\(\s*(?:<([^>\n]+)>|([^)\s]+))(?:\s+"[^"]*")?\s*\)/g)].map(
    (m) => (m[1] ?? m[2]) as string,
  );
  const defined = [...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map(
    (m) => m[1] as string,
  );
  return [...inline, ...defined];
}

/**
 * The relative links of `file` (its text given) that lead nowhere: a path that is not in the tree, or an
 * anchor that is not a heading of the Markdown file it names. Links with a scheme (https:, mailto:) are left
 * to the reader.
 */
export function brokenLinks(
  file: string,
  markdown: string,
  read = (p: string) => readFileSync(p, 'utf8'),
): string[] {
  const broken: string[] = [];
  for (const target of linkTargets(markdown)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const [rawPath = '', anchor] = target.split('#', 2);
    const path = decodeURI(rawPath);
    if (path === '') {
      if (anchor && !anchors(markdown).has(anchor))
        broken.push(`${target} (no heading #${anchor} in ${relative(ROOT, file)})`);
      continue;
    }
    const resolved = resolve(dirname(file), path);
    if (path.startsWith('/')) {
      broken.push(`${target} (absolute path: use a relative one)`);
      continue;
    }
    if (!existsSync(resolved)) {
      broken.push(`${target} (no ${relative(ROOT, resolved)})`);
      continue;
    }
    if (anchor && resolved.endsWith('.md') && !anchors(read(resolved)).has(anchor))
      broken.push(`${target} (no heading #${anchor} in ${relative(ROOT, resolved)})`);
  }
  return broken;
}

// ---------------------------------------------------------------------------------------------------------
// Formatting figures
// ---------------------------------------------------------------------------------------------------------

/** A figure as the docs show it: thousands separated, at most `digits` decimals. */
export function num(value: number, digits = 2): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: digits });
}

export function table(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const rule = header.map((_, i) => (align?.[i] === 'r' ? '---:' : '---'));
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `| ${rule.join(' | ')} |`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// bench/results/latest.json
// ---------------------------------------------------------------------------------------------------------

/** Reads figures by key; a missing key throws with the key and the file, so a renamed figure is noticed. */
export class BenchFigures {
  private readonly byKey: Map<string, Figure>;
  constructor(
    readonly results: Results,
    readonly source = 'bench/results/latest.json',
  ) {
    this.byKey = new Map(results.figures.map((f) => [f.key, f]));
  }
  figure(key: string): Figure {
    const f = this.byKey.get(key);
    if (!f) throw new Error(`${this.source} has no figure "${key}" (a quick or partial run? npm run bench)`);
    return f;
  }
  n(key: string): number {
    const { value } = this.figure(key);
    if (typeof value !== 'number') throw new Error(`${this.source}: "${key}" is ${value}, not a number`);
    return value;
  }
  /** A number as the JSON has it (the bench rounds to 3 significant digits), thousands separated. */
  v(key: string): string {
    return num(this.n(key), 6);
  }
  kb(key: string): string {
    return `${num(this.n(key) / 1024, 0)} KB`;
  }
  bool(key: string): boolean {
    const { value } = this.figure(key);
    if (typeof value !== 'boolean') throw new Error(`${this.source}: "${key}" is ${value}, not true/false`);
    return value;
  }
  note(key: string): string {
    return this.figure(key).note;
  }
  /** A value in parentheses at the end of a note, e.g. "(p90 33.4)" or "; p99 12.59". */
  fromNote(key: string, label: string): string {
    const m = new RegExp(`${label} ([0-9.,]+)`).exec(this.note(key));
    if (!m) throw new Error(`${this.source}: the note of "${key}" has no "${label} …"`);
    return num(Number((m[1] as string).replace(/,/g, '')), 6);
  }
}

const met = (pass: boolean) => (pass ? 'met' : '**missed**');

export function benchRenderers(b: BenchFigures): Record<string, Renderer> {
  const r = b.results;
  const functions = r.figures
    .filter((f) => f.key.startsWith('bundle_bytes_') && f.key !== 'bundle_bytes_layer')
    .map((f) => f.key.slice('bundle_bytes_'.length));
  const largest = [...functions].sort((x, y) => b.n(`bundle_bytes_${y}`) - b.n(`bundle_bytes_${x}`))[0] ?? '';
  return {
    'bench-run': () =>
      `Figures of the committed run: \`npm run bench\`${r.mode && r.mode !== 'full' ? ` (${r.mode})` : ''} on ${r.machine}, ${r.date.slice(0, 10)}` +
      `${r.durationSeconds ? `, ${num(r.durationSeconds, 0)} s` : ''} ([bench/results/latest.json](../bench/results/latest.json), every figure with its method: [latest.md](../bench/results/latest.md)).`,
    'bench-summary': () =>
      table(
        ['what', 'this design', 'the alternative, same run', 'target'],
        [
          [
            '`sendMessage` to 100 members, posts answered in 20 ms',
            `**${b.v('fanout_ms_100')} ms** (p90 ${b.fromNote('fanout_ms_100', 'p90')})`,
            `one post at a time: ${b.v('fanout_sequential_ms_100')} ms (${b.v('fanout_speedup_100')}×)`,
            `≤ ${b.v('fanout_target_ms_100')} ms: ${met(b.bool('fanout_target_pass_100'))}`,
          ],
          [
            'CPU per post (100 members)',
            `${b.v('fanout_cpu_ms_per_post')} ms (the layer's post path)`,
            `\`client.send(PostToConnectionCommand)\`: ${b.v('fanout_sdk_send_cpu_ms_per_post')} ms, 100 members in ${b.v('fanout_sdk_send_ms_100')} ms`,
            '–',
          ],
          [
            'room of 30, 1k / 10k / 100k connections stored',
            `${b.v('lookup_ms_1k')} / ${b.v('lookup_ms_10k')} / ${b.v('lookup_ms_100k')} ms (**${b.v('lookup_ratio_100k_vs_1k')}×**)`,
            `scan all connections: ${b.v('scan_lookup_ms_1k')} / ${b.v('scan_lookup_ms_10k')} / ${b.v('scan_lookup_ms_100k')} ms (${b.v('scan_vs_ours_100k')}× at 100k)`,
            `≤ 1.2×: ${met(b.bool('lookup_flat_pass'))}`,
          ],
          [
            'Redis round trips per `sendMessage`',
            `**${b.v('redis_roundtrips_send')}** (${b.v('redis_commands_send')} commands in one script)`,
            `scan design: ${b.v('scan_redis_roundtrips_send_1k')} / ${b.v('scan_redis_roundtrips_send_10k')} / ${b.v('scan_redis_roundtrips_send_100k')} at 1k / 10k / 100k`,
            '1',
          ],
          [
            'the same with replica-confirmed acks (`MIN_REPLICA_ACKS=1`)',
            `${b.v('redis_roundtrips_send_confirmed')} (script and \`WAIT\` pipelined); ack p50 ×${b.v('ack_ratio_p50_confirmed')}`,
            '–',
            `1, ≤ 3×: ${met(b.bool('ack_roundtrips_pass') && b.bool('ack_ratio_pass'))}`,
          ],
          [
            'bundles: layer / largest function',
            `${b.kb('bundle_bytes_layer')} / ${b.v(`bundle_bytes_${largest}`)} bytes (\`${largest}\`)`,
            '–',
            '`bench/budgets.json`',
          ],
          [
            '1,000 clients, rooms of 30, ~1 msg/s per room: latency',
            `p50 ${b.v('e2e_p50_ms')} ms, **p99 ${b.v('e2e_p99_ms')} ms**`,
            `Socket.IO + redis-adapter: p50 ${b.v('socketio_p50_ms')}, p99 ${b.v('socketio_p99_ms')} ms`,
            'reported',
          ],
          [
            'the same, one message in flight per room: deliveries/s',
            `**${b.v('e2e_deliveries_per_s')}/s** (${b.v('e2e_server_cpu_ms_per_1k_deliveries')} ms CPU per 1,000)`,
            `Socket.IO: ${b.v('socketio_deliveries_per_s')}/s (${b.v('socketio_server_cpu_ms_per_1k_deliveries')} ms CPU per 1,000)`,
            'reported',
          ],
        ],
      ),
    'bench-fanout': () =>
      table(
        ['members', 'this design (median)', 'p90', 'one post at a time', 'each post through `client.send`'],
        [1, 10, 30, 100, 300].map((n) => [
          String(n),
          `${b.v(`fanout_ms_${n}`)} ms`,
          `${b.fromNote(`fanout_ms_${n}`, 'p90')} ms`,
          `${b.v(`fanout_sequential_ms_${n}`)} ms`,
          n >= 30 ? `${b.v(`fanout_sdk_send_ms_${n}`)} ms` : '–',
        ]),
        ['r', 'r', 'r', 'r', 'r'],
      ),
    'bench-lookup': () =>
      table(
        ['connections stored', 'this design', 'its Redis step', 'scan all', 'its SCAN', 'scan round trips'],
        ['1k', '10k', '100k'].map((s) => [
          s,
          `${b.v(`lookup_ms_${s}`)} ms`,
          `${b.v(`lookup_store_ms_${s}`)} ms`,
          `${b.v(`scan_lookup_ms_${s}`)} ms`,
          `${b.v(`scan_lookup_scan_ms_${s}`)} ms`,
          b.v(`scan_redis_roundtrips_send_${s}`),
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r'],
      ),
    'bench-redis': () =>
      table(
        ['per', 'Redis round trips', 'commands'],
        [
          ['`sendMessage` (room of 30)', b.v('redis_roundtrips_send'), b.v('redis_commands_send')],
          ['`$connect`', b.v('redis_roundtrips_connect'), b.v('redis_commands_connect')],
          ['`$disconnect`', b.v('redis_roundtrips_disconnect'), b.v('redis_commands_disconnect')],
        ],
        ['l', 'r', 'r'],
      ) +
      `\n\nMemory: ${b.v('redis_bytes_per_connection')} bytes per stored connection; ${b.v('history_bytes_per_message')} bytes per history message (a stored frame of ${b.v('history_frame_bytes')} bytes).`,
    'bench-functions': () =>
      table(
        ['function', 'bundle', 'cold load with the layer', 'warm handler'],
        functions.map((fn) => {
          const warm = `handler_ms_${fn}`;
          const hasWarm = r.figures.some((f) => f.key === warm);
          return [
            `\`${fn}\``,
            `${num(b.n(`bundle_bytes_${fn}`), 0)} bytes`,
            `${b.v(`coldstart_load_ms_${fn}`)} ms`,
            hasWarm ? `${b.v(warm)} ms` : '–',
          ];
        }),
        ['l', 'r', 'r', 'r'],
      ) +
      `\n\nThe layer: ${b.kb('bundle_bytes_layer')} (gzip ${b.fromNote('bundle_bytes_layer', 'gzip')} KB); loading it alone takes ${b.v('coldstart_load_ms_layer')} ms.`,
    'bench-isolation': () => {
      const rows: [string, string][] = [
        ['paced delivery latency p50', 'p50'],
        ['paced delivery latency p99', 'p99'],
        ['saturated deliveries/s', 'throughput'],
        ['saturated latency p99', 'saturated_p99'],
        ['server CPU per 1,000 deliveries', 'cpu'],
        ['server RSS after the run', 'rss'],
      ];
      const ratios = table(
        ['workers / in process', 'as the emulator runs', 'pool pre-grown'],
        [
          ...rows.map(([label, k]) => [
            label,
            `×${b.v(`isolation_${k}_ratio`)}`,
            `×${b.v(`isolation_steady_${k}_ratio`)}`,
          ]),
          ['1,000 handshakes, 50 at a time', `×${b.v('isolation_connect_ratio')}`, '–'],
        ],
        ['l', 'r', 'r'],
      );
      const p = b.results as Results & { parts?: Record<string, { date: string }> };
      return `${ratios}\n\nA worker's cold start (spawn to ready, bundle built): AuthorizerFunction ${b.v('isolation_worker_cold_start_ms_authorizer')} ms, ConnectFunction ${b.v('isolation_worker_cold_start_ms_connect')} ms, SendMessageFunction ${b.v('isolation_worker_cold_start_ms_sendmessage')} ms (×${b.v('isolation_worker_cold_start_vs_inprocess_first_load')} the former first load in process, ${b.v('isolation_inprocess_first_load_ms')} ms; the slowest later one there in ${b.v('isolation_inprocess_next_load_ms')} ms). A warm worker holds ${b.v('isolation_rss_mb_per_warm_worker')} MB of RSS; the former runtime grew by ${b.v('isolation_inprocess_rss_growth_mb')} MB for three functions together. One run (${p.parts?.isolation?.date ?? b.results.date}) with a CI run loading the same 2 cores: the ratios are of the same run, the absolute latencies of that run are not shown.`;
    },
    'bench-e2e': () =>
      table(
        ['1,000 clients, rooms of 30', 'gateway emulator + handlers', 'Socket.IO + redis-adapter', 'ratio'],
        [
          [
            'connect all (50 handshakes at a time)',
            `${b.v('e2e_connect_s')} s`,
            `${b.v('socketio_connect_s')} s`,
            '–',
          ],
          [
            'paced (~1 msg/s per room): latency p50',
            `${b.v('e2e_p50_ms')} ms`,
            `${b.v('socketio_p50_ms')} ms`,
            '–',
          ],
          [
            'paced: latency p99',
            `${b.v('e2e_p99_ms')} ms`,
            `${b.v('socketio_p99_ms')} ms`,
            `×${b.v('e2e_vs_socketio_p99')}`,
          ],
          [
            'paced: deliveries/s',
            b.v('e2e_paced_deliveries_per_s'),
            b.v('socketio_paced_deliveries_per_s'),
            '–',
          ],
          [
            'saturated (one message in flight per room): deliveries/s',
            b.v('e2e_deliveries_per_s'),
            b.v('socketio_deliveries_per_s'),
            `×${b.v('e2e_vs_socketio_deliveries')}`,
          ],
          [
            'saturated: latency p99',
            `${b.v('e2e_saturated_p99_ms')} ms`,
            `${b.v('socketio_saturated_p99_ms')} ms`,
            '–',
          ],
          [
            'server CPU per 1,000 deliveries',
            `${b.v('e2e_server_cpu_ms_per_1k_deliveries')} ms`,
            `${b.v('socketio_server_cpu_ms_per_1k_deliveries')} ms`,
            '–',
          ],
        ],
        ['l', 'r', 'r', 'r'],
      ),
    'bench-replica-acks': () =>
      table(
        ['`sendMessage` until its ack, room of 30', '`MIN_REPLICA_ACKS=0`', '`MIN_REPLICA_ACKS=1`', 'ratio'],
        [
          [
            'p50',
            `${b.v('ack_p50_ms_unconfirmed')} ms`,
            `${b.v('ack_p50_ms_confirmed')} ms`,
            `×${b.v('ack_ratio_p50_confirmed')}`,
          ],
          [
            'p99',
            `${b.v('ack_p99_ms_unconfirmed')} ms`,
            `${b.v('ack_p99_ms_confirmed')} ms`,
            `×${b.v('ack_ratio_p99_confirmed')}`,
          ],
          [
            'the store step alone, p50',
            `${b.v('ack_store_p50_ms_unconfirmed')} ms`,
            `${b.v('ack_store_p50_ms_confirmed')} ms`,
            '–',
          ],
          [
            'Redis round trips per send',
            b.v('redis_roundtrips_send'),
            b.v('redis_roundtrips_send_confirmed'),
            '–',
          ],
          ['`unavailable` answers', '–', b.v('ack_unavailable_confirmed'), '–'],
        ],
        ['l', 'r', 'r', 'r'],
      ),
    'bench-resume': () =>
      table(
        [
          'room at its limits',
          'stored',
          'pages',
          'largest Redis reply',
          'memory growth',
          'the whole log in one reply (before)',
        ],
        (['large', 'many'] as const).map((s) => [
          s === 'large' ? 'few large messages' : 'many small messages',
          b.kb(`resume_${s}_room_bytes`),
          b.v(`resume_${s}_pages`),
          b.kb(`resume_${s}_max_reply_bytes`),
          `${b.kb(`resume_${s}_heap_growth_bytes`)} (×${b.v(`resume_${s}_heap_vs_room`)} of the room)`,
          `reply ${b.kb(`resume_${s}_whole_log_reply_bytes`)}, held ${b.kb(`resume_${s}_whole_log_heap_bytes`)}`,
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r'],
      ) +
      `\n\nBounded (largest reply ≤ one page, growth ≤ 16 pages): ${met(b.bool('resume_large_bounded_pass') && b.bool('resume_many_bounded_pass'))}.`,
    'bench-cluster': () =>
      `${table(
        ['3-master Redis Cluster', '`MIN_REPLICA_ACKS=0`', '`MIN_REPLICA_ACKS=1`'],
        [
          [
            'Redis round trips per `sendMessage`',
            b.v('roundtrips_per_send_cluster'),
            b.v('roundtrips_per_send_cluster_confirmed'),
          ],
          [
            'ack p50 / p99',
            `${b.v('ack_p50_ms_cluster')} / ${b.fromNote('ack_p50_ms_cluster', 'p99')} ms`,
            `${b.v('ack_p50_ms_cluster_confirmed')} / ${b.fromNote('ack_p50_ms_cluster_confirmed', 'p99')} ms`,
          ],
        ],
        ['l', 'r', 'r'],
      )}\n\nOne round trip, the script on the room's master: ${met(b.bool('cluster_roundtrips_pass'))}.`,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Drill results: docs/results/drills/*.json
// ---------------------------------------------------------------------------------------------------------

export type DrillValue = number | string | boolean;
export interface DrillResult {
  drill: string;
  at: string;
  options: Record<string, DrillValue>;
  figures: Record<string, DrillValue>;
}

/** Reads a drill's figures by key; a missing key throws with the drill's name. */
class DrillFigures {
  constructor(readonly result: DrillResult) {}
  get(key: string): DrillValue {
    const value = this.result.figures[key];
    if (value === undefined) throw new Error(`drill ${this.result.drill}: no figure "${key}" in its results`);
    return value;
  }
  /** A figure as text (numbers with thousands separators). */
  s(key: string): string {
    const value = this.get(key);
    return typeof value === 'number' ? num(value) : String(value);
  }
  has(key: string): boolean {
    return this.result.figures[key] !== undefined;
  }
}

export interface DrillEntry {
  /** The file name under docs/results/drills (without .json), as drills/support/report.ts names it. */
  name: string;
  title: string;
  command: string;
  /** The drill's own figures, in words. */
  other: (f: DrillFigures) => string;
  /** Why there is no snapshot, when none can be taken on these machines. */
  notRunHere?: string;
}

const counts = (text: string): string => text.replace(/:/g, ' ').replace(/,/g, ', ');

/** Every drill of `npm run test:drills` and the drill commands, in the order the docs list them. */
export const DRILLS: DrillEntry[] = [
  {
    name: 'failover',
    title: 'Redis failover (planned)',
    command: 'npm run drill:failover:local',
    other: (f) =>
      `${f.s('failovers')} failovers; first ack ${f.s('recover_ms')} ms after a failover, all senders ${f.s('all_recovered_ms')} ms; seq counters intact: ${f.s('seq_counters_intact')}`,
  },
  {
    name: 'failover-replica-acks',
    title: 'the same, `MinReplicaAcks=1`',
    command: 'npm run drill:failover:local -- --min-replica-acks 1',
    other: (f) =>
      `${f.s('failovers')} failovers; first ack ${f.s('recover_ms')} ms after a failover, all senders ${f.s('all_recovered_ms')} ms; seq counters intact: ${f.s('seq_counters_intact')}`,
  },
  {
    name: 'failover-aws',
    title: 'Redis failover on ElastiCache (`TestFailover`)',
    command: 'npm run drill:failover',
    other: (f) =>
      `${f.s('failovers')} failovers of ${f.s('failover_ms')} ms; all senders back ${f.s('all_recovered_ms')} ms`,
    notRunHere: 'needs a deployed stage and AWS credentials',
  },
  {
    name: 'failover-unplanned',
    title: 'unplanned failover: replication cut, primary killed, replica promoted',
    command: 'npm run drill:failover:unplanned',
    other: (f) =>
      `${f.s('unavailable_during_cut')} sends answered \`unavailable\` during the cut, resent; first ack ${f.s('recover_ms')} ms after the promotion; members cut off ${f.s('cut_off_members')}; rejoins during the cut: ${counts(f.s('rejoin_resumes'))}`,
  },
  {
    name: 'failover-unplanned-unprotected',
    title: 'the same with `MinReplicaAcks=0` (the unprotected case)',
    command: 'npm run drill:failover:unplanned -- --min-replica-acks 0',
    other: (f) =>
      `**${f.s('lost_from_store')} acknowledged messages lost from the store**, ${f.s('seq_conflicts')} seqs reused by other messages after the promotion`,
  },
  {
    name: 'eviction-noeviction',
    title: 'full cache, `noeviction`',
    command: 'npm run drill:eviction -- --policy noeviction',
    other: (f) =>
      `${f.s('maxmemory_mb')} MB; refusals: ${counts(f.s('refusals'))}; rooms corrupted ${f.s('corrupted_rooms')}; byte counters off ${f.s('byte_count_mismatch')}`,
  },
  {
    name: 'eviction-volatile-lru',
    title: 'full cache, `volatile-lru` (a stack without the parameter group)',
    command: 'npm run drill:eviction -- --policy volatile-lru',
    other: (f) =>
      `**${f.s('evicted_acked')} acknowledged messages evicted**; ${f.s('rooms_new_epoch')} rooms got a new epoch; members on the store's epoch ${f.s('members_on_store_epoch')}`,
  },
  {
    name: 'redis-down',
    title: 'Redis unavailable (crash, then a hang)',
    command: 'npm run drill:redis-down',
    other: (f) =>
      `crash: errors within ${f.s('crash_error_max_ms')} ms, handshake ${f.s('crash_handshake')}, back ${f.s('crash_recover_ms')} ms after Redis; hang: errors within ${f.s('hang_error_max_ms')} ms, back ${f.s('hang_recover_ms')} ms; rooms with partial state ${f.s('partial_state')}`,
  },
  {
    name: 'mgmt-faults',
    title: 'management API faults',
    command: 'npm run drill:faults',
    other: (f) =>
      `${num(Number(f.get('injected_410')) + Number(f.get('injected_429')) + Number(f.get('injected_500')) + Number(f.get('injected_slow')))} of ${f.s('posts')} posts faulted (410 ${f.s('injected_410')}, 429 ${f.s('injected_429')}, 500 ${f.s('injected_500')}, slow ${f.s('injected_slow')}); stale members pruned ${f.s('stale_pruned')}, frames to them ${f.s('stale_frames')}`,
  },
  {
    name: 'stale',
    title: 'missed `$disconnect`, dropped sockets',
    command: 'npm run drill:stale',
    other: (f) =>
      `half-open pruned ${f.s('half_open_pruned')}, dropped removed ${f.s('dropped_removed')}, missed \`$disconnect\` pruned ${f.s('missed_then_pruned')}; keys left expire within ${f.s('abandoned_max_ttl_s')} s; keys without TTL ${f.s('keys_without_ttl')}`,
  },
  {
    name: 'timeout',
    title: 'handler cut off by its timeout',
    command: 'npm run drill:timeout',
    other: (f) =>
      `${f.s('cut_off')} invocations cut off mid-broadcast (${f.s('held_posts')} posts held past the timeout)`,
  },
  {
    name: 'fuzz',
    title: 'bad input fuzz',
    command: 'npm run drill:fuzz',
    other: (f) =>
      `${f.s('frames_tried')} frames of ${f.s('families')} families; server errors ${f.s('server_errors')}; frames to the other member ${f.s('observer_frames')}; stored state unchanged: ${f.s('state_unchanged')}`,
  },
  {
    name: 'auth-hs256',
    title: 'auth attacks, HS256',
    command: 'npm run drill:auth',
    other: (f) =>
      `${f.s('handshake_attacks')} handshake attacks: ${f.s('refused_401')} × 401, ${f.s('refused_403')} × 403, sockets opened ${f.s('sockets_opened_by_attacks')}; flood: ${f.s('flood_acked')} acked, ${f.s('flood_rate_limited')} \`rate_limited\``,
  },
  {
    name: 'auth-jwks',
    title: 'auth attacks, JWKS (RS256/ES256)',
    command: 'npm run drill:auth',
    other: (f) =>
      `${f.s('handshake_attacks')} handshake attacks: ${f.s('refused_401')} × 401, ${f.s('refused_403')} × 403, sockets opened ${f.s('sockets_opened_by_attacks')}`,
  },
  {
    name: 'soak',
    title: 'soak',
    command: 'npm run drill:soak',
    other: (f) =>
      `${f.s('connected')} connections for ${f.s('seconds')} s; server errors ${f.s('server_errors')}; server RSS ×${f.s('rss_growth')}; room keys ${f.s('steady_keys_min')}–${f.s('steady_keys_max')} in steady state; keys without TTL after everyone left ${f.s('keys_without_ttl')}`,
  },
  {
    name: 'cluster-reshard',
    title: 'cluster: slots of busy rooms moved between masters',
    command: 'npm run drill:cluster:reshard',
    other: (f) =>
      `${f.s('slots_moved')} slots, ${f.s('keys_moved')} keys moved; MOVED ${f.s('moved')}, ASK ${f.s('ask')}, TRYAGAIN ${f.s('tryagain')}; \`unavailable\` then acked ${f.s('unavailable_then_acked')}/${f.s('unavailable_msgs')}; \`internal\` ${f.s('internal')}`,
  },
  {
    name: 'cluster-reshard-replica-acks',
    title: 'the same, `MinReplicaAcks=1`',
    command: 'npm run drill:cluster:reshard -- --min-replica-acks 1',
    other: (f) =>
      `${f.s('slots_moved')} slots, ${f.s('keys_moved')} keys moved; MOVED ${f.s('moved')}, ASK ${f.s('ask')}, TRYAGAIN ${f.s('tryagain')}; \`unavailable\` then acked ${f.s('unavailable_then_acked')}/${f.s('unavailable_msgs')}; \`internal\` ${f.s('internal')}`,
  },
  {
    name: 'cluster-failover',
    title: 'cluster: a master killed, its replica promoted',
    command: 'npm run drill:cluster:failover',
    other: (f) =>
      `promotion ${f.s('promote_ms')} ms, writes back ${f.s('recover_ms')} ms after the kill; \`unavailable\` then acked ${f.s('unavailable_then_acked')}/${f.s('unavailable_msgs')}; \`internal\` ${f.s('internal')}`,
  },
  {
    name: 'cluster-failover-replica-acks',
    title: 'the same, `MinReplicaAcks=1`',
    command: 'npm run drill:cluster:failover -- --min-replica-acks 1',
    other: (f) =>
      `promotion ${f.s('promote_ms')} ms, writes back ${f.s('recover_ms')} ms after the kill; \`unavailable\` then acked ${f.s('unavailable_then_acked')}/${f.s('unavailable_msgs')}; \`internal\` ${f.s('internal')}`,
  },
  {
    name: 'dynamodb-burst',
    title: 'DynamoDB store: every member of a room of 50 sending at the same instant',
    command: 'npm run drill:dynamodb -- --scenario burst',
    other: (f) =>
      `${f.s('rounds')} rounds; acked seqs ${f.s('seq_range')}, ${f.s('distinct_seqs')} distinct; missing from the table ${f.s('table_holes')}, store gaps ${f.s('store_gaps')}; a round answered within ${f.s('round_max_ms')} ms`,
  },
  {
    name: 'dynamodb-throttle',
    title: 'DynamoDB store: throttling injected',
    command: 'npm run drill:dynamodb -- --scenario throttle',
    other: (f) =>
      `${f.s('throttled')} of ${f.s('store_requests')} requests throttled (writes ${f.s('throttled_writes')}, reads ${f.s('throttled_reads')}); \`unavailable\` then acked ${f.s('unavailable_then_acked')}/${f.s('unavailable_msgs')}; acknowledged and lost from the store ${f.s('lost_from_store')}; missing from the table ${f.s('table_holes')}`,
  },
  {
    name: 'dynamodb-outage',
    title: 'DynamoDB store unavailable (connections refused, then a hang)',
    command: 'npm run drill:dynamodb -- --scenario outage',
    other: (f) =>
      `refused: errors within ${f.s('refuse_error_max_ms')} ms, handshake ${f.s('refuse_handshake')}, back ${f.s('refuse_recover_ms')} ms after; hang: errors within ${f.s('hang_error_max_ms')} ms, handshake ${f.s('hang_handshake')}, back ${f.s('hang_recover_ms')} ms; Lambda timeouts ${f.s('lambda_timeouts')}; store gaps ${f.s('store_gaps')}`,
  },
];

export function readDrillResults(dir = DRILL_SNAPSHOT): Map<string, DrillResult> {
  const out = new Map<string, DrillResult>();
  if (!existsSync(dir)) return out;
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const result = JSON.parse(readFileSync(join(dir, file), 'utf8')) as DrillResult;
    out.set(file.slice(0, -'.json'.length), result);
  }
  return out;
}

const dash = '–';

export function drillRenderers(results: Map<string, DrillResult>): Record<string, Renderer> {
  const known = new Set(DRILLS.map((d) => d.name));
  const unknown = [...results.keys()].filter((name) => !known.has(name));
  if (unknown.length > 0)
    throw new Error(`docs/results/drills: no entry in DRILLS (scripts/docs.ts) for ${unknown.join(', ')}`);
  const drill = (name: string) => {
    const r = results.get(name);
    if (!r)
      throw new Error(
        `docs/results/drills has no ${name}.json (npm run drill:dynamodb, then npm run docs -- --drills)`,
      );
    return (key: string) => {
      const v = r.figures[key];
      if (v === undefined) throw new Error(`docs/results/drills/${name}.json has no figure "${key}"`);
      return typeof v === 'number' ? num(v, 6) : String(v);
    };
  };
  return {
    'readme-dynamodb-drills': () => {
      const burst = drill('dynamodb-burst');
      const throttle = drill('dynamodb-throttle');
      const outage = drill('dynamodb-outage');
      return `${burst('members')} members sending at once: ${burst('acknowledged')}/${burst('sent')} acked (seqs ${burst('seq_range')}, ${burst('lost')} lost, ${burst('duplicated')} duplicated); ${throttle('throttled')} requests throttled: ${throttle('acknowledged')}/${throttle('sent')} acked, ${throttle('lost')} lost; store unreachable: \`unavailable\` within ${outage('refuse_error_max_ms')} ms (${outage('hang_error_max_ms')} ms when it hangs), back in ${outage('recover_ms')} ms.`;
    },
    'drills-table': () =>
      table(
        ['drill', 'sent / acked', 'live / `resume`', 'lost', 'dup.', 'other figures', 'run', 'command'],
        DRILLS.map((d) => {
          const result = results.get(d.name);
          if (!result) {
            const why = d.notRunHere
              ? `not run here (${d.notRunHere})`
              : 'no committed results yet: run the command, then `npm run docs -- --drills`';
            return [d.title, dash, dash, dash, dash, why, dash, `\`${d.command}\``];
          }
          const f = new DrillFigures(result);
          const traffic = f.has('sent') && f.has('acknowledged');
          return [
            d.title,
            traffic ? `${f.s('sent')} / ${f.s('acknowledged')}` : dash,
            f.has('delivered') && f.has('recovered') ? `${f.s('delivered')} / ${f.s('recovered')}` : dash,
            traffic ? f.s(f.has('lost_from_store') && !f.has('lost') ? 'lost_from_store' : 'lost') : dash,
            f.has('duplicated') ? f.s('duplicated') : dash,
            d.other(f),
            `[${result.at.slice(0, 10)}](results/drills/${d.name}.json)`,
            `\`${d.command}\``,
          ];
        }),
      ),
    'drills-options': () =>
      results.size === 0
        ? 'No drill results in docs/results/drills yet.'
        : DRILLS.filter((d) => results.has(d.name))
            .map((d) => {
              const result = results.get(d.name) as DrillResult;
              const options = Object.entries(result.options)
                .map(([k, v]) => `${k}=${typeof v === 'number' ? v : JSON.stringify(v)}`)
                .join(', ');
              return `- \`${d.name}\` (${result.at.slice(0, 16).replace('T', ' ')} UTC): ${options || 'default options'}`;
            })
            .join('\n'),
  };
}

/** Copies the last runs' results (artifacts/drills) into the committed snapshot, formatted as the lint wants. */
export function snapshotDrills(from = DRILL_ARTIFACTS, to = DRILL_SNAPSHOT): string[] {
  if (!existsSync(from)) throw new Error(`${relative(ROOT, from)} does not exist: run the drills first`);
  mkdirSync(to, { recursive: true });
  const taken: string[] = [];
  for (const file of readdirSync(from)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const target = join(to, file);
    copyFileSync(join(from, file), target);
    writeFileSync(target, biomeFormat(readFileSync(target, 'utf8'), target));
    taken.push(file);
  }
  return taken;
}

// ---------------------------------------------------------------------------------------------------------
// docs/cost.md (its regions) and docs/cost-chart.svg
// ---------------------------------------------------------------------------------------------------------

export function costRenderers(): Record<string, Renderer> {
  const prices = loadPrices();
  const { ms } = loadMeasured(BENCH_RESULTS);
  const template = loadTemplate();
  return {
    'cost-table': () => renderTable(prices, ms, template),
    'cost-lines': () => renderLines(prices, ms, template),
    'cost-prices': () => renderPrices(prices),
    'cost-targets': () => renderTargets(prices, ms, template),
    'cost-dynamodb-units': () => renderDynamoUnits(prices, ms, template),
  };
}

// ---------------------------------------------------------------------------------------------------------
// docs/dynamodb.md: which store (latency per message on both, the monthly bill per profile)
// ---------------------------------------------------------------------------------------------------------

export function storeChoiceRenderers(b: BenchFigures): Record<string, Renderer> {
  return {
    'readme-cost': () => {
      const prices = loadPrices();
      const { ms } = loadMeasured(BENCH_RESULTS);
      const template = loadTemplate();
      const loads = ['small', 'default'] as const;
      const bills = loads.map((load) => compareAt(LOADS[load], prices, ms, template));
      return table(
        ['', 'standard', 'lean', 'dynamodb'],
        loads.map((load, i) => [
          LOAD_LABELS[load].replace(/ of 31.*$/, ''),
          ...(['standard', 'lean', 'dynamodb'] as const).map((profile) =>
            money((bills[i] as (typeof bills)[number])[profile].total),
          ),
        ]),
        ['l', 'r', 'r', 'r'],
      );
    },
    'dynamodb-choice': () => {
      const prices = loadPrices();
      const { ms } = loadMeasured(BENCH_RESULTS);
      const template = loadTemplate();
      const latency = table(
        [
          'sendMessage to a room of 30, handler time',
          'Redis (redis-server)',
          'DynamoDB (moto)',
          'DynamoDB / Redis',
        ],
        [
          [
            'p50',
            `${b.v('store_send_p50_ms_redis')} ms`,
            `${b.v('store_send_p50_ms_dynamodb')} ms`,
            `×${b.v('store_send_ratio_p50_dynamodb_redis')}`,
          ],
          [
            'p99',
            `${b.v('store_send_p99_ms_redis')} ms`,
            `${b.v('store_send_p99_ms_dynamodb')} ms`,
            `×${b.v('store_send_ratio_p99_dynamodb_redis')}`,
          ],
        ],
        ['l', 'r', 'r', 'r'],
      );
      const loads = Object.keys(LOADS) as (keyof typeof LOADS)[];
      const bills = loads.map((load) => compareAt(LOADS[load], prices, ms, template));
      const cost = table(
        ['monthly bill (list prices, no free tier)', ...loads.map((load) => LOAD_LABELS[load])],
        (['standard', 'lean', 'dynamodb'] as const).map((profile) => [
          `profile \`${profile}\``,
          ...bills.map((bill) => money(bill[profile].total)),
        ]),
        ['l', ...loads.map(() => 'r' as const)],
      );
      return `${latency}\n\nMeasured in one run of \`npm run bench\` (${b.results.date}, part [8]: the real handlers on each store in a process of its own, posts answered at once). moto is a Python emulator answering one DynamoDB request at a time on this machine: the ratio is an upper bound of what the store's round trips cost here, not DynamoDB's latency.\n\n${cost}\n\nFrom \`npm run cost\` ([cost.md](cost.md): the loads, every line item, and the request units each operation consumed in the same bench run).`;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// npm run docs
// ---------------------------------------------------------------------------------------------------------

/** Every generated region of the docs, by name, from the committed sources. */
export function allRenderers(): Record<string, Renderer> {
  const results = JSON.parse(readFileSync(BENCH_RESULTS, 'utf8')) as Results;
  const figures = new BenchFigures(results, relative(ROOT, BENCH_RESULTS));
  return {
    ...benchRenderers(figures),
    ...storeChoiceRenderers(figures),
    ...drillRenderers(readDrillResults()),
    ...costRenderers(),
  };
}

/** The Markdown files whose links are checked: the README and every page of docs/. */
export function checkedMarkdown(): string[] {
  const docs = readdirSync(DOCS_DIR)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(DOCS_DIR, f));
  return [join(ROOT, 'README.md'), ...docs];
}

function main(): void {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  if (args.includes('--drills')) {
    if (check) throw new Error('--drills writes the snapshot: not with --check');
    const taken = snapshotDrills();
    console.log(`docs/results/drills: ${taken.join(', ') || 'nothing to take'}`);
  }
  const renderers = allRenderers();
  const stale: string[] = [];
  for (const file of checkedMarkdown()) {
    const text = readFileSync(file, 'utf8');
    if (regionNames(text).length === 0) continue;
    const next = biomeFormat(fillRegions(text, renderers, relative(ROOT, file)), file);
    if (writeOrCheck(file, next, check)) stale.push(relative(ROOT, file));
  }
  // Biome has no SVG formatter: the chart is written as renderSvg draws it.
  const svg = renderSvg(loadPrices(), loadMeasured(BENCH_RESULTS).ms, loadTemplate());
  if (writeOrCheck(COST_SVG, svg, check)) stale.push(relative(ROOT, COST_SVG));

  const broken = checkedMarkdown().flatMap((file) =>
    brokenLinks(file, readFileSync(file, 'utf8')).map((link) => `${relative(ROOT, file)}: ${link}`),
  );
  for (const link of broken) console.error(`broken link: ${link}`);

  if (check) {
    if (stale.length > 0)
      console.error(`not what the committed results give: ${stale.join(', ')} (run npm run docs and commit)`);
    if (stale.length > 0 || broken.length > 0) process.exit(1);
    console.log('docs: every generated region is up to date and every relative link resolves');
    return;
  }
  console.log(stale.length > 0 ? `docs: wrote ${stale.join(', ')}` : 'docs: nothing changed');
  if (broken.length > 0) process.exit(1);
}

if (require.main === module) main();
