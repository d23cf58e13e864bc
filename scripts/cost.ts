/**
 * `npm run cost -- [--profile standard|lean] [--load small|default|large] [--compare] [--check] [options]`
 *
 * The monthly AWS bill of this stack for a classroom load, line by line (fixed or per use, the API Gateway
 * floor marked), from the price table bench/prices.json (each price with its page, the date it was read and
 * whether it could be verified: lines using an unverified price are marked `?`, a price seen only for another
 * Region `†`), with Lambda durations from the benchmark's measured handler times (bench/results/latest.json),
 * and the same load priced on AWS AppSync Events, AWS IoT Core, Ably and Pusher Channels.
 *
 *   --profile standard  today's default template: CacheMode ReplicationGroup (Valkey cache.t4g.micro, 1 replica),
 *                       Egress Nat (1 shared NAT gateway + its public IPv4 address), X-Ray on, INFO logs,
 *                       52 custom metrics (12 EMF metrics + 8 routes x 5 API Gateway detailed metrics)
 *   --profile lean      CacheMode Serverless (Valkey), Egress Ipv6 (egress-only internet gateway, dual-stack
 *                       public endpoints, no NAT, no VPC endpoint), X-Ray off, WARN logs (application and
 *                       system), only the EMF metrics the alarms and dashboard of template.yaml read, no
 *                       detailed route metrics
 *   --profile dynamodb  Store=DynamoDB: no VPC, NAT, egress gateway or cache; one on-demand table (write and read
 *                       request units per operation measured by `npm run bench`, part [8], in
 *                       bench/results/latest.json; storage; point-in-time recovery off, --pitr true to add it),
 *                       Lambda and API Gateway as the other profiles, CloudWatch as lean (the DynamoDB alarms
 *                       instead of the cache's), one secret (the JWT key; no Redis auth secret)
 *   --load small|default|large   20 classes of 31 for 2 h/month at 10 msg/min | 100 classes, 80 h, 20 msg/min |
 *                       2,000 classes, 80 h, 20 msg/min (every flag below overrides the preset)
 *   --compare           the three loads x (standard, lean, dynamodb, AppSync Events, IoT Core, Ably, Pusher) table
 *   --markdown          with --compare: the table as Markdown (docs/cost.md)
 *   --check             the targets (lean <= $12/month and dynamodb <= $6/month for the small school; at the
 *                       default load everything beyond API Gateway's own charges <= 15 % of them, lean); exit 1
 *                       on a miss
 *   --free-tier         apply AWS's perpetual free tiers (CloudWatch, Lambda, SQS, X-Ray); never in --check
 *   --json              the model as JSON
 *
 * Load model (per month): every classroom has `--students-per-class` students and `--teachers-per-class`
 * teachers connected for `--hours` class hours, in sessions of `--session-hours`, over `--days` days;
 * `--concurrent-share` of the classrooms are in class at once (peak connections). Each classroom sends
 * `--messages-per-minute` messages in total, each from one member to all others (+ the sender's ack); a ping
 * every `--ping-minutes`; history (`--history-messages`) and presence on every connect; `--reconnects-per-hour`;
 * join and leave announced to the room; `--publishes-per-class-hour` server publishes through SQS.
 * Profile overrides: --cache-mode ReplicationGroup|Cluster|Serverless, --engine, --node-type, --replicas,
 * --shards, --egress Nat|Ipv6, --nat-gateways, --xray true|false, --custom-metrics, --alarm-metrics,
 * --vpc-endpoints, --log-bytes-per-invocation, --pitr true|false (dynamodb). docs/cost.md justifies every usage
 * figure.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_CONCURRENCY } from '../layers/shared/src/management-api';

const ROOT = join(__dirname, '..');
export const HOURS_PER_MONTH = 730;
const GB = 1024 ** 3;

// ------------------------------------------------------------------ prices
export type PriceStatus = 'verified' | 'other-region' | 'unverified';
export interface Price {
  value: number;
  unit: string;
  source: string;
  read: string;
  status: PriceStatus;
  evidence: string;
  note?: string;
}
export interface PusherPlan {
  name: string;
  monthly: number;
  connections: number;
  messagesPerDay: number;
}
export interface PriceTable {
  region: string;
  read: string;
  caveat: string;
  prices: Record<string, Price>;
  pusher: { source: string; read: string; status: PriceStatus; evidence: string; plans: PusherPlan[] };
  freeTier: {
    status: PriceStatus;
    cloudWatchMetrics: number;
    cloudWatchAlarmMetrics: number;
    cloudWatchDashboards: number;
    cloudWatchLogsGb: number;
    lambdaRequests: number;
    lambdaGbSeconds: number;
    sqsRequests: number;
    xRayTraces: number;
  };
}

export function priceOf(table: PriceTable, key: string): number {
  const price = table.prices[key];
  if (!price) throw new Error(`bench/prices.json has no price "${key}"`);
  return price.value;
}

/** `?` when a line uses an unverified price, `†` when one was seen only for another Region, else ''. */
export function markOf(table: PriceTable, keys: readonly string[]): string {
  const statuses = keys.map((k) => table.prices[k]?.status ?? 'unverified');
  if (statuses.includes('unverified')) return '?';
  if (statuses.includes('other-region')) return '†';
  return '';
}

// ------------------------------------------------------------------ loads and profiles
export interface Load {
  classrooms: number;
  students: number;
  teachers: number;
  hours: number;
  messagesPerMinute: number;
  days: number;
  sessionHours: number;
  concurrentShare: number;
  messageBytes: number;
  pingMinutes: number;
  reconnectsPerHour: number;
  publishesPerClassHour: number;
  historyMessages: number;
}
const BASE_LOAD: Load = {
  classrooms: 100,
  students: 30,
  teachers: 1,
  hours: 80,
  messagesPerMinute: 20,
  days: 20,
  sessionHours: 1,
  concurrentShare: 1,
  messageBytes: 300,
  pingMinutes: 5,
  reconnectsPerHour: 0.5,
  publishesPerClassHour: 2,
  historyMessages: 20,
};
export const LOADS = {
  small: { ...BASE_LOAD, classrooms: 20, hours: 2, messagesPerMinute: 10 },
  default: { ...BASE_LOAD },
  large: { ...BASE_LOAD, classrooms: 2000 },
} satisfies Record<string, Load>;
export type LoadName = keyof typeof LOADS;
export const LOAD_LABELS: Record<LoadName, string> = {
  small: 'small school: 20 classes of 31, 2 h/month, 10 msg/min',
  default: 'default: 100 classes of 31, 80 h/month, 20 msg/min',
  large: 'large: 2,000 classes of 31, 80 h/month, 20 msg/min',
};

