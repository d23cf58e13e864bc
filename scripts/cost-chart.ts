/**
 * Draws docs/cost-chart.svg (monthly cost against the number of classrooms, log-log, for the standard, lean and
 * dynamodb profiles, AWS AppSync Events, AWS IoT Core, Ably and Pusher Channels, at two per-class usages) and the
 * the tables of docs/cost.md, from scripts/cost.ts and bench/prices.json; `npm run docs` (scripts/docs.ts)
 * writes them, `npm run docs -- --check` fails when they are stale (CI).
 * The SVG is written directly: no chart library.
 */
import {
  billOf,
  checkTargets,
  compareAt,
  DYNAMODB_ROUND_TRIP_MS,
  DYNAMODB_ROUND_TRIPS,
  LOAD_LABELS,
  LOADS,
  type Load,
  type LoadName,
  type Measured,
  markOf,
  money,
  PROFILES,
  type PriceTable,
  type ProfileName,
  resolveProfile,
} from './cost';

export interface Series {
  name: string;
  color: string;
  dash?: string;
  /** A price that jumps between plans: drawn as steps. */
  step?: boolean;
  points: [number, number | null][];
}

const OPTIONS = [
  { name: 'Classroom Realtime standard', color: '#c0392b' },
  { name: 'Classroom Realtime lean', color: '#1e8449', width: 3 },
  { name: 'Classroom Realtime dynamodb', color: '#17a589', dash: '10 3', width: 3 },
  { name: 'AWS AppSync Events', color: '#2471a3' },
  { name: 'AWS IoT Core', color: '#7d3c98', dash: '6 4' },
  { name: 'Ably', color: '#d68910', dash: '2 3', step: true },
  { name: 'Pusher Channels', color: '#566573', dash: '8 3 2 3', step: true },
] as const;

/** Classroom counts from 1 to 5,000, 24 a decade (plan steps show). */
export function classroomSteps(max = 5000, perDecade = 24): number[] {
  const steps = new Set<number>();
  for (let i = 0; ; i++) {
    const n = Math.round(10 ** (i / perDecade));
    if (n > max) break;
    steps.add(n);
  }
  return [...steps];
}

export function seriesFor(
  perClass: Load,
  table: PriceTable,
  ms: Measured,
  template: string | undefined,
): Series[] {
  const rows = classroomSteps().map(
    (n) => [n, compareAt({ ...perClass, classrooms: n }, table, ms, template)] as const,
  );
  return OPTIONS.map((option, i) => ({
    name: option.name,
    color: option.color,
    dash: 'dash' in option ? option.dash : undefined,
    step: 'step' in option,
    points: rows.map(([n, c]) => {
      const total =
        i === 0
          ? c.standard.total
          : i === 1
            ? c.lean.total
            : i === 2
              ? c.dynamodb.total
              : (c.alternatives[i - 3]?.total ?? null);
      return [n, total] as [number, number | null];
    }),
  }));
}

