import {
  ably,
  appSyncEvents,
  type Bill,
  billOf,
  checkTargets,
  DEFAULT_MEASURED,
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

describe('cost chart', () => {
  it('steps through classroom counts on a log scale', () => {
    const steps = classroomSteps();
    expect(steps[0]).toBe(1);
    expect(Math.max(...steps)).toBeLessThanOrEqual(5000);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
  });
});