export type CacheMode = 'ReplicationGroup' | 'Cluster' | 'Serverless';
export interface Profile {
  name: string;
  cacheMode: CacheMode;
  engine: 'valkey' | 'redis';
  nodeType: string;
  replicas: number;
  shards: number;
  /** `None`: the functions run outside a VPC (Store=DynamoDB). */
  egress: 'Nat' | 'Ipv6' | 'None';
  natGateways: number;
  xRay: boolean;
  logLevel: 'INFO' | 'WARN';
  /** Log bytes of every invocation at INFO (platform START/REPORT records, EMF and application lines). */
  logBytesPerInvocation: number;
  /** Bytes of one EMF line, logged by an invocation that records a metric (kept at WARN: written to stdout). */
  emfBytes: number;
  accessLogBytes: number;
  /** Custom metrics billed a month; `template`: the EMF metrics template.yaml's alarms and dashboard read. */
  customMetrics: number | 'template';
  alarmMetrics: number;
  dashboards: number;
  secrets: number;
  vpcEndpoints: number;
  availabilityZones: number;
  /** The classroom store (template parameter Store); ElastiCache unless said. */
  store?: 'ElastiCache' | 'DynamoDB';
  /** DynamoDB continuous backups (PointInTimeRecovery), billed per GB-month. */
  pointInTimeRecovery?: boolean;
}
export const PROFILES = {
  standard: {
    name: 'standard',
    cacheMode: 'ReplicationGroup',
    engine: 'valkey',
    nodeType: 'cache.t4g.micro',
    replicas: 1,
    shards: 1,
    egress: 'Nat',
    natGateways: 1,
    xRay: true,
    logLevel: 'INFO',
    logBytesPerInvocation: 1000,
    emfBytes: 0,
    accessLogBytes: 350,
    customMetrics: 52,
    // HandlerErrors 1, LambdaErrors 9 (metric math over 9 functions), IntegrationError 1, ExecutionError 1,
    // FailedDeliveries 1, dead-letter queue 1, Redis CPU/memory/evictions/replication lag x 2 nodes.
    alarmMetrics: 22,
    dashboards: 1,
    secrets: 2,
    vpcEndpoints: 0,
    availabilityZones: 2,
  },
  lean: {
    name: 'lean',
    cacheMode: 'Serverless',
    engine: 'valkey',
    nodeType: 'serverless',
    replicas: 0,
    shards: 1,
    egress: 'Ipv6',
    natGateways: 0,
    xRay: false,
    logLevel: 'WARN',
    logBytesPerInvocation: 0,
    emfBytes: 280,
    accessLogBytes: 350,
    customMetrics: 'template',
    // template.yaml's CacheMode=Serverless alarms: HandlerErrors, LambdaErrors (9), IntegrationError,
    // ExecutionError, FailedDeliveries, dead-letter queue, MessagesUnavailable, queue age, and the serverless
    // cache's storage, ECPU, throttled commands and evictions.
    alarmMetrics: 20,
    // DashboardEnabled=false: the alarms do not need it, and at $3 it is a fifth of the small school's bill.
    dashboards: 0,
    secrets: 2,
    vpcEndpoints: 0,
    availabilityZones: 2,
  },
  dynamodb: {
    name: 'dynamodb',
    store: 'DynamoDB',
    // No cache: the cache fields are not used with store DynamoDB.
    cacheMode: 'Serverless',
    engine: 'valkey',
    nodeType: 'none',
    replicas: 0,
    shards: 1,
    egress: 'None',
    natGateways: 0,
    xRay: false,
    logLevel: 'WARN',
    logBytesPerInvocation: 0,
    emfBytes: 280,
    accessLogBytes: 350,
    customMetrics: 'template',
    // template.yaml with Store=DynamoDB: the 16 alarm metrics of lean without the cache's 4 (HandlerErrors,
    // LambdaErrors (9), IntegrationError, ExecutionError, FailedDeliveries, dead-letter queue,
    // MessagesUnavailable, queue age), + the table's write and read throttle events and SystemErrors summed
    // over the store's 6 operations (metric math).
    alarmMetrics: 24,
    dashboards: 0,
    // The JWT signing key; the Redis auth secret exists only with Store=ElastiCache.
    secrets: 1,
    vpcEndpoints: 0,
    availabilityZones: 2,
    pointInTimeRecovery: false,
  },
} satisfies Record<string, Profile>;
export type ProfileName = keyof typeof PROFILES;

