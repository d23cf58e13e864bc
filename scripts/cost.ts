/**
 * `npm run cost -- --classrooms N --students-per-class N --hours N --messages-per-minute N [options]`
 *
 * The monthly AWS bill of this stack for a classroom load, from the price table bench/prices.json
 * (date, region, sources), with Lambda durations from the benchmark's measured handler times
 * (bench/results/latest.json) when present, else the defaults below; printed beside the list price of a
 * commercial real-time plan (Pusher Channels) for the same load. `--json` prints the model as JSON.
 *
 * Load model (per month):
 *   - every classroom has `--students-per-class` students and `--teachers-per-class` teachers connected
 *     for `--hours` class hours, in sessions of `--session-hours`, spread over `--days` days;
 *     `--concurrent-share` of the classrooms are in class at the same time (peak connections);
 *   - each classroom sends `--messages-per-minute` messages in total (chat, whiteboard), each from one
 *     member to all others: 1 inbound message + (members - 1) outbound, plus the sender's ack;
 *   - each connection pings every `--ping-minutes` (ping + pong), asks for history and presence when it
 *     connects, and reconnects `--reconnects-per-hour` times an hour (authorizer, $connect, $disconnect,
 *     join/leave announcements to the room); servers publish `--publishes-per-class-hour` via SQS.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONCURRENCY } from '../layers/shared/src/broadcaster';

const ROOT = join(__dirname, '..');
const HOURS_PER_MONTH = 730;
const GB = 1024 ** 3;

/** Warm handler times (ms) used when bench/results/latest.json has none (full run, 2-core Xeon, 2026-12-01). */
const DEFAULT_MS: Record<string, number> = {
  handler_ms_authorizer: 0.09,
  handler_ms_connect: 4.5,
  handler_ms_disconnect: 4.2,
  handler_ms_ping: 0.04,
  handler_ms_presence: 0.24,
  handler_ms_resume: 0.22,
  coldstart_load_ms_layer: 97,
  fanout_ms_1: 22.1,
  fanout_ms_10: 23.3,
  fanout_ms_30: 25.3,
  fanout_ms_100: 30.2,
  fanout_ms_300: 79.6,
};
/** Memory (MB) per function, from template.yaml (Globals 256; send-message 512; ping and default 128). */
const MEMORY_MB = {
  authorizer: 256,
  connect: 256,
  disconnect: 256,
  sendMessage: 512,
  ping: 128,
  resume: 256,
  presence: 256,
  publish: 256,
};
/** Posts in flight at once per invocation: the layer's broadcaster concurrency. */
const POST_CONCURRENCY = DEFAULT_CONCURRENCY;

interface Prices {
  date: string;
  region: string;
  caveat: string;
  aws: {
    apiGatewayWebSocket: {
      messagesPerMillion: number;
      messagesPerMillionAbove1B: number;
      connectionMinutesPerMillion: number;
      messageUnitBytes: number;
    };
    lambda: { arm64PerGbSecond: number; requestsPerMillion: number };
    elastiCache: { nodeHour: Record<string, Record<string, number>> };
    natGateway: { hour: number; perGbProcessed: number };
    dataTransfer: { outPerGb: number };
    sqs: { requestsPerMillion: number; requestUnitBytes: number };
    cloudWatch: {
      logsIngestionPerGb: number;
      logsStoragePerGbMonth: number;
      customMetricPerMonth: number;
      alarmPerMonth: number;
      dashboardPerMonth: number;
    };
    xRay: { tracesRecordedPerMillion: number };
    secretsManager: { secretPerMonth: number; apiCallsPer10k: number };
  };
  commercial: {
    name: string;
    source: string;
    asKnownOn: string;
    check: string;
    plans: { name: string; monthly: number; connections: number; messagesPerDay: number }[];
  };
}