const fmt = (v: number) => (Math.round(v * 10) / 10).toString();
const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One log-log panel: x classrooms, y USD a month; null points break the line (no listed price). */
export function panel(
  series: Series[],
  box: { x: number; y: number; w: number; h: number },
  title: string,
  markers: { at: number; label: string }[],
): string {
  const xMin = 1;
  const xMax = 5000;
  const yMin = 0.1;
  const yMax = 20000;
  const sx = (v: number) =>
    box.x + ((Math.log10(v) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * box.w;
  const sy = (v: number) =>
    box.y +
    box.h -
    ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * box.h;
  const out: string[] = [];
  out.push(`<text x="${fmt(box.x)}" y="${fmt(box.y - 12)}" class="title">${xml(title)}</text>`);
  for (const v of [0.1, 1, 10, 100, 1000, 10000]) {
    out.push(
      `<line x1="${fmt(box.x)}" y1="${fmt(sy(v))}" x2="${fmt(box.x + box.w)}" y2="${fmt(sy(v))}" class="grid"/>`,
    );
    out.push(
      `<text x="${fmt(box.x - 6)}" y="${fmt(sy(v) + 4)}" class="tick" text-anchor="end">$${v >= 1000 ? `${v / 1000}k` : v}</text>`,
    );
  }
  for (const v of [1, 10, 100, 1000]) {
    out.push(
      `<line x1="${fmt(sx(v))}" y1="${fmt(box.y)}" x2="${fmt(sx(v))}" y2="${fmt(box.y + box.h)}" class="grid"/>`,
    );
    out.push(
      `<text x="${fmt(sx(v))}" y="${fmt(box.y + box.h + 16)}" class="tick" text-anchor="middle">${v}</text>`,
    );
  }
  for (const m of markers) {
    out.push(
      `<line x1="${fmt(sx(m.at))}" y1="${fmt(box.y)}" x2="${fmt(sx(m.at))}" y2="${fmt(box.y + box.h)}" class="marker"/>`,
    );
    out.push(`<text x="${fmt(sx(m.at) + 4)}" y="${fmt(box.y + 12)}" class="note">${xml(m.label)}</text>`);
  }
  out.push(
    `<rect x="${fmt(box.x)}" y="${fmt(box.y)}" width="${fmt(box.w)}" height="${fmt(box.h)}" class="frame"/>`,
  );
  out.push(
    `<text x="${fmt(box.x + box.w / 2)}" y="${fmt(box.y + box.h + 34)}" class="axis" text-anchor="middle">classrooms (log scale)</text>`,
  );
  for (const s of series) {
    const runs: string[][] = [[]];
    let previous: number | null = null;
    for (const [n, v] of s.points) {
      const run = runs[runs.length - 1] as string[];
      if (v === null) {
        runs.push([]);
      } else {
        if (s.step && previous !== null && run.length > 0) run.push(`${fmt(sx(n))},${fmt(sy(previous))}`);
        run.push(`${fmt(sx(n))},${fmt(sy(v))}`);
      }
      previous = v;
    }
    const width = s.name.endsWith('lean') || s.name.endsWith('dynamodb') ? 3 : 2;
    for (const run of runs.filter((r) => r.length > 1))
      out.push(
        `<polyline points="${run.join(' ')}" fill="none" stroke="${s.color}" stroke-width="${width}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      );
    const last = [...s.points].reverse().find(([, v]) => v !== null);
    const end = s.points[s.points.length - 1];
    if (last && end && end[1] === null) {
      const x = sx(last[0]);
      const nearEdge = x > box.x + box.w - 110;
      out.push(
        `<text x="${fmt(nearEdge ? x - 4 : x + 4)}" y="${fmt(sy(last[1] as number) + (nearEdge ? 14 : -4))}" class="note" fill="${s.color}"${nearEdge ? ' text-anchor="end"' : ''}>${xml(s.name.split(' ')[0] as string)}: Enterprise beyond</text>`,
      );
    }
  }
  return out.join('\n');
}

export function renderSvg(table: PriceTable, ms: Measured, template: string | undefined): string {
  const heavy = { ...LOADS.default };
  const light = { ...LOADS.small };
  const width = 1040;
  const height = 560;
  const a = seriesFor(heavy, table, ms, template);
  const b = seriesFor(light, table, ms, template);
  const legend = OPTIONS.map((o, i) => {
    const x = 70 + (i % 4) * 240;
    const y = 500 + Math.floor(i / 4) * 22;
    return `<line x1="${x}" y1="${y}" x2="${x + 34}" y2="${y}" stroke="${o.color}" stroke-width="${'width' in o ? 3 : 2}"${'dash' in o ? ` stroke-dasharray="${o.dash}"` : ''}/><text x="${x + 42}" y="${y + 4}" class="legend">${xml(o.name)}</text>`;
  }).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">
<title>Monthly cost of Classroom Realtime (standard, lean and dynamodb profiles), AWS AppSync Events, AWS IoT Core, Ably and Pusher Channels against the number of classrooms</title>
<style>
.title { font-size: 14px; font-weight: bold; fill: #222; }
.tick { font-size: 11px; fill: #555; }
.axis { font-size: 12px; fill: #333; }
.note { font-size: 10px; fill: #555; }
.legend { font-size: 12px; fill: #222; }
.grid { stroke: #e5e5e5; stroke-width: 1; }
.marker { stroke: #999; stroke-width: 1; stroke-dasharray: 3 3; }
.frame { fill: none; stroke: #999; stroke-width: 1; }
</style>
<rect width="${width}" height="${height}" fill="#fff"/>
<text x="20" y="24" class="title">Monthly cost (USD, list prices, ${xml(table.region)}, prices checked ${xml(table.read)}) against classrooms of 31: npm run docs</text>
<text x="20" y="42" class="note">Lines end where no listed plan carries the load (Ably above Pro, Pusher above Growth Plus: Enterprise, price on request); $0 plans drawn at $0.10. Many prices are unverified: see docs/cost.md and bench/prices.json.</text>
<text x="14" y="270" class="axis" transform="rotate(-90 14 270)" text-anchor="middle">USD per month (log scale)</text>
${panel(a, { x: 70, y: 80, w: 420, h: 340 }, '80 class hours a month, 20 messages a minute per class', [
  { at: 100, label: 'default load' },
  { at: 2000, label: 'large' },
])}
${panel(b, { x: 590, y: 80, w: 420, h: 340 }, '2 class hours a month, 10 messages a minute per class', [
  { at: 20, label: 'small school' },
])}
${legend}
</svg>
`;
}

export function renderTable(table: PriceTable, ms: Measured, template: string | undefined): string {
  const lines = [
    '| load | standard | lean | dynamodb | AWS AppSync Events | AWS IoT Core | Ably | Pusher Channels | API Gateway floor | lean: beyond the floor |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const name of Object.keys(LOADS) as LoadName[]) {
    const c = compareAt(LOADS[name], table, ms, template);
    const mark = (m: string) => (m === '?' ? ' ?' : m === '†' ? ' †' : '');
    lines.push(
      `| ${LOAD_LABELS[name]} | ${money(c.standard.total)}${mark(
        markOf(
          table,
          c.standard.lines.flatMap((l) => l.prices),
        ),
      )} | ${money(c.lean.total)}${mark(
        markOf(
          table,
          c.lean.lines.flatMap((l) => l.prices),
        ),
      )} | ${money(c.dynamodb.total)}${mark(
        markOf(
          table,
          c.dynamodb.lines.flatMap((l) => l.prices),
        ),
      )} | ${c.alternatives.map((x) => `${money(x.total)}${mark(x.mark)}`).join(' | ')} | ${money(c.lean.floor)} | ${(c.lean.beyondShare * 100).toFixed(1)} % |`,
    );
  }
  return lines.join('\n');
}

/** The line items of a bill as Markdown rows (item, quantity, fixed or per use, cost and its mark). */
export function renderLines(table: PriceTable, ms: Measured, template: string | undefined): string {
  const out: string[] = [];
  const cases: [string, ProfileName, LoadName][] = [
    ['standard, default load', 'standard', 'default'],
    ['lean, default load', 'lean', 'default'],
    ['lean, small school', 'lean', 'small'],
    ['dynamodb, default load', 'dynamodb', 'default'],
    ['dynamodb, small school', 'dynamodb', 'small'],
  ];
  for (const [title, profile, load] of cases) {
    const bill = billOf(LOADS[load], resolveProfile(PROFILES[profile], template), table, ms);
    out.push(`**${title}** (\`npm run cost -- --profile ${profile} --load ${load}\`)`, '');
    out.push('| line item | quantity | kind | per month |', '| --- | ---: | --- | ---: |');
    for (const l of bill.lines)
      out.push(
        `| ${l.item}${l.floor ? ' (API Gateway floor)' : ''} | ${l.quantity} | ${l.kind === 'fixed' ? 'fixed' : 'per use'} | ${money(l.cost)}${l.mark ? ` ${l.mark}` : ''} |`,
      );
    out.push(`| **TOTAL** | | | **${money(bill.total)}** |`, '');
    out.push(
      `API Gateway floor ${money(bill.floor)}; everything else ${money(bill.beyondFloor)} = ${(bill.beyondShare * 100).toFixed(1)} % of it; fixed ${money(bill.fixed)}.`,
      '',
    );
  }
  return out.join('\n').trimEnd();
}

/** The targets as `npm run cost -- --check` states them. */
export function renderTargets(table: PriceTable, ms: Measured, template: string | undefined): string {
  const lean = resolveProfile(PROFILES.lean, template);
  const standard = billOf(LOADS.default, resolveProfile(PROFILES.standard, template), table, ms);
  const results = checkTargets(
    {
      small: billOf(LOADS.small, lean, table, ms),
      default: billOf(LOADS.default, lean, table, ms),
    },
    { small: billOf(LOADS.small, resolveProfile(PROFILES.dynamodb, template), table, ms) },
  );
  const out = ['| target | status | figures |', '| --- | --- | --- |'];
  for (const r of results) out.push(`| ${r.name} | **${r.pass ? 'met' : 'missed'}** | ${r.text} |`);
  out.push(
    `| (for reference) standard profile, default load, beyond API Gateway's own charges | | ${(standard.beyondShare * 100).toFixed(1)} % of $${standard.floor.toFixed(2)} |`,
  );
  return out.join('\n');
}

/**
 * The DynamoDB store's request units per operation as `npm run bench` measured them (part [8]), what a
 * month of each load needs, and the sendMessage times of both stores on this machine.
 */
export function renderDynamoUnits(table: PriceTable, ms: Measured, template: string | undefined): string {
  const f = (key: string, digits = 1) => {
    const value = ms(key);
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new Error(`bench/results/latest.json has no ${key}: run npm run bench (part [8])`);
    return value.toFixed(digits);
  };
  const rows: [string, string, number][] = [
    [
      '`sendMessage` to a room of 30 (with `clientMsgId`)',
      'send_room30',
      DYNAMODB_ROUND_TRIPS.sendMessage ?? 0,
    ],
    [
      'the same, the room at its history limit (trims)',
      'send_room30_at_limit',
      DYNAMODB_ROUND_TRIPS.sendMessage ?? 0,
    ],
    ['`$connect` to a room of 29 (join announced)', 'connect', DYNAMODB_ROUND_TRIPS.$connect ?? 0],
    ['`$disconnect` from a room of 30', 'disconnect', DYNAMODB_ROUND_TRIPS.$disconnect ?? 0],
    ['`resume` of 100 messages', 'resume_100', DYNAMODB_ROUND_TRIPS.resume ?? 0],
    ['`resume` of 20 messages', 'resume_20', DYNAMODB_ROUND_TRIPS.resume ?? 0],
    ['`presence` of a room of 30', 'presence_room30', DYNAMODB_ROUND_TRIPS.presence ?? 0],
    ['server publish (SQS record) to a room of 30', 'publish_room30', DYNAMODB_ROUND_TRIPS.publish ?? 0],
  ];
  const out = [
    '| operation | write request units | read request units | DynamoDB requests | round trips |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows.map(
      ([text, op, rt]) =>
        `| ${text} | ${f(`dynamodb_wcu_${op}`)} | ${f(`dynamodb_rcu_${op}`)} | ${f(`dynamodb_calls_${op}`)} | ${rt} |`,
    ),
    '',
    `Stored item sizes: a chat message ${f('dynamodb_bytes_per_message_item', 0)} bytes, a member ${f('dynamodb_bytes_per_member_item', 0)} bytes.`,
    '',
    '| load | write request units a month | read request units a month | DynamoDB lines of the bill |',
    '| --- | ---: | ---: | ---: |',
  ];
  const profile = resolveProfile(PROFILES.dynamodb, template);
  for (const name of Object.keys(LOADS) as LoadName[]) {
    const bill = billOf(LOADS[name], profile, table, ms);
    const lines = bill.lines.filter((l) => l.item.startsWith('DynamoDB'));
    const q = (prefix: string) => lines.find((l) => l.item.startsWith(prefix))?.quantity ?? '';
    out.push(
      `| ${LOAD_LABELS[name]} | ${q('DynamoDB on demand: write')} | ${q('DynamoDB on demand: read')} | ${money(lines.reduce((sum, l) => sum + l.cost, 0))} |`,
    );
  }
  out.push(
    '',
    `sendMessage handler time to a room of 30 on this machine, same run: Redis p50 ${f('store_send_p50_ms_redis')} ms, p99 ${f('store_send_p99_ms_redis')} ms; DynamoDB on moto p50 ${f('store_send_p50_ms_dynamodb')} ms, p99 ${f('store_send_p99_ms_dynamodb')} ms (ratio p50 ${f('store_send_ratio_p50_dynamodb_redis')}x). moto is not DynamoDB: the cost model adds ${DYNAMODB_ROUND_TRIP_MS} ms (assumed) per DynamoDB round trip to the Lambda durations instead.`,
  );
  return out.join('\n');
}

/** Every price of bench/prices.json: value, unit, status and page (the evidence stays in the JSON). */
export function renderPrices(table: PriceTable): string {
  const out = ['| price | value | unit | status | page | read |', '| --- | ---: | --- | --- | --- | --- |'];
  for (const [key, p] of Object.entries(table.prices))
    out.push(`| \`${key}\` | ${p.value} | ${p.unit} | ${p.status} | ${p.source} | ${p.read} |`);
  out.push(
    `| \`pusher.plans\` (${table.pusher.plans.map((k) => `${k.name} $${k.monthly}`).join(', ')}) | | USD per month | ${table.pusher.status} | ${table.pusher.source} | ${table.pusher.read} |`,
  );
  return out.join('\n');
}