/** EMF metrics (namespace ClassroomRealtime) that template.yaml's alarms and dashboard read. */
export function templateMetricNames(template: string, namespace = 'ClassroomRealtime'): string[] {
  const names = new Set<string>();
  // Dashboard JSON: ["Namespace","Metric",...] and [".","Metric",...] (same namespace as the row before).
  for (const widget of template.split('"metrics":[').slice(1)) {
    let current = '';
    for (const row of widget.matchAll(/\[\s*"([^"]+)"\s*,\s*"([^"]+)"/g)) {
      const [, ns, metric] = row as unknown as [string, string, string];
      if (ns === '...') continue;
      if (ns !== '.') current = ns;
      if (current === namespace && metric !== '.') names.add(metric);
    }
  }
  // Alarms (YAML, block or flow style): the last `Namespace:` before each `MetricName:`.
  let current = '';
  for (const match of template.matchAll(/\b(Namespace|MetricName):\s*"?([\w/.-]+)"?/g)) {
    const [, key, value] = match as unknown as [string, string, string];
    if (key === 'Namespace') current = value;
    else if (current === namespace) names.add(value);
  }
  return [...names].sort();
}

/** The metric names layers/shared/src/observability.ts can emit (its `Metric` object). */
export function emittedMetricNames(source: string): string[] {
  const block = /export const Metric = \{([\s\S]*?)\} as const/.exec(source)?.[1] ?? '';
  return [...block.matchAll(/^\s*(\w+):\s*'(\w+)'/gm)].map((m) => m[2] as string).sort();
}

export function resolveProfile(
  profile: Profile,
  template: string | undefined,
): Profile & { customMetrics: number } {
  if (profile.customMetrics !== 'template') return profile as Profile & { customMetrics: number };
  const names = template ? templateMetricNames(template) : [];
  return { ...profile, customMetrics: names.length > 0 ? names.length : 13 };
}

// ------------------------------------------------------------------ measured handler times
/** Warm handler times (ms) used when bench/results/latest.json lacks them (full run, 2-core Xeon, 2026-12-01). */
export const DEFAULT_MEASURED: Record<string, number> = {
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
  redis_commands_send: 18,
  redis_commands_connect: 15,
  redis_commands_disconnect: 11,
  history_bytes_per_message: 406,
  history_frame_bytes: 302,
  redis_bytes_per_connection: 118,
};
export type Measured = (key: string) => number;
export function measuredFrom(figures: Map<string, number>): Measured {
  return (key) => figures.get(key) ?? (DEFAULT_MEASURED[key] as number);
}

/**
 * Per function: its memory (MB), from template.yaml (Globals 256; send-message 512; ping 128), and whether
 * it records an EMF metric on (almost) every invocation.
 */
const FUNCTIONS = {
  sendMessage: { memoryMb: 512, emitsMetric: true },
  authorizer: { memoryMb: 256, emitsMetric: false },
  $connect: { memoryMb: 256, emitsMetric: true },
  $disconnect: { memoryMb: 256, emitsMetric: true },
  resume: { memoryMb: 256, emitsMetric: false },
  presence: { memoryMb: 256, emitsMetric: false },
  ping: { memoryMb: 128, emitsMetric: false },
  publish: { memoryMb: 256, emitsMetric: true },
};

/** sendMessage time for n recipients: the measured fan-out (posts answered after 20 ms), interpolated. */
export function sendMessageMs(ms: Measured, recipients: number): number {
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

// ------------------------------------------------------------------ usage
export interface Fn {
  name: string;
  invocations: number;
  ms: number;
  memoryMb: number;
  /** Records an EMF metric on (almost) every invocation. */
  emitsMetric: boolean;
  /** ElastiCache Serverless processing units per invocation: 1 per command + 1 per KB moved. */
  ecpu: number;
}
export interface Usage {
  members: number;
  others: number;
  connectionMinutes: number;
  connects: number;
  messagesSent: number;
  pings: number;
  publishes: number;
  deliveries: number;
  announcements: number;
  inbound: number;
  outboundSmall: number;
  historyBytes: number;
  apiMessages: number;
  fns: Fn[];
  posts: number;
  postGb: number;
  dataOutGb: number;
  wallSeconds: number;
  apiRequests: number;
  peakConnections: number;
  cachedGb: number;
}

export function usageOf(load: Load, ms: Measured, postRttMs = 20, postOverheadBytes = 1500): Usage {
  const members = load.students + load.teachers;
  const others = Math.max(0, members - 1);
  const connectionMinutes = load.classrooms * members * load.hours * 60;
  const connects =
    load.classrooms * members * (load.hours / load.sessionHours + load.hours * load.reconnectsPerHour);
  const messagesSent = load.classrooms * load.messagesPerMinute * 60 * load.hours;
  const pings = connectionMinutes / load.pingMinutes;
  const publishes = load.classrooms * load.hours * load.publishesPerClassHour;
  const unit = 32768;
  const units = (bytes: number) => Math.max(1, Math.ceil(bytes / unit));
  const historyBytes = Math.min(128 * 1024, load.historyMessages * ms('history_frame_bytes') + 200);
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
    inbound * units(load.messageBytes) +
    outboundSmall * units(load.messageBytes) +
    connects * units(historyBytes);
  const withPosts = (handlerMs: number, posts: number) =>
    handlerMs + Math.ceil(posts / DEFAULT_CONCURRENCY) * postRttMs;
  const kb = (bytes: number) => bytes / 1024;
  const sendEcpu = ms('redis_commands_send') + kb(load.messageBytes + others * 40 + 200);
  /** A function's line: `ecpu` is ElastiCache Serverless processing units per invocation. */
  const fn = (name: keyof typeof FUNCTIONS, invocations: number, durationMs: number, ecpu: number): Fn => ({
    name,
    invocations,
    ms: durationMs,
    ...FUNCTIONS[name],
    ecpu,
  });
  const fns: Fn[] = [
    fn('sendMessage', messagesSent, sendMessageMs(ms, others), sendEcpu),
    fn('authorizer', connects, ms('handler_ms_authorizer'), 0),
    fn(
      '$connect',
      connects,
      withPosts(ms('handler_ms_connect'), others),
      ms('redis_commands_connect') + kb(others * 40 + 300),
    ),
    fn(
      '$disconnect',
      connects,
      withPosts(ms('handler_ms_disconnect'), others),
      ms('redis_commands_disconnect') + kb(others * 40 + 300),
    ),
    fn('resume', connects, ms('handler_ms_resume'), 3 + kb(historyBytes)),
    fn('presence', connects, ms('handler_ms_presence'), 2 + kb(members * 60)),
    fn('ping', pings, ms('handler_ms_ping'), 0),
    fn('publish', publishes, sendMessageMs(ms, others), sendEcpu + 2),
  ];
  // Every post leaves the VPC (NAT gateway, or the egress-only gateway over IPv6) to the execute-api
  // endpoint, with HTTP/TLS/SigV4 overhead; every outbound frame leaves API Gateway to the internet.
  const posts = deliveries + announcements + connects + publishes * others;
  const postGb = (posts * (load.messageBytes + postOverheadBytes)) / GB;
  const dataOutGb = (outboundSmall * (load.messageBytes + 20) + connects * historyBytes) / GB;
  const wallSeconds = (load.hours * 3600) / load.concurrentShare;
  const apiRequests = inbound + connects * 2; // access log lines: messages, $connect, $disconnect
  const peakConnections = Math.ceil(load.classrooms * load.concurrentShare * members);
  // Data stored in the cache: each room's log (ROOM_HISTORY_LIMIT 1000 messages, at the measured bytes per
  // message) and its connections, assumed present all month (rooms expire 24 h after their last activity).
  const messagesPerClassDay = (load.messagesPerMinute * 60 * load.hours) / load.days;
  const roomBytes = Math.min(1000, messagesPerClassDay) * ms('history_bytes_per_message');
  const cachedGb = (load.classrooms * roomBytes + peakConnections * ms('redis_bytes_per_connection')) / GB;
  return {
    members,
    others,
    connectionMinutes,
    connects,
    messagesSent,
    pings,
    publishes,
    deliveries,
    announcements,
    inbound,
    outboundSmall,
    historyBytes,
    apiMessages,
    fns,
    posts,
    postGb,
    dataOutGb,
    wallSeconds,
    apiRequests,
    peakConnections,
    cachedGb,
  };
}

// ------------------------------------------------------------------ DynamoDB request units
/**
 * DynamoDB round trips per operation (sequential calls; parallel ones count once), as the store's header
 * documents them (layers/shared/src/dynamo-store.ts): they lengthen the Lambda durations on DynamoDB.
 */
export const DYNAMODB_ROUND_TRIPS: Readonly<Record<string, number>> = {
  sendMessage: 3,
  $connect: 2,
  $disconnect: 1,
  resume: 2,
  presence: 1,
  publish: 3,
};
/**
 * Assumed time of one DynamoDB round trip from a function in the same Region. Not measured: the bench's
 * DynamoDB is moto on this machine, whose latency is not the service's.
 */
export const DYNAMODB_ROUND_TRIP_MS = 5;
/** ROOM_HISTORY_LIMIT's default: past it, every stored message also trims the oldest one. */
export const ROOM_HISTORY_LIMIT = 1000;

export interface DynamoUnits {
  /** Write and read request units per invocation, by function. */
  perFn: Record<string, { wru: number; rru: number }>;
  wru: number;
  rru: number;
  storedGb: number;
  /** Share of the messages stored into a room at its history limit. */
  atLimitShare: number;
}

/**
 * The load's DynamoDB request units a month, from the units per operation `npm run bench` measured
 * (bench/results/latest.json, part [8]; never typed here: a missing figure is an error). Each class day
 * starts with an empty log (rooms expire 24 h after their last activity, as the cache sizes assume); the
 * messages beyond ROOM_HISTORY_LIMIT in a day cost the at-limit figure. resume is interpolated between the
 * measured 20 and 100 messages. Measured in rooms of 30: the members Query of a room of 31 reads the same
 * 4 KB units.
 */
export function dynamoUnitsOf(load: Load, u: Usage, ms: Measured): DynamoUnits {
  const need = (key: string): number => {
    const value = ms(key);
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new Error(
        `bench/results/latest.json has no ${key}: run npm run bench (part [8], the DynamoDB store) first`,
      );
    return value;
  };
  const perClassDay = (load.messagesPerMinute * 60 * load.hours) / load.days;
  const atLimitShare =
    perClassDay > ROOM_HISTORY_LIMIT ? (perClassDay - ROOM_HISTORY_LIMIT) / perClassDay : 0;
  const op = (name: string) => ({ wru: need(`dynamodb_wcu_${name}`), rru: need(`dynamodb_rcu_${name}`) });
  const send = op('send_room30');
  const sendAtLimit = op('send_room30_at_limit');
  const r20 = op('resume_20');
  const r100 = op('resume_100');
  const along = (a: number, b: number) => Math.max(0, a + ((b - a) * (load.historyMessages - 20)) / 80);
  const perFn: Record<string, { wru: number; rru: number }> = {
    sendMessage: {
      wru: send.wru * (1 - atLimitShare) + sendAtLimit.wru * atLimitShare,
      rru: send.rru * (1 - atLimitShare) + sendAtLimit.rru * atLimitShare,
    },
    authorizer: { wru: 0, rru: 0 },
    $connect: op('connect'),
    $disconnect: op('disconnect'),
    resume: { wru: along(r20.wru, r100.wru), rru: Math.max(1, along(r20.rru, r100.rru)) },
    presence: op('presence_room30'),
    ping: { wru: 0, rru: 0 },
    publish: op('publish_room30'),
  };
  let wru = 0;
  let rru = 0;
  for (const f of u.fns) {
    const units = perFn[f.name];
    if (!units) throw new Error(`no DynamoDB units for function ${f.name}`);
    wru += f.invocations * units.wru;
    rru += f.invocations * units.rru;
  }
  const storedGb =
    (load.classrooms * Math.min(ROOM_HISTORY_LIMIT, perClassDay) * need('dynamodb_bytes_per_message_item') +
      u.peakConnections * need('dynamodb_bytes_per_member_item')) /
    GB;
  return { perFn, wru, rru, storedGb, atLimitShare };
}

// ------------------------------------------------------------------ bill
export type Kind = 'fixed' | 'use';
export interface Line {
  item: string;
  quantity: string;
  cost: number;
  kind: Kind;
  /** API Gateway's own charges: the floor of this architecture. */
  floor: boolean;
  prices: string[];
  mark: string;
}
export interface Bill {
  profile: Profile & { customMetrics: number };
  lines: Line[];
  total: number;
  floor: number;
  beyondFloor: number;
  beyondShare: number;
  fixed: number;
}

const millions = (n: number) => `${(n / 1e6).toFixed(2)} M`;

export function billOf(
  load: Load,
  profile: Profile & { customMetrics: number },
  table: PriceTable,
  ms: Measured,
  options: { freeTier?: boolean; coldStartsPerFunctionPerDay?: number } = {},
): Bill {
  const u = usageOf(load, ms);
  const dynamo = profile.store === 'DynamoDB';
  // On DynamoDB every store round trip leaves the function's host: its (assumed) time adds to the duration.
  const fns = dynamo
    ? u.fns.map((f) => ({ ...f, ms: f.ms + (DYNAMODB_ROUND_TRIPS[f.name] ?? 0) * DYNAMODB_ROUND_TRIP_MS }))
    : u.fns;
  const p = (key: string) => priceOf(table, key);
  const lines: Line[] = [];
  const add = (item: string, quantity: string, cost: number, kind: Kind, prices: string[], floor = false) =>
    lines.push({ item, quantity, cost, kind, floor, prices, mark: markOf(table, prices) });
  /** A line of one price: `amount` (in the price's unit) times the price `key`. */
  const priced = (item: string, quantity: string, amount: number, key: string, kind: Kind) =>
    add(item, quantity, amount * p(key), kind, [key]);
  const free = options.freeTier ? table.freeTier : undefined;

  // API Gateway: the floor.
  const n = u.apiMessages;
  add(
    'API Gateway: messages (32 KB units)',
    millions(n),
    (Math.min(n, 1e9) * p('apiGateway.messagesPerMillion') +
      Math.max(0, n - 1e9) * p('apiGateway.messagesPerMillionAbove1B')) /
      1e6,
    'use',
    n > 1e9
      ? [
          'apiGateway.messagesPerMillion',
          'apiGateway.messagesPerMillionAbove1B',
          'apiGateway.messageUnitBytes',
        ]
      : ['apiGateway.messagesPerMillion', 'apiGateway.messageUnitBytes'],
    true,
  );
  add(
    'API Gateway: connection minutes',
    millions(u.connectionMinutes),
    (u.connectionMinutes / 1e6) * p('apiGateway.connectionMinutesPerMillion'),
    'use',
    ['apiGateway.connectionMinutesPerMillion'],
    true,
  );

  // Lambda (1 ms billing, rounded up per invocation; INIT billed as duration since August 2025).
  const invocations = fns.reduce((s, f) => s + f.invocations, 0);
  const billedMs = (f: Fn) => Math.max(1, Math.ceil(f.ms));
  const gbSeconds = fns.reduce((s, f) => s + (f.invocations * billedMs(f) * f.memoryMb) / 1024 / 1000, 0);
  const coldStarts = options.coldStartsPerFunctionPerDay ?? 10;
  const initMs = ms('coldstart_load_ms_layer') + 150; // module load + runtime start (assumed 150 ms)
  const initGbSeconds = fns.length * load.days * coldStarts * (initMs / 1000) * (256 / 1024);
  const freeRequests = free?.lambdaRequests ?? 0;
  const freeGbS = free?.lambdaGbSeconds ?? 0;
  priced(
    'Lambda: requests',
    millions(invocations),
    Math.max(0, invocations - freeRequests) / 1e6,
    'lambda.requestsPerMillion',
    'use',
  );
  priced(
    'Lambda: duration + INIT (arm64)',
    `${(gbSeconds + initGbSeconds).toFixed(0)} GB-s`,
    Math.max(0, gbSeconds + initGbSeconds - freeGbS),
    'lambda.arm64PerGbSecond',
    'use',
  );

  // The store: the table, or the cache.
  if (dynamo) {
    const d = dynamoUnitsOf(load, u, ms);
    priced(
      'DynamoDB on demand: write request units',
      millions(d.wru),
      d.wru / 1e6,
      'dynamoDb.writeRequestUnitsPerMillion',
      'use',
    );
    priced(
      'DynamoDB on demand: read request units (strongly consistent)',
      millions(d.rru),
      d.rru / 1e6,
      'dynamoDb.readRequestUnitsPerMillion',
      'use',
    );
    priced(
      'DynamoDB: table storage (history, members)',
      `${d.storedGb.toFixed(3)} GB-month`,
      d.storedGb,
      'dynamoDb.storagePerGbMonth',
      'use',
    );
    if (profile.pointInTimeRecovery)
      priced(
        'DynamoDB: point-in-time recovery',
        `${d.storedGb.toFixed(3)} GB-month`,
        d.storedGb,
        'dynamoDb.pitrPerGbMonth',
        'use',
      );
  } else if (profile.cacheMode === 'Serverless') {
    const key = `elastiCache.serverless.${profile.engine}`;
    const minGb = p(`${key}.minimumGb`);
    const gb = Math.max(minGb, u.cachedGb);
    add(
      `ElastiCache Serverless ${profile.engine}: data stored${u.cachedGb < minGb ? ' (the minimum)' : ''}`,
      `${gb.toFixed(2)} GB x ${HOURS_PER_MONTH} h`,
      gb * HOURS_PER_MONTH * p(`${key}.dataStoredPerGbHour`),
      u.cachedGb < minGb ? 'fixed' : 'use',
      [`${key}.dataStoredPerGbHour`, `${key}.minimumGb`],
    );
    const ecpu = fns.reduce((s, f) => s + f.invocations * f.ecpu, 0);
    add(
      `ElastiCache Serverless ${profile.engine}: ECPUs`,
      millions(ecpu),
      (ecpu / 1e6) * p(`${key}.ecpuPerMillion`),
      'use',
      [`${key}.ecpuPerMillion`],
    );
  } else {
    const nodes = (profile.cacheMode === 'Cluster' ? profile.shards : 1) * (profile.replicas + 1);
    const key = `elastiCache.node.${profile.engine}.${profile.nodeType}`;
    add(
      `ElastiCache ${profile.cacheMode} ${profile.engine} ${profile.nodeType} x ${nodes}`,
      `${nodes * HOURS_PER_MONTH} node-h`,
      nodes * HOURS_PER_MONTH * p(key),
      'fixed',
      [key],
    );
  }

  // Egress from the VPC (none outside one).
  if (profile.egress === 'None') {
    priced(
      'Posts to execute-api from outside a VPC (same Region)',
      `${u.postGb.toFixed(2)} GB`,
      u.postGb,
      'dataTransfer.sameRegionServicePerGb',
      'use',
    );
  } else if (profile.egress === 'Nat') {
    const nat = profile.natGateways;
    priced(
      `NAT gateway x ${nat}: hours`,
      `${nat * HOURS_PER_MONTH} h`,
      nat * HOURS_PER_MONTH,
      'natGateway.hour',
      'fixed',
    );
    priced(
      `NAT gateway x ${nat}: public IPv4 address`,
      `${nat * HOURS_PER_MONTH} IP-h`,
      nat * HOURS_PER_MONTH,
      'vpc.publicIpv4PerHour',
      'fixed',
    );
    priced(
      'NAT gateway: data processed (posts to execute-api)',
      `${u.postGb.toFixed(2)} GB`,
      u.postGb,
      'natGateway.perGbProcessed',
      'use',
    );
  } else {
    priced(
      'Egress-only internet gateway (IPv6)',
      `${HOURS_PER_MONTH} h`,
      HOURS_PER_MONTH,
      'vpc.egressOnlyGatewayHour',
      'fixed',
    );
    priced(
      'Posts to execute-api over IPv6 (same Region)',
      `${u.postGb.toFixed(2)} GB`,
      u.postGb,
      'dataTransfer.sameRegionServicePerGb',
      'use',
    );
  }
  if (profile.vpcEndpoints > 0) {
    const hours = profile.vpcEndpoints * profile.availabilityZones * HOURS_PER_MONTH;
    priced(
      `VPC interface endpoints x ${profile.vpcEndpoints} (${profile.availabilityZones} AZs)`,
      `${hours} AZ-h`,
      hours,
      'vpc.interfaceEndpointAzHour',
      'fixed',
    );
  }
  priced(
    'Data transfer out (frames to clients)',
    `${u.dataOutGb.toFixed(2)} GB`,
    u.dataOutGb,
    'dataTransfer.outPerGb',
    'use',
  );

  // SQS: publishes (send, receive, delete per 64 KB chunk) + the event source mapping's long polling
  // (5 pollers, a 20 s wait: 15 requests a minute, all month).
  const sqsPublish = u.publishes * 3 * Math.ceil(load.messageBytes / p('sqs.requestUnitBytes'));
  const sqsPolling = 5 * 3 * 60 * HOURS_PER_MONTH;
  const sqsFree = free?.sqsRequests ?? 0;
  priced(
    'SQS: long polling by the publish function',
    millions(sqsPolling),
    Math.max(0, sqsPolling - sqsFree) / 1e6,
    'sqs.requestsPerMillion',
    'fixed',
  );
  add(
    'SQS: publishes',
    millions(sqsPublish),
    (Math.max(0, sqsPublish - Math.max(0, sqsFree - sqsPolling)) / 1e6) * p('sqs.requestsPerMillion'),
    'use',
    ['sqs.requestsPerMillion', 'sqs.requestUnitBytes'],
  );

  // CloudWatch Logs: function logs and API access logs, ingested and kept a month.
  const functionLogBytes =
    profile.logLevel === 'INFO'
      ? invocations * profile.logBytesPerInvocation
      : fns.reduce((s, f) => s + (f.emitsMetric ? f.invocations * profile.emfBytes : 0), 0);
  const logsGb = (functionLogBytes + u.apiRequests * profile.accessLogBytes) / GB;
  const logsFree = free?.cloudWatchLogsGb ?? 0;
  add(
    `CloudWatch Logs (${profile.logLevel === 'INFO' ? 'INFO function logs' : 'function logs without platform records (SystemLogLevel=WARN)'} + access logs)`,
    `${logsGb.toFixed(2)} GB`,
    Math.max(0, logsGb - logsFree) * p('cloudWatch.logsIngestionPerGb') +
      logsGb * p('cloudWatch.logsStoragePerGbMonth'),
    'use',
    ['cloudWatch.logsIngestionPerGb', 'cloudWatch.logsStoragePerGbMonth'],
  );
  add(
    'CloudWatch: custom metrics',
    `${profile.customMetrics} metrics`,
    Math.max(0, profile.customMetrics - (free?.cloudWatchMetrics ?? 0)) *
      p('cloudWatch.customMetricPerMonth'),
    'fixed',
    ['cloudWatch.customMetricPerMonth'],
  );
  add(
    'CloudWatch: alarms',
    `${profile.alarmMetrics} alarm metrics`,
    Math.max(0, profile.alarmMetrics - (free?.cloudWatchAlarmMetrics ?? 0)) *
      p('cloudWatch.alarmMetricPerMonth'),
    'fixed',
    ['cloudWatch.alarmMetricPerMonth'],
  );
  priced(
    'CloudWatch: dashboard',
    `${profile.dashboards}`,
    Math.max(0, profile.dashboards - (free?.cloudWatchDashboards ?? 0)),
    'cloudWatch.dashboardPerMonth',
    'fixed',
  );
  if (profile.xRay) {
    // The default sampling rule: 1 request a second per function (reservoir) and 5% of the rest.
    const traces = fns.reduce((s, f) => {
      const reservoir = Math.min(f.invocations, u.wallSeconds);
      return s + reservoir + 0.05 * (f.invocations - reservoir);
    }, 0);
    priced(
      'X-Ray traces (Tracing: Active)',
      millions(traces),
      Math.max(0, traces - (free?.xRayTraces ?? 0)) / 1e6,
      'xRay.tracesRecordedPerMillion',
      'use',
    );
  }
  const secretCalls = fns.length * load.days * coldStarts;
  add(
    `Secrets Manager (${profile.secrets} secrets, read on cold start)`,
    `${profile.secrets} secrets`,
    profile.secrets * p('secretsManager.secretPerMonth') +
      (secretCalls / 1e4) * p('secretsManager.apiCallsPer10k'),
    'fixed',
    ['secretsManager.secretPerMonth', 'secretsManager.apiCallsPer10k'],
  );

  const total = lines.reduce((s, l) => s + l.cost, 0);
  const floor = lines.filter((l) => l.floor).reduce((s, l) => s + l.cost, 0);
  const fixed = lines.filter((l) => l.kind === 'fixed').reduce((s, l) => s + l.cost, 0);
  return {
    profile,
    lines,
    total,
    floor,
    beyondFloor: total - floor,
    beyondShare: floor > 0 ? (total - floor) / floor : Number.POSITIVE_INFINITY,
    fixed,
  };
}

// ------------------------------------------------------------------ the same load elsewhere
export interface Alternative {
  name: string;
  /** null: no listed price carries the load (an Enterprise contract). */
  total: number | null;
  detail: string;
  mark: string;
  lines: { item: string; quantity: string; cost: number }[];
}

/** A line priced per million of `count`, at the price `key` (per million). */
function perMillion(table: PriceTable, item: string, count: number, key: string) {
  return { item, quantity: millions(count), cost: (count / 1e6) * priceOf(table, key) };
}

/** AWS AppSync Events: a publish and a delivery to every subscriber (the sender too) are operations. */
export function appSyncEvents(load: Load, table: PriceTable, ms: Measured): Alternative {
  const u = usageOf(load, ms);
  const p = (key: string) => priceOf(table, key);
  const ops =
    u.messagesSent * (1 + u.members) + // publish + broadcast to every subscriber of the room's channel
    u.connects * 2 + // connect + subscribe
    u.connects * 2 * (1 + u.members) + // join and leave published to the room
    u.publishes * (1 + u.members);
  const lines = [
    perMillion(table, 'Event API operations', ops, 'appSyncEvents.operationsPerMillion'),
    perMillion(table, 'connection minutes', u.connectionMinutes, 'appSyncEvents.connectionMinutesPerMillion'),
    {
      item: 'data transfer out (EC2 rate)',
      quantity: `${u.dataOutGb.toFixed(2)} GB`,
      cost: u.dataOutGb * p('dataTransfer.outPerGb'),
    },
  ];
  return {
    name: 'AWS AppSync Events',
    total: lines.reduce((s, l) => s + l.cost, 0),
    detail:
      'no stored history or presence: resume and who-is-here need handlers and a store of your own (not priced)',
    mark: markOf(table, [
      'appSyncEvents.operationsPerMillion',
      'appSyncEvents.connectionMinutesPerMillion',
      'dataTransfer.outPerGb',
    ]),
    lines,
  };
}

/** AWS IoT Core (MQTT over WebSockets): publishes and deliveries (MQTT 5 no-local: not to the sender). */
export function iotCore(load: Load, table: PriceTable, ms: Measured): Alternative {
  const u = usageOf(load, ms);
  const p = (key: string) => priceOf(table, key);
  const units = Math.max(1, Math.ceil((load.messageBytes + 60) / p('iotCore.messageUnitBytes')));
  const messages =
    (u.messagesSent * (1 + u.others) + // PUBLISH in + one out per other subscriber
      u.connects * 2 + // CONNECT + SUBSCRIBE
      u.connects * 2 * (1 + u.others) + // join and leave published to the room
      u.publishes * (1 + u.others)) *
    units;
  const lines = [
    perMillion(table, 'messaging', messages, 'iotCore.messagesPerMillion'),
    perMillion(table, 'connectivity (minutes)', u.connectionMinutes, 'iotCore.connectionMinutesPerMillion'),
  ];
  return {
    name: 'AWS IoT Core',
    total: lines.reduce((s, l) => s + l.cost, 0),
    detail: 'QoS 0, pings free; no history; custom authorizer and rules not priced',
    mark: markOf(table, ['iotCore.messagesPerMillion', 'iotCore.connectionMinutesPerMillion']),
    lines,
  };
}

/** Ably, resource-based (per minute) pricing: messages in and out, connection and channel minutes. */
export function ably(load: Load, table: PriceTable, ms: Measured): Alternative {
  const u = usageOf(load, ms);
  const p = (key: string) => priceOf(table, key);
  const messages =
    u.messagesSent * (1 + u.others) + // publish + delivery to the other subscribers (echo off)
    u.connects * 2 * (1 + u.others) + // presence enter and leave, delivered to the others
    u.connects * load.historyMessages + // history retrieved on (re)connect
    u.publishes * (1 + u.others);
  const channelMinutes = load.classrooms * load.hours * 60;
  const peakRate = (load.classrooms * load.concurrentShare * load.messagesPerMinute * (1 + u.others)) / 60;
  const packages = [
    {
      name: 'Standard',
      monthly: p('ably.standardMonthly'),
      connections: p('ably.standardConnections'),
      rate: p('ably.standardMessagesPerSecond'),
    },
    {
      name: 'Pro',
      monthly: p('ably.proMonthly'),
      connections: p('ably.proConnections'),
      rate: p('ably.proMessagesPerSecond'),
    },
  ];
  const fit = packages.find((k) => k.connections >= u.peakConnections && k.rate >= peakRate);
  const lines = [
    perMillion(table, 'messages', messages, 'ably.messagesPerMillion'),
    perMillion(table, 'connection minutes', u.connectionMinutes, 'ably.connectionMinutesPerMillion'),
    perMillion(table, 'channel minutes', channelMinutes, 'ably.channelMinutesPerMillion'),
  ];
  const usage = lines.reduce((s, l) => s + l.cost, 0);
  if (fit) lines.unshift({ item: `${fit.name} package`, quantity: '1', cost: fit.monthly });
  return {
    name: 'Ably',
    total: fit ? usage + fit.monthly : null,
    detail: fit
      ? `${fit.name} package (${fit.connections} connections, ${fit.rate} msg/s) + usage; peak ${u.peakConnections} connections, ${peakRate.toFixed(0)} msg/s`
      : `Enterprise: ${u.peakConnections} peak connections, ${peakRate.toFixed(0)} msg/s are above Pro (price on request; usage alone at these rates $${usage.toFixed(0)})`,
    mark: markOf(table, [
      'ably.standardMonthly',
      'ably.messagesPerMillion',
      'ably.connectionMinutesPerMillion',
      'ably.channelMinutesPerMillion',
    ]),
    lines,
  };
}

/** Pusher Channels: the smallest plan whose connection and daily message caps carry the load. */
export function pusher(load: Load, table: PriceTable, ms: Measured): Alternative {
  const u = usageOf(load, ms);
  // Each published message + one per delivery; member_added/member_removed to the others; server publishes.
  const messages = u.messagesSent * (1 + u.others) + u.announcements + u.publishes * (1 + u.others);
  const perDay = messages / load.days;
  const plan = table.pusher.plans.find(
    (k) => k.connections >= u.peakConnections && k.messagesPerDay >= perDay,
  );
  return {
    name: 'Pusher Channels',
    total: plan ? plan.monthly : null,
    detail: plan
      ? `plan ${plan.name} (${plan.connections} connections, ${(plan.messagesPerDay / 1e6).toFixed(1)} M messages/day); load ${u.peakConnections} peak connections, ${(perDay / 1e6).toFixed(2)} M messages/day`
      : `Enterprise: ${u.peakConnections} peak connections, ${(perDay / 1e6).toFixed(2)} M messages/day are above the largest listed plan (price on request)`,
    mark: table.pusher.status === 'verified' ? '' : '?',
    lines: plan ? [{ item: `plan ${plan.name}`, quantity: '1', cost: plan.monthly }] : [],
  };
}

// ------------------------------------------------------------------ targets
export const TARGETS = { smallLeanMonthly: 12, defaultBeyondShare: 0.15, smallDynamoDbMonthly: 6 };
export interface TargetResult {
  name: string;
  value: number;
  limit: number;
  pass: boolean;
  text: string;
}
export function checkTargets(
  lean: { small: Bill; default: Bill },
  dynamodb?: { small: Bill },
): TargetResult[] {
  const blockers = (bill: Bill, limit: (l: Line) => boolean) =>
    bill.lines
      .filter(limit)
      .sort((a, b) => b.cost - a.cost)
      .slice(0, 4)
      .map((l) => `${l.item} $${l.cost.toFixed(2)}`)
      .join(', ');
  const s = lean.small;
  const d = lean.default;
  const t1 = s.total <= TARGETS.smallLeanMonthly;
  const t2 = d.beyondShare <= TARGETS.defaultBeyondShare;
  const results: TargetResult[] = [
    {
      name: 'lean profile, small school, monthly bill',
      value: s.total,
      limit: TARGETS.smallLeanMonthly,
      pass: t1,
      text: t1
        ? `$${s.total.toFixed(2)} <= $${TARGETS.smallLeanMonthly}`
        : `$${s.total.toFixed(2)} > $${TARGETS.smallLeanMonthly}: missed by $${(s.total - TARGETS.smallLeanMonthly).toFixed(2)}; the fixed part is $${s.fixed.toFixed(2)}: ${blockers(s, (l) => l.kind === 'fixed')}`,
    },
    {
      name: "lean profile, default load, beyond API Gateway's own charges",
      value: d.beyondShare,
      limit: TARGETS.defaultBeyondShare,
      pass: t2,
      text: t2
        ? `$${d.beyondFloor.toFixed(2)} = ${(d.beyondShare * 100).toFixed(1)} % of $${d.floor.toFixed(2)} <= ${TARGETS.defaultBeyondShare * 100} %`
        : `$${d.beyondFloor.toFixed(2)} = ${(d.beyondShare * 100).toFixed(1)} % of $${d.floor.toFixed(2)} > ${TARGETS.defaultBeyondShare * 100} %: missed by $${(d.beyondFloor - TARGETS.defaultBeyondShare * d.floor).toFixed(2)}; largest: ${blockers(d, (l) => !l.floor)}`,
    },
  ];
  if (dynamodb) {
    const b = dynamodb.small;
    const limit = TARGETS.smallDynamoDbMonthly;
    const pass = b.total <= limit;
    results.push({
      name: 'dynamodb profile, small school, monthly bill',
      value: b.total,
      limit,
      pass,
      text: pass
        ? `$${b.total.toFixed(2)} <= $${limit} (fixed $${b.fixed.toFixed(2)})`
        : `$${b.total.toFixed(2)} > $${limit}: missed by $${(b.total - limit).toFixed(2)}; largest: ${blockers(b, () => true)}`,
    });
  }
  return results;
}

// ------------------------------------------------------------------ inputs from the repository
export function loadPrices(path = join(ROOT, 'bench', 'prices.json')): PriceTable {
  return JSON.parse(readFileSync(path, 'utf8')) as PriceTable;
}
export function loadMeasured(path = join(ROOT, 'bench', 'results', 'latest.json')): {
  ms: Measured;
  from: string;
} {
  const figures = new Map<string, number>();
  if (!existsSync(path)) return { ms: measuredFrom(figures), from: 'defaults in scripts/cost.ts' };
  const results = JSON.parse(readFileSync(path, 'utf8')) as {
    figures: { key: string; value: unknown }[];
    date: string;
    machine: string;
  };
  for (const f of results.figures) if (typeof f.value === 'number') figures.set(f.key, f.value);
  return {
    ms: measuredFrom(figures),
    from: `${relative(process.cwd(), path) || path} (${results.date.slice(0, 10)}, ${results.machine})`,
  };
}
export function loadTemplate(path = join(ROOT, 'template.yaml')): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}
/** EMF metrics the code can emit that no alarm or dashboard reads (billed too, as long as they are emitted). */
export function unreadMetrics(template: string | undefined): string[] {
  const path = join(ROOT, 'layers', 'shared', 'src', 'observability.ts');
  if (!template || !existsSync(path)) return [];
  const read = new Set(templateMetricNames(template));
  return emittedMetricNames(readFileSync(path, 'utf8')).filter((name) => !read.has(name));
}

/** Every option's monthly bill for one load (the chart and the comparison table). */
export function compareAt(load: Load, table: PriceTable, ms: Measured, template: string | undefined) {
  const standard = billOf(load, resolveProfile(PROFILES.standard, template), table, ms);
  const lean = billOf(load, resolveProfile(PROFILES.lean, template), table, ms);
  const dynamodb = billOf(load, resolveProfile(PROFILES.dynamodb, template), table, ms);
  return {
    standard,
    lean,
    dynamodb,
    alternatives: [
      appSyncEvents(load, table, ms),
      iotCore(load, table, ms),
      ably(load, table, ms),
      pusher(load, table, ms),
    ],
  };
}

// ------------------------------------------------------------------ command line
export const money = (n: number | null) =>
  n === null ? 'n/a' : n >= 100 ? `$${Math.round(n).toLocaleString('en-US')}` : `$${n.toFixed(2)}`;

function main(): void {
  const { values } = parseArgs({
    options: {
      profile: { type: 'string', default: 'standard' },
      load: { type: 'string', default: 'default' },
      compare: { type: 'boolean', default: false },
      markdown: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      'free-tier': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
      classrooms: { type: 'string' },
      'students-per-class': { type: 'string' },
      'teachers-per-class': { type: 'string' },
      hours: { type: 'string' },
      'messages-per-minute': { type: 'string' },
      days: { type: 'string' },
      'session-hours': { type: 'string' },
      'concurrent-share': { type: 'string' },
      'message-bytes': { type: 'string' },
      'ping-minutes': { type: 'string' },
      'reconnects-per-hour': { type: 'string' },
      'publishes-per-class-hour': { type: 'string' },
      'history-messages': { type: 'string' },
      'cache-mode': { type: 'string' },
      engine: { type: 'string' },
      'node-type': { type: 'string' },
      replicas: { type: 'string' },
      shards: { type: 'string' },
      egress: { type: 'string' },
      'nat-gateways': { type: 'string' },
      xray: { type: 'string' },
      'custom-metrics': { type: 'string' },
      'alarm-metrics': { type: 'string' },
      'vpc-endpoints': { type: 'string' },
      'log-bytes-per-invocation': { type: 'string' },
      pitr: { type: 'string' },
      prices: { type: 'string', default: join(ROOT, 'bench', 'prices.json') },
      results: { type: 'string', default: join(ROOT, 'bench', 'results', 'latest.json') },
      template: { type: 'string', default: join(ROOT, 'template.yaml') },
    },
  });
  if (values.help) {
    console.log(
      readFileSync(__filename, 'utf8')
        .split('*/')[0]
        ?.replace(/^\/\*\*?|^ \* ?/gm, ''),
    );
    return;
  }
  const fail = (message: string): never => {
    console.error(message);
    process.exit(2);
  };
  const num = (name: keyof typeof values, fallback: number, { min = 0, integer = false } = {}) => {
    if (values[name] === undefined) return fallback;
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value)))
      fail(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${values[name]}"`);
    return value;
  };
  const oneOf = <T extends string>(name: keyof typeof values, allowed: readonly T[], fallback: T): T => {
    const value = (values[name] as string | undefined) ?? fallback;
    if (!allowed.includes(value as T)) fail(`--${name} must be one of ${allowed.join(', ')}, got "${value}"`);
    return value as T;
  };

  const table = loadPrices(values.prices as string);
  const { ms, from } = loadMeasured(values.results as string);
  const template = loadTemplate(values.template as string);

  if (values.check) {
    const bills = {
      small: billOf(LOADS.small, resolveProfile(PROFILES.lean, template), table, ms),
      default: billOf(LOADS.default, resolveProfile(PROFILES.lean, template), table, ms),
    };
    const dynamodb = { small: billOf(LOADS.small, resolveProfile(PROFILES.dynamodb, template), table, ms) };
    const results = checkTargets(bills, dynamodb);
    for (const r of results) console.log(`${r.pass ? 'PASS' : 'MISS'}  ${r.name}: ${r.text}`);
    const priced = [...bills.small.lines, ...bills.default.lines, ...dynamodb.small.lines];
    const unverified = priced.filter((l) => l.mark === '?').length;
    console.log(
      `(list prices of bench/prices.json, no free tier; ${unverified} of the ${priced.length} lines priced use an unverified price: npm run cost -- --profile lean --load small, --profile dynamodb --load small; DynamoDB units from ${from})`,
    );
    if (results.some((r) => !r.pass)) process.exit(1);
    return;
  }

  if (values.compare) {
    printComparison(table, ms, template, values.markdown as boolean);
    return;
  }

  const preset = LOADS[oneOf('load', ['small', 'default', 'large'] as const, 'default')];
  const load: Load = {
    classrooms: num('classrooms', preset.classrooms, { min: 1, integer: true }),
    students: num('students-per-class', preset.students, { integer: true }),
    teachers: num('teachers-per-class', preset.teachers, { integer: true }),
    hours: num('hours', preset.hours),
    messagesPerMinute: num('messages-per-minute', preset.messagesPerMinute),
    days: num('days', preset.days, { min: 1 }),
    sessionHours: num('session-hours', preset.sessionHours, { min: 0.01 }),
    concurrentShare: Math.min(1, num('concurrent-share', preset.concurrentShare, { min: 0.001 })),
    messageBytes: num('message-bytes', preset.messageBytes, { min: 1 }),
    pingMinutes: num('ping-minutes', preset.pingMinutes, { min: 0.1 }),
    reconnectsPerHour: num('reconnects-per-hour', preset.reconnectsPerHour),
    publishesPerClassHour: num('publishes-per-class-hour', preset.publishesPerClassHour),
    historyMessages: num('history-messages', preset.historyMessages, { integer: true }),
  };
  const base: Profile = PROFILES[oneOf('profile', ['standard', 'lean', 'dynamodb'] as const, 'standard')];
  const profile = resolveProfile(
    {
      ...base,
      cacheMode: oneOf('cache-mode', ['ReplicationGroup', 'Cluster', 'Serverless'] as const, base.cacheMode),
      engine: oneOf('engine', ['valkey', 'redis'] as const, base.engine),
      nodeType: (values['node-type'] as string | undefined) ?? base.nodeType,
      replicas: num('replicas', base.replicas, { integer: true }),
      shards: num('shards', base.shards, { min: 1, integer: true }),
      egress:
        base.store === 'DynamoDB' ? base.egress : oneOf('egress', ['Nat', 'Ipv6'] as const, base.egress),
      natGateways: num('nat-gateways', base.natGateways, { min: 1, integer: true }),
      xRay: oneOf('xray', ['true', 'false'] as const, String(base.xRay) as 'true' | 'false') === 'true',
      customMetrics:
        values['custom-metrics'] === undefined
          ? base.customMetrics
          : num('custom-metrics', 0, { integer: true }),
      alarmMetrics: num('alarm-metrics', base.alarmMetrics, { integer: true }),
      vpcEndpoints: num('vpc-endpoints', base.vpcEndpoints, { integer: true }),
      logBytesPerInvocation: num('log-bytes-per-invocation', base.logBytesPerInvocation),
      pointInTimeRecovery:
        oneOf(
          'pitr',
          ['true', 'false'] as const,
          String(base.pointInTimeRecovery ?? false) as 'true' | 'false',
        ) === 'true',
    },
    template,
  );
  if (profile.cacheMode !== 'Serverless' && profile.nodeType === 'serverless')
    profile.nodeType = 'cache.t4g.micro';
  const bill = billOf(load, profile, table, ms, { freeTier: values['free-tier'] as boolean });
  const alternatives = [
    appSyncEvents(load, table, ms),
    iotCore(load, table, ms),
    ably(load, table, ms),
    pusher(load, table, ms),
  ];
  const others = (Object.values(PROFILES) as Profile[])
    .filter((o) => o.name !== profile.name)
    .map((o) =>
      billOf(load, resolveProfile(o, template), table, ms, { freeTier: values['free-tier'] as boolean }),
    );

  if (values.json) {
    console.log(
      JSON.stringify(
        {
          load,
          profile,
          handlerTimesFrom: from,
          lines: bill.lines.map((l) => ({ ...l, cost: Number(l.cost.toFixed(4)) })),
          total: Number(bill.total.toFixed(2)),
          apiGatewayFloor: Number(bill.floor.toFixed(2)),
          beyondFloorShare: Number(bill.beyondShare.toFixed(4)),
          fixed: Number(bill.fixed.toFixed(2)),
          alternatives: alternatives.map((a) => ({
            ...a,
            total: a.total === null ? null : Number(a.total.toFixed(2)),
          })),
          prices: { region: table.region, read: table.read, caveat: table.caveat },
        },
        null,
        2,
      ),
    );
    return;
  }

  const members = load.students + load.teachers;
  const cache =
    profile.store === 'DynamoDB'
      ? `DynamoDB on demand (PITR ${profile.pointInTimeRecovery ? 'on' : 'off'}), no cache`
      : profile.cacheMode === 'Serverless'
        ? `Serverless ${profile.engine}`
        : `${profile.cacheMode} ${profile.engine} ${profile.nodeType} x ${(profile.cacheMode === 'Cluster' ? profile.shards : 1) * (profile.replicas + 1)}`;
  console.log(
    `Profile ${profile.name}: ${cache}, egress ${profile.egress === 'None' ? 'none (no VPC)' : profile.egress}, X-Ray ${profile.xRay ? 'on' : 'off'}, ${profile.logLevel} logs, ${profile.customMetrics} custom metrics, ${profile.alarmMetrics} alarm metrics`,
  );
  console.log(
    `Load: ${load.classrooms} classrooms x ${members} (${load.students} students + ${load.teachers} teacher${load.teachers === 1 ? '' : 's'}), ${load.hours} class hours/month over ${load.days} days, ${load.messagesPerMinute} messages/min per class`,
  );
  const counts: Record<string, number> = {};
  for (const price of Object.values(table.prices)) counts[price.status] = (counts[price.status] ?? 0) + 1;
  console.log(
    `Prices: bench/prices.json (${table.region}, checked ${table.read}): ${counts.verified ?? 0} verified, ${counts['other-region'] ?? 0} seen for another Region (†), ${counts.unverified ?? 0} unverified (?)${values['free-tier'] ? '; perpetual free tiers applied' : '; free tiers not applied'}`,
  );
  console.log(`Lambda times${profile.store === 'DynamoDB' ? ' and DynamoDB request units' : ''}: ${from}`);
  if (profile.store === 'DynamoDB') {
    const d = dynamoUnitsOf(load, usageOf(load, ms), ms);
    console.log(
      `DynamoDB units per invocation (measured on moto, computed from item sizes): ${Object.entries(d.perFn)
        .filter(([, v]) => v.wru > 0 || v.rru > 0)
        .map(([name, v]) => `${name} ${v.wru.toFixed(2)} WRU + ${v.rru.toFixed(2)} RRU`)
        .join(
          ', ',
        )}; ${(d.atLimitShare * 100).toFixed(0)} % of the messages into a room at its history limit; Lambda durations + ${DYNAMODB_ROUND_TRIP_MS} ms (assumed) per DynamoDB round trip`,
    );
  }
  const unread = base.customMetrics === 'template' ? unreadMetrics(template) : [];
  if (unread.length > 0)
    console.log(
      `Note: lean counts the ${profile.customMetrics} EMF metrics template.yaml's alarms and dashboard read; the code still emits ${unread.length} more (${unread.join(', ')}), billed at $${(unread.length * priceOf(table, 'cloudWatch.customMetricPerMonth')).toFixed(2)} a month until they are dropped`,
    );
  console.log('');
  const w = Math.max(...bill.lines.map((l) => l.item.length));
  const q = Math.max(...bill.lines.map((l) => l.quantity.length));
  for (const l of bill.lines)
    console.log(
      `  ${l.item.padEnd(w)}  ${l.quantity.padStart(q)}  ${l.kind === 'fixed' ? 'fixed ' : 'per use'}  ${money(l.cost).padStart(8)} ${l.mark.padEnd(1)}${l.floor ? '  API Gateway floor' : ''}`,
    );
  console.log(`  ${'TOTAL'.padEnd(w)}  ${''.padStart(q)}           ${money(bill.total).padStart(8)}`);
  console.log(
    `\n  API Gateway floor (messages + connection minutes): ${money(bill.floor)}; everything else ${money(bill.beyondFloor)} = ${(bill.beyondShare * 100).toFixed(1)} % of the floor`,
  );
  console.log(
    `  fixed (billed with no class at all): ${money(bill.fixed)}; per use: ${money(bill.total - bill.fixed)}; per classroom-hour ${money(bill.total / (load.classrooms * load.hours))}`,
  );
  console.log(
    `\nThe same load, list prices (? = uses an unverified price, † = a price seen for another Region):`,
  );
  const rows: [string, number | null, string, string][] = [
    [
      `Classroom Realtime ${bill.profile.name}`,
      bill.total,
      '',
      markOf(
        table,
        bill.lines.flatMap((l) => l.prices),
      ),
    ],
    ...others.map(
      (other) =>
        [
          `Classroom Realtime ${other.profile.name}`,
          other.total,
          '',
          markOf(
            table,
            other.lines.flatMap((l) => l.prices),
          ),
        ] as [string, number | null, string, string],
    ),
    ...alternatives.map(
      (a) => [a.name, a.total, a.detail, a.mark] as [string, number | null, string, string],
    ),
  ];
  const nw = Math.max(...rows.map((r) => r[0].length));
  for (const [name, total, detail, mark] of rows)
    console.log(`  ${name.padEnd(nw)}  ${money(total).padStart(8)} ${mark.padEnd(1)}  ${detail}`);
  console.log(`\n${table.caveat}`);
}