const { values } = parseArgs({
  options: {
    classrooms: { type: 'string', default: '100' },
    'students-per-class': { type: 'string', default: '30' },
    'teachers-per-class': { type: 'string', default: '1' },
    hours: { type: 'string', default: '80' },
    'messages-per-minute': { type: 'string', default: '20' },
    days: { type: 'string', default: '20' },
    'session-hours': { type: 'string', default: '1' },
    'concurrent-share': { type: 'string', default: '1' },
    'message-bytes': { type: 'string', default: '300' },
    'ping-minutes': { type: 'string', default: '5' },
    'reconnects-per-hour': { type: 'string', default: '0.5' },
    'publishes-per-class-hour': { type: 'string', default: '2' },
    engine: { type: 'string', default: 'valkey' },
    'node-type': { type: 'string', default: 'cache.t4g.micro' },
    replicas: { type: 'string', default: '1' },
    'nat-gateways': { type: 'string', default: '1' },
    'post-rtt-ms': { type: 'string', default: '20' },
    'post-overhead-bytes': { type: 'string', default: '1500' },
    'log-bytes-per-invocation': { type: 'string', default: '1000' },
    'access-log-bytes': { type: 'string', default: '350' },
    'cold-starts-per-function-per-day': { type: 'string', default: '10' },
    'custom-metrics': { type: 'string', default: '52' },
    alarms: { type: 'string', default: '8' },
    results: { type: 'string', default: join(ROOT, 'bench', 'results', 'latest.json') },
    prices: { type: 'string', default: join(ROOT, 'bench', 'prices.json') },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(
    readFileSync(__filename, 'utf8')
      .split('*/')[0]
      ?.replace(/^\/\*\*?|^ \* ?/gm, ''),
  );
  process.exit(0);
}

function num(name: keyof typeof values, { min = 0, integer = false } = {}): number {
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    console.error(
      `--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${values[name]}"`,
    );
    process.exit(2);
  }
  return value;
}

const classrooms = num('classrooms', { min: 1, integer: true });
const students = num('students-per-class', { integer: true });
const teachers = num('teachers-per-class', { integer: true });
const hours = num('hours', { min: 0 });
const mpm = num('messages-per-minute');
const days = num('days', { min: 1 });
const sessionHours = num('session-hours', { min: 0.01 });
const concurrentShare = Math.min(1, num('concurrent-share', { min: 0.001 }));
const messageBytes = num('message-bytes', { min: 1 });
const pingMinutes = num('ping-minutes', { min: 0.1 });
const reconnectsPerHour = num('reconnects-per-hour');
const publishesPerClassHour = num('publishes-per-class-hour');
const replicas = num('replicas', { integer: true });
const natGateways = num('nat-gateways', { integer: true });
const postRttMs = num('post-rtt-ms');
const postOverheadBytes = num('post-overhead-bytes');
const logBytes = num('log-bytes-per-invocation');
const accessLogBytes = num('access-log-bytes');
const coldStartsPerDay = num('cold-starts-per-function-per-day');
const customMetrics = num('custom-metrics', { integer: true });
const alarms = num('alarms', { integer: true });

const prices = JSON.parse(readFileSync(values.prices as string, 'utf8')) as Prices;
const aws = prices.aws;

// ------------------------------------------------------------------ measured handler times
const measured = new Map<string, number>();
let measuredFrom = 'defaults in scripts/cost.ts (no bench/results/latest.json)';
if (existsSync(values.results as string)) {
  const results = JSON.parse(readFileSync(values.results as string, 'utf8')) as {
    figures: { key: string; value: unknown }[];
    date: string;
    machine: string;
  };
  for (const f of results.figures) if (typeof f.value === 'number') measured.set(f.key, f.value);
  measuredFrom = `${relative(process.cwd(), values.results as string) || values.results} (${results.date.slice(0, 10)}, ${results.machine})`;
}
const ms = (key: string) => measured.get(key) ?? (DEFAULT_MS[key] as number);

/** sendMessage time for n recipients: the measured fan-out (posts answered after 20 ms), interpolated. */
function sendMessageMs(recipients: number): number {
  const points = [1, 10, 30, 100, 300].map((n) => [n, ms(`fanout_ms_${n}`)] as const);
  if (recipients <= 1) return points[0]?.[1] as number;
  for (let i = 1; i < points.length; i++) {
    const [n1, v1] = points[i - 1] as readonly [number, number];
    const [n2, v2] = points[i] as readonly [number, number];
    if (recipients <= n2) return v1 + ((v2 - v1) * (recipients - n1)) / (n2 - n1);
  }
  const [nA, vA] = points[points.length - 2] as readonly [number, number];
  const [nB, vB] = points[points.length - 1] as readonly [number, number];
  return vB + ((vB - vA) * (recipients - nB)) / (nB - nA);
}
/** A handler measured against a management API answering at once, plus the AWS round trips of its posts. */
const withPosts = (handlerMs: number, posts: number) =>
  handlerMs + Math.ceil(posts / POST_CONCURRENCY) * postRttMs;

// ------------------------------------------------------------------ load
const members = students + teachers;
const others = Math.max(0, members - 1);
const connectionHours = classrooms * members * hours;
const connectionMinutes = connectionHours * 60;
const connects = classrooms * members * (hours / sessionHours + hours * reconnectsPerHour);
const messagesSent = classrooms * mpm * 60 * hours;
const pings = connectionMinutes / pingMinutes;
const publishes = classrooms * hours * publishesPerClassHour;
const units = (bytes: number) => Math.max(1, Math.ceil(bytes / aws.apiGatewayWebSocket.messageUnitBytes));
const historyBytes = Math.min(128 * 1024, 20 * messageBytes + 200);

// API Gateway messages: received from clients, and sent to them (posts and route responses).
const inbound = messagesSent + pings + 2 * connects; // + resume and presence on each connect
const deliveries = messagesSent * others;
const announcements = 2 * connects * others; // join and leave to the others in the room
const outboundSmall =
  deliveries +
  announcements +
  messagesSent /* acks */ +
  pings /* pongs */ +
  connects /* presence */ +
  publishes * others;
const apiMessages =
  inbound * units(messageBytes) + outboundSmall * units(messageBytes) + connects * units(historyBytes);

// Lambda invocations and billed duration (1 ms granularity, rounded up per invocation).
interface Fn {
  name: string;
  invocations: number;
  ms: number;
  memoryMb: number;
}
const fns: Fn[] = [
  {
    name: 'sendMessage',
    invocations: messagesSent,
    ms: sendMessageMs(others),
    memoryMb: MEMORY_MB.sendMessage,
  },
  {
    name: 'authorizer',
    invocations: connects,
    ms: ms('handler_ms_authorizer'),
    memoryMb: MEMORY_MB.authorizer,
  },
  {
    name: '$connect',
    invocations: connects,
    ms: withPosts(ms('handler_ms_connect'), others),
    memoryMb: MEMORY_MB.connect,
  },
  {
    name: '$disconnect',
    invocations: connects,
    ms: withPosts(ms('handler_ms_disconnect'), others),
    memoryMb: MEMORY_MB.disconnect,
  },
  { name: 'resume', invocations: connects, ms: ms('handler_ms_resume'), memoryMb: MEMORY_MB.resume },
  { name: 'presence', invocations: connects, ms: ms('handler_ms_presence'), memoryMb: MEMORY_MB.presence },
  { name: 'ping', invocations: pings, ms: ms('handler_ms_ping'), memoryMb: MEMORY_MB.ping },
  { name: 'publish', invocations: publishes, ms: sendMessageMs(others), memoryMb: MEMORY_MB.publish },
];
const billedMs = (f: Fn) => Math.max(1, Math.ceil(f.ms));
const gbSeconds = fns.reduce((sum, f) => sum + (f.invocations * billedMs(f) * f.memoryMb) / 1024 / 1000, 0);
const invocations = fns.reduce((sum, f) => sum + f.invocations, 0);
const initMs = ms('coldstart_load_ms_layer') + 150; // module load + runtime start (assumed 150 ms)
const initGbSeconds = fns.length * days * coldStartsPerDay * (initMs / 1000) * (256 / 1024);

// Network: every post leaves through the NAT gateway (to the execute-api endpoint), with HTTP/TLS/SigV4
// overhead; every outbound frame leaves API Gateway to the internet.
const posts = deliveries + announcements + connects + publishes * others;
const natGb = (posts * (messageBytes + postOverheadBytes)) / GB;
const dataOutGb = (outboundSmall * (messageBytes + 20) + connects * historyBytes) / GB;

// Wall-clock seconds in which some class runs (for the X-Ray reservoir of 1 trace a second per function).
const wallSeconds = (hours * 3600) / concurrentShare;
const xRayTraces = fns.reduce((sum, f) => {
  const reservoir = Math.min(f.invocations, wallSeconds);
  return sum + reservoir + 0.05 * (f.invocations - reservoir);
}, 0);

const apiRequests = inbound + connects * 2; // access log lines: messages, $connect, $disconnect
const logsGb = (invocations * logBytes + apiRequests * accessLogBytes) / GB;
const sqsRequests =
  publishes * 3 * Math.ceil(messageBytes / aws.sqs.requestUnitBytes) + 5 * 3 * 60 * HOURS_PER_MONTH;

const nodeHour = aws.elastiCache.nodeHour[values.engine as string]?.[values['node-type'] as string];
if (nodeHour === undefined) {
  console.error(`no price for ${values.engine} ${values['node-type']} in ${values.prices}`);
  process.exit(2);
}

// ------------------------------------------------------------------ bill
const apiMessagePrice = (n: number) =>
  (Math.min(n, 1e9) * aws.apiGatewayWebSocket.messagesPerMillion +
    Math.max(0, n - 1e9) * aws.apiGatewayWebSocket.messagesPerMillionAbove1B) /
  1e6;
const lines: { item: string; quantity: string; cost: number }[] = [
  {
    item: 'API Gateway: messages (32 KB units)',
    quantity: `${(apiMessages / 1e6).toFixed(2)} M`,
    cost: apiMessagePrice(apiMessages),
  },
  {
    item: 'API Gateway: connection minutes',
    quantity: `${(connectionMinutes / 1e6).toFixed(2)} M`,
    cost: (connectionMinutes / 1e6) * aws.apiGatewayWebSocket.connectionMinutesPerMillion,
  },
  {
    item: 'Lambda: requests',
    quantity: `${(invocations / 1e6).toFixed(2)} M`,
    cost: (invocations / 1e6) * aws.lambda.requestsPerMillion,
  },
  {
    item: 'Lambda: duration (arm64)',
    quantity: `${gbSeconds.toFixed(0)} GB-s`,
    cost: gbSeconds * aws.lambda.arm64PerGbSecond,
  },
  {
    item: 'Lambda: INIT (cold starts)',
    quantity: `${initGbSeconds.toFixed(0)} GB-s`,
    cost: initGbSeconds * aws.lambda.arm64PerGbSecond,
  },
  {
    item: `ElastiCache ${values.engine} ${values['node-type']} x ${replicas + 1}`,
    quantity: `${(replicas + 1) * HOURS_PER_MONTH} node-h`,
    cost: (replicas + 1) * HOURS_PER_MONTH * nodeHour,
  },
  {
    item: `NAT gateway x ${natGateways}: hours`,
    quantity: `${natGateways * HOURS_PER_MONTH} h`,
    cost: natGateways * HOURS_PER_MONTH * aws.natGateway.hour,
  },
  {
    item: 'NAT gateway: data processed',
    quantity: `${natGb.toFixed(2)} GB`,
    cost: natGb * aws.natGateway.perGbProcessed,
  },
  {
    item: 'Data transfer out (to clients)',
    quantity: `${dataOutGb.toFixed(2)} GB`,
    cost: dataOutGb * aws.dataTransfer.outPerGb,
  },
  {
    item: 'SQS requests (publish + polling)',
    quantity: `${(sqsRequests / 1e6).toFixed(2)} M`,
    cost: (sqsRequests / 1e6) * aws.sqs.requestsPerMillion,
  },
  {
    item: 'CloudWatch Logs: ingestion + storage',
    quantity: `${logsGb.toFixed(2)} GB`,
    cost: logsGb * (aws.cloudWatch.logsIngestionPerGb + aws.cloudWatch.logsStoragePerGbMonth),
  },
  {
    item: 'CloudWatch: metrics, alarms, dashboard',
    quantity: `${customMetrics} metrics, ${alarms} alarms`,
    cost:
      customMetrics * aws.cloudWatch.customMetricPerMonth +
      alarms * aws.cloudWatch.alarmPerMonth +
      aws.cloudWatch.dashboardPerMonth,
  },
  {
    item: 'X-Ray traces (Tracing: Active)',
    quantity: `${(xRayTraces / 1e6).toFixed(2)} M`,
    cost: (xRayTraces / 1e6) * aws.xRay.tracesRecordedPerMillion,
  },
  {
    item: 'Secrets Manager (JWT, Redis auth)',
    quantity: '2 secrets',
    cost: 2 * aws.secretsManager.secretPerMonth,
  },
];
const total = lines.reduce((sum, l) => sum + l.cost, 0);
const classroomHours = classrooms * hours;

// ------------------------------------------------------------------ commercial plan for the same load
const peakConnections = Math.ceil(classrooms * concurrentShare * members);
// Pusher: each published message + one per delivery; join/leave presence events to the others.
const pusherMessages = messagesSent * (1 + others) + announcements + publishes * (1 + others);
const perDay = pusherMessages / days;
const plan = prices.commercial.plans.find(
  (p) => p.connections >= peakConnections && p.messagesPerDay >= perDay,
);

const money = (n: number) => `$${n >= 100 ? n.toFixed(0) : n.toFixed(2)}`;
const model = {
  inputs: {
    classrooms,
    studentsPerClass: students,
    teachersPerClass: teachers,
    hoursPerMonth: hours,
    messagesPerMinutePerClass: mpm,
    days,
    sessionHours,
    concurrentShare,
    messageBytes,
  },
  handlerTimesFrom: measuredFrom,
  lambdaMs: Object.fromEntries(fns.map((f) => [f.name, Number(f.ms.toFixed(2))])),
  lines: lines.map((l) => ({ ...l, cost: Number(l.cost.toFixed(2)) })),
  total: Number(total.toFixed(2)),
  perClassroomHour: Number((total / classroomHours).toFixed(4)),
  perStudentHour: Number((total / (classroomHours * students || 1)).toFixed(5)),
  commercial: {
    name: prices.commercial.name,
    plan: plan?.name ?? 'Enterprise (contact sales: above the largest listed plan)',
    monthly: plan?.monthly ?? null,
    peakConnections,
    messagesPerDay: Math.round(perDay),
    source: `${prices.commercial.source}; as known on ${prices.commercial.asKnownOn}`,
  },
  prices: { date: prices.date, region: prices.region, caveat: prices.caveat },
};

if (values.json) {
  console.log(JSON.stringify(model, null, 2));
} else {
  const w = Math.max(...lines.map((l) => l.item.length));
  const q = Math.max(...lines.map((l) => l.quantity.length));
  console.log(
    `Monthly AWS bill: ${classrooms} classrooms x (${students} students + ${teachers} teacher${teachers === 1 ? '' : 's'}), ${hours} class hours/month over ${days} days, ${mpm} messages/min per class`,
  );
  console.log(
    `Prices: bench/prices.json (${prices.region}, as known on ${prices.date}; check them, free tiers not applied)`,
  );
  console.log(`Lambda times: ${measuredFrom}`);
  console.log(
    `  ${fns.map((f) => `${f.name} ${f.ms.toFixed(1)} ms`).join(', ')} (local, warm; AWS post round trip ${postRttMs} ms)\n`,
  );
  for (const l of lines)
    console.log(`  ${l.item.padEnd(w)}  ${l.quantity.padStart(q)}  ${money(l.cost).padStart(8)}`);
  console.log(`  ${'TOTAL'.padEnd(w)}  ${''.padStart(q)}  ${money(total).padStart(8)}`);
  console.log(
    `\n  per classroom-hour ${money(model.perClassroomHour)}, per student-hour $${model.perStudentHour.toFixed(5)}; fixed (ElastiCache, NAT, CloudWatch, secrets) ${money(lines.filter((l) => /ElastiCache|NAT gateway x|metrics|Secrets/.test(l.item)).reduce((s, l) => s + l.cost, 0))}`,
  );
  console.log(
    `\n${prices.commercial.name} for the same load: ${peakConnections} peak connections, ${(perDay / 1e6).toFixed(2)} M messages/day (${(pusherMessages / 1e6).toFixed(1)} M/month, counted as Pusher does)`,
  );
  console.log(
    plan
      ? `  plan ${plan.name}: ${money(plan.monthly)}/month (${plan.connections} connections, ${(plan.messagesPerDay / 1e6).toFixed(1)} M messages/day) = ${(plan.monthly / total).toFixed(2)}x this stack`
      : '  above the largest listed plan: Enterprise, price on request',
  );
  console.log(
    `  source: ${prices.commercial.source}; list prices as known on ${prices.commercial.asKnownOn}. ${prices.commercial.check}`,
  );
}
