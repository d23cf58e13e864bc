import { itemSize, numberSize, readUnits, writeUnits } from '../../bench/lib/dynamodb-units';
import {
  ably,
  appSyncEvents,
  type Bill,
  billOf,
  checkTargets,
  DEFAULT_MEASURED,
  DYNAMODB_ROUND_TRIP_MS,
  DYNAMODB_ROUND_TRIPS,
  dynamoUnitsOf,
  HOURS_PER_MONTH,
  iotCore,
  LOADS,
  loadPrices,
  markOf,
  measuredFrom,
  PROFILES,
  pusher,
  resolveProfile,
  templateMetricNames,
  usageOf,
} from '../../scripts/cost';
import { classroomSteps } from '../../scripts/cost-chart';

const table = loadPrices();
const ms = measuredFrom(new Map());
const TEMPLATE = `
Resources:
  Dashboard:
    Properties:
      DashboardBody: !Sub |
        {"widgets":[
          {"properties":{"metrics":[["AWS/ApiGateway","ConnectCount","ApiId","x"],[".","MessageCount",".","."]]}},
          {"properties":{"metrics":[["ClassroomRealtime","MessagesAccepted","service","s"],[".","Deliveries",".","."]]}},
          {"properties":{"metrics":[["AWS/Lambda","Errors","FunctionName","f"],[".",".",".","g"]]}}
        ]}
  HandlerErrorsAlarm:
    Properties:
      Namespace: ClassroomRealtime
      MetricName: HandlerErrors
  LambdaErrorsAlarm:
    Properties:
      Metrics:
        - { Id: a, MetricStat: { Metric: { Namespace: AWS/Lambda, MetricName: Errors } } }
        - MetricStat:
            Metric:
              Namespace: ClassroomRealtime
              MetricName: FailedDeliveries
`;