function printComparison(
  table: PriceTable,
  ms: Measured,
  template: string | undefined,
  markdown: boolean,
): void {
  const names = ['standard', 'lean', 'dynamodb', 'AppSync Events', 'IoT Core', 'Ably', 'Pusher'];
  const header = ['load', ...names, 'API GW floor', 'lean beyond floor'];
  const rows: string[][] = [];
  for (const name of Object.keys(LOADS) as LoadName[]) {
    const c = compareAt(LOADS[name], table, ms, template);
    const cell = (v: number | null, mark: string) => `${money(v)}${mark}`;
    rows.push([
      LOAD_LABELS[name],
      cell(
        c.standard.total,
        markOf(
          table,
          c.standard.lines.flatMap((l) => l.prices),
        ),
      ),
      cell(
        c.lean.total,
        markOf(
          table,
          c.lean.lines.flatMap((l) => l.prices),
        ),
      ),
      cell(
        c.dynamodb.total,
        markOf(
          table,
          c.dynamodb.lines.flatMap((l) => l.prices),
        ),
      ),
      ...c.alternatives.map((a) => cell(a.total, a.mark)),
      money(c.lean.floor),
      `${(c.lean.beyondShare * 100).toFixed(1)} %`,
    ]);
  }
  if (markdown) {
    console.log(`| ${header.join(' | ')} |`);
    console.log(
      `| --- | ${header
        .slice(1)
        .map(() => '---:')
        .join(' | ')} |`,
    );
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    return;
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join('  ');
  console.log(fmt(header));
  for (const r of rows) console.log(fmt(r));
  console.log(
    '\n? = uses an unverified price, † = a price seen for another Region; n/a = above every listed plan',
  );
}

if (require.main === module) main();