describe('cost model', () => {
  it('counts the EMF metrics the dashboard and alarms read, and only those', () => {
    expect(templateMetricNames(TEMPLATE)).toEqual([
      'Deliveries',
      'FailedDeliveries',
      'HandlerErrors',
      'MessagesAccepted',
    ]);
    expect(resolveProfile(PROFILES.lean, TEMPLATE).customMetrics).toBe(4);
    expect(resolveProfile(PROFILES.standard, TEMPLATE).customMetrics).toBe(52);
  });

  it('every price carries its page, the date it was read and a status', () => {
    for (const [key, price] of Object.entries(table.prices)) {
      expect({ key, source: price.source }).toEqual({ key, source: expect.stringMatching(/^https:\/\//) });
      expect({ key, read: price.read }).toEqual({ key, read: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
      expect(['verified', 'other-region', 'unverified']).toContain(price.status);
      expect(price.evidence.length).toBeGreaterThan(10);
    }
    expect(table.prices['vpc.publicIpv4PerHour']?.value).toBe(0.005);
  });

  it('marks lines by the weakest price they use', () => {
    expect(markOf(table, ['apiGateway.messagesPerMillion'])).toBe('');
    expect(markOf(table, ['apiGateway.messagesPerMillion', 'natGateway.hour'])).toBe('†');
    expect(markOf(table, ['natGateway.hour', 'lambda.requestsPerMillion'])).toBe('?');
  });

  it('prices the standard profile: the API Gateway floor, the NAT gateway and its IPv4 address', () => {
    const bill = billOf(LOADS.default, resolveProfile(PROFILES.standard, TEMPLATE), table, ms);
    const line = (item: string) => bill.lines.find((l) => l.item.startsWith(item));
    expect(bill.total).toBeCloseTo(
      bill.lines.reduce((s, l) => s + l.cost, 0),
      6,
    );
    expect(bill.floor).toBeCloseTo(
      (line('API Gateway: messages')?.cost ?? 0) + (line('API Gateway: connection minutes')?.cost ?? 0),
      6,
    );
    expect(line('NAT gateway x 1: public IPv4 address')?.cost).toBeCloseTo(3.65, 6);
    expect(line('NAT gateway x 1: hours')?.kind).toBe('fixed');
    expect(line('ElastiCache ReplicationGroup valkey cache.t4g.micro x 2')?.cost).toBeCloseTo(
      2 * 730 * 0.0128,
      6,
    );
    expect(line('X-Ray')).toBeDefined();
  });

  it('prices the lean profile: no NAT, no X-Ray, the serverless minimum storage as a fixed cost', () => {
    const bill = billOf(LOADS.small, resolveProfile(PROFILES.lean, TEMPLATE), table, ms);
    expect(bill.lines.some((l) => l.item.startsWith('NAT'))).toBe(false);
    expect(bill.lines.some((l) => l.item.startsWith('X-Ray'))).toBe(false);
    const storage = bill.lines.find((l) => l.item.includes('data stored'));
    expect(storage?.kind).toBe('fixed');
    expect(storage?.cost).toBeCloseTo(0.1 * HOURS_PER_MONTH * 0.084, 6);
  });

  it('meters WebSocket messages in 32 KB units and the tier above a billion', () => {
    const small = usageOf({ ...LOADS.default, classrooms: 1 }, ms);
    const big = usageOf({ ...LOADS.default, classrooms: 1, messageBytes: 40_000 }, ms);
    expect(big.apiMessages).toBeGreaterThan(1.9 * small.apiMessages);
    const huge = billOf(
      { ...LOADS.default, classrooms: 10_000 },
      resolveProfile(PROFILES.lean, TEMPLATE),
      table,
      ms,
    );
    const messages = huge.lines[0] as Bill['lines'][number];
    const n = usageOf({ ...LOADS.default, classrooms: 10_000 }, ms).apiMessages;
    expect(messages.cost).toBeCloseTo((1e9 * 1 + (n - 1e9) * 0.8) / 1e6, 4);
    expect(messages.mark).toBe('?');
  });

  it('picks the smallest Pusher plan and the Ably package that fit, none above the largest', () => {
    expect(pusher(LOADS.small, table, ms).total).toBe(99);
    expect(pusher(LOADS.default, table, ms).total).toBe(499);
    expect(pusher(LOADS.large, table, ms).total).toBeNull();
    expect(ably(LOADS.small, table, ms).detail).toMatch(/^Standard package/);
    expect(ably(LOADS.large, table, ms).total).toBeNull();
    expect(appSyncEvents(LOADS.small, table, ms).total).toBeGreaterThan(0);
    expect(iotCore(LOADS.small, table, ms).mark).toBe('†');
  });

  it('checks the targets and names the blocking line items on a miss', () => {
    const fake = (total: number, floor: number, lines: Bill['lines']): Bill =>
      ({
        total,
        floor,
        beyondFloor: total - floor,
        beyondShare: (total - floor) / floor,
        fixed: lines.filter((l) => l.kind === 'fixed').reduce((s, l) => s + l.cost, 0),
        lines,
      }) as Bill;
    const line = (item: string, cost: number, kind: 'fixed' | 'use', floor = false) => ({
      item,
      quantity: '',
      cost,
      kind,
      floor,
      prices: [],
      mark: '',
    });
    const pass = checkTargets({
      small: fake(11, 1, [line('floor', 1, 'use', true), line('cache', 10, 'fixed')]),
      default: fake(110, 100, [line('floor', 100, 'use', true), line('cache', 10, 'fixed')]),
    });
    expect(pass.map((r) => r.pass)).toEqual([true, true]);
    const miss = checkTargets({
      small: fake(16, 1, [
        line('floor', 1, 'use', true),
        line('cache', 9, 'fixed'),
        line('dashboard', 6, 'fixed'),
      ]),
      default: fake(120, 100, [line('floor', 100, 'use', true), line('NAT', 20, 'fixed')]),
    });
    expect(miss.map((r) => r.pass)).toEqual([false, false]);
    expect(miss[0]?.text).toContain('missed by $4.00');
    expect(miss[0]?.text).toContain('cache $9.00, dashboard $6.00');
    expect(miss[1]?.text).toContain('missed by $5.00');
  });

  it('uses the measured figures when given, the defaults otherwise', () => {
    expect(measuredFrom(new Map([['fanout_ms_30', 99]]))('fanout_ms_30')).toBe(99);
    expect(ms('fanout_ms_30')).toBe(DEFAULT_MEASURED.fanout_ms_30);
  });
});

describe('cost model: the dynamodb profile', () => {
  // Units per operation as bench/results/latest.json has them (test values, not measurements).
  const units: Record<string, number> = {
    dynamodb_wcu_send_room30: 6,
    dynamodb_rcu_send_room30: 1,
    dynamodb_wcu_send_room30_at_limit: 8,
    dynamodb_rcu_send_room30_at_limit: 4,
    dynamodb_wcu_connect: 2,
    dynamodb_rcu_connect: 1,
    dynamodb_wcu_disconnect: 1,
    dynamodb_rcu_disconnect: 1,
    dynamodb_wcu_resume_100: 0,
    dynamodb_rcu_resume_100: 13,
    dynamodb_wcu_resume_20: 0,
    dynamodb_rcu_resume_20: 4,
    dynamodb_wcu_presence_room30: 0,
    dynamodb_rcu_presence_room30: 1,
    dynamodb_wcu_publish_room30: 5,
    dynamodb_rcu_publish_room30: 1,
    dynamodb_bytes_per_message_item: 500,
    dynamodb_bytes_per_member_item: 200,
  };
  const measured = measuredFrom(new Map(Object.entries(units)));
  const profile = resolveProfile(PROFILES.dynamodb, TEMPLATE);
  const price = (key: string) => table.prices[key]?.value as number;

  it('has no cache, NAT, egress gateway or VPC endpoint; one secret; the DynamoDB alarms', () => {
    const bill = billOf(LOADS.small, profile, table, measured);
    const items = bill.lines.map((l) => l.item);
    expect(items.filter((i) => /ElastiCache|NAT|Egress-only|VPC interface|X-Ray/.test(i))).toEqual([]);
    expect(items).toContain('DynamoDB on demand: write request units');
    expect(items).toContain('DynamoDB on demand: read request units (strongly consistent)');
    expect(items).toContain('Posts to execute-api from outside a VPC (same Region)');
    expect(items.some((i) => i.includes('point-in-time'))).toBe(false);
    const secrets = bill.lines.find((l) => l.item.startsWith('Secrets Manager'));
    expect(secrets?.quantity).toBe('1 secrets');
    expect(bill.lines.find((l) => l.item === 'CloudWatch: alarms')?.cost).toBeCloseTo(24 * 0.1, 6);
    expect(bill.total).toBeCloseTo(
      bill.lines.reduce((sum, l) => sum + l.cost, 0),
      9,
    );
  });

  it('prices the measured units per operation times the invocations of each function', () => {
    const load = LOADS.small; // 60 messages per class day: every room stays below its history limit
    const u = usageOf(load, measured);
    const d = dynamoUnitsOf(load, u, measured);
    expect(d.atLimitShare).toBe(0);
    const n = (name: string) => u.fns.find((f) => f.name === name)?.invocations as number;
    const resumeRcu = 4 + ((13 - 4) * (load.historyMessages - 20)) / 80;
    expect(d.wru).toBeCloseTo(
      n('sendMessage') * 6 + n('$connect') * 2 + n('$disconnect') * 1 + n('publish') * 5,
      6,
    );
    expect(d.rru).toBeCloseTo(
      n('sendMessage') * 1 +
        n('$connect') * 1 +
        n('$disconnect') * 1 +
        n('resume') * resumeRcu +
        n('presence') * 1 +
        n('publish') * 1,
      6,
    );
    const bill = billOf(load, profile, table, measured);
    const line = (item: string) => bill.lines.find((l) => l.item === item);
    expect(line('DynamoDB on demand: write request units')?.cost).toBeCloseTo(
      (d.wru / 1e6) * price('dynamoDb.writeRequestUnitsPerMillion'),
      9,
    );
    expect(line('DynamoDB on demand: read request units (strongly consistent)')?.cost).toBeCloseTo(
      (d.rru / 1e6) * price('dynamoDb.readRequestUnitsPerMillion'),
      9,
    );
    // 20 rooms x 60 messages of 500 bytes + 620 members of 200 bytes.
    expect(d.storedGb).toBeCloseTo((20 * 60 * 500 + 620 * 200) / 1024 ** 3, 12);
  });

  it('uses the at-limit units for the messages of a class day beyond the history limit', () => {
    const load = LOADS.default; // 20 msg/min x 4 h a day = 4,800 messages a class day
    const d = dynamoUnitsOf(load, usageOf(load, measured), measured);
    expect(d.atLimitShare).toBeCloseTo(3800 / 4800, 9);
    expect(d.perFn.sendMessage?.wru).toBeCloseTo(6 * (1000 / 4800) + 8 * (3800 / 4800), 9);
    expect(d.perFn.resume?.rru).toBe(4); // history of 20 messages: the measured resume of 20
    expect(
      dynamoUnitsOf({ ...load, historyMessages: 100 }, usageOf(load, measured), measured).perFn.resume?.rru,
    ).toBe(13);
  });

  it('adds the DynamoDB round trips to the Lambda durations', () => {
    const lean = billOf(LOADS.default, resolveProfile(PROFILES.lean, TEMPLATE), table, measured);
    const dynamo = billOf(LOADS.default, profile, table, measured);
    const gbs = (b: Bill) =>
      Number.parseFloat(b.lines.find((l) => l.item.startsWith('Lambda: duration'))?.quantity ?? '');
    const u = usageOf(LOADS.default, measured);
    const extra = u.fns.reduce(
      (sum, f) =>
        sum +
        (f.invocations * (DYNAMODB_ROUND_TRIPS[f.name] ?? 0) * DYNAMODB_ROUND_TRIP_MS * f.memoryMb) /
          1024 /
          1000,
      0,
    );
    expect(gbs(dynamo) - gbs(lean)).toBeGreaterThan(0.9 * extra);
    expect(gbs(dynamo) - gbs(lean)).toBeLessThan(1.1 * extra + 2);
  });

  it('bills point-in-time recovery only when asked', () => {
    const bill = billOf(LOADS.default, { ...profile, pointInTimeRecovery: true }, table, measured);
    const pitr = bill.lines.find((l) => l.item === 'DynamoDB: point-in-time recovery');
    const d = dynamoUnitsOf(LOADS.default, usageOf(LOADS.default, measured), measured);
    expect(pitr?.cost).toBeCloseTo(d.storedGb * price('dynamoDb.pitrPerGbMonth'), 9);
  });

  it('refuses to price without the measured units (never typed defaults)', () => {
    expect(() => billOf(LOADS.small, profile, table, ms)).toThrow(
      /latest\.json has no dynamodb_wcu_send_room30: run npm run bench/,
    );
  });

  it('checks the small school against $6 a month', () => {
    const lean = {
      small: billOf(LOADS.small, resolveProfile(PROFILES.lean, TEMPLATE), table, measured),
      default: billOf(LOADS.default, resolveProfile(PROFILES.lean, TEMPLATE), table, measured),
    };
    const small = billOf(LOADS.small, profile, table, measured);
    const results = checkTargets(lean, { small });
    expect(results).toHaveLength(3);
    expect(results[2]?.name).toBe('dynamodb profile, small school, monthly bill');
    expect(results[2]?.pass).toBe(small.total <= 6);
    const over = checkTargets(lean, { small: { ...small, total: 7 } })[2];
    expect(over?.pass).toBe(false);
    expect(over?.text).toContain('missed by $1.00');
  });
});

describe('DynamoDB request units from item sizes (bench/lib/dynamodb-units.ts)', () => {
  it('sizes items as DynamoDB does: names + values, numbers by significant digits', () => {
    expect(numberSize('0')).toBe(2);
    expect(numberSize('1764000000')).toBe(3); // 1764: 2 bytes + 1
    expect(numberSize('1764000000123')).toBe(8);
    expect(numberSize('-12.50')).toBe(3);
    expect(itemSize({ pk: { S: 'room#a' }, sk: { S: 'state' }, seq: { N: '12' } })).toBe(
      2 + 6 + 2 + 5 + 3 + 2,
    );
    expect(itemSize({ é: { S: 'é' } })).toBe(4);
    expect(itemSize({ m: { M: { a: { BOOL: true } } } })).toBe(1 + 3 + 1 + 1 + 1);
    expect(itemSize({ l: { L: [{ N: '1' }, { NULL: true }] } })).toBe(1 + 3 + 3 + 2);
  });

  it('rounds writes up to 1 KB of the larger image and reads up to 4 KB, at least 1', () => {
    expect(writeUnits(0, 0)).toBe(1);
    expect(writeUnits(300, 1024)).toBe(1);
    expect(writeUnits(1025, 10)).toBe(2);
    expect(readUnits(0)).toBe(1);
    expect(readUnits(4096)).toBe(1);
    expect(readUnits(4097)).toBe(2);
    expect(readUnits(4097, false)).toBe(1);
  });
});

describe('cost chart', () => {
  it('steps through classroom counts on a log scale', () => {
    const steps = classroomSteps();
    expect(steps[0]).toBe(1);
    expect(Math.max(...steps)).toBeLessThanOrEqual(5000);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
  });
});
