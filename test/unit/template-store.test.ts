/**
 * template.yaml's `Store` parameter, evaluated as CloudFormation would create each configuration (its
 * parameters, conditions, Globals and intrinsics, by local/template.ts): with Store=DynamoDB there is no VPC,
 * no network resource, no security group and no ElastiCache resource, no function runs in a VPC, and the one
 * table and its IAM statements are what the store needs and no more; with the default (ElastiCache) there is
 * no table.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCfnYaml } from '../../local/cfn-yaml';
import { evaluateCondition, type IntrinsicScope, NO_VALUE } from '../../local/intrinsics';
import { loadTemplate, type TemplateModel } from '../../local/template';

const TEMPLATE = join(__dirname, '..', '..', 'template.yaml');
const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:123456789012:table/stack-ClassroomTable';
/** The item actions the DynamoDB store (layers/shared/src/dynamo-store.ts) calls. */
const TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:Query',
  'dynamodb:BatchWriteItem',
];
/** The functions that read or write the store; the authorizer, $default and ping do not. */
const STORE_FUNCTIONS = [
  'ConnectFunction',
  'DisconnectFunction',
  'SendMessageFunction',
  'ResumeFunction',
  'PresenceFunction',
  'EndClassFunction',
  'PublishFunction',
];

// biome-ignore lint/suspicious/noExplicitAny: resolved template JSON of every shape, checked by the expectations
type Loose = any;

function configuration(parameterOverrides: Record<string, string> = {}): TemplateModel {
  return loadTemplate(TEMPLATE, { parameterOverrides, stackName: 'stack' });
}

const idsOf = (model: TemplateModel, pattern: RegExp) =>
  [...model.resourceTypes].filter(([, type]) => pattern.test(type)).map(([id]) => id);

/** Every IAM statement of a function's `Policies` (inline statements, NoValue entries dropped). */
function statements(model: TemplateModel, functionId: string): Loose[] {
  const policies = (model.resolvedProperties(functionId)?.Policies ?? []) as Loose[];
  return policies.flatMap((policy) => (typeof policy === 'string' ? [] : (policy.Statement ?? [])));
}

/** Every string in a resolved value (to find a reference to a resource anywhere in it). */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

describe('template.yaml with Store=DynamoDB', () => {
  const model = configuration({ Store: 'DynamoDB' });
  const functions = [...model.functions.keys()];

  it('loads without warnings (the parameter exists and DynamoDB is one of its allowed values)', () => {
    expect(model.warnings).toEqual([]);
    expect(model.parameters.Store).toBe('DynamoDB');
  });

  it('has no VPC, subnet, NAT, EIP, route table, gateway or security group, and no ElastiCache resource', () => {
    expect(idsOf(model, /^AWS::EC2::/)).toEqual([]);
    expect(idsOf(model, /^AWS::ElastiCache::/)).toEqual([]);
  });

  it('has no Redis auth secret, no cache alarm, and no cache output', () => {
    expect(model.resourceTypes.has('RedisAuthSecret')).toBe(false);
    const alarms = idsOf(model, /^AWS::CloudWatch::Alarm$/);
    expect(alarms.filter((id) => /Redis|Serverless/.test(id))).toEqual([]);
    for (const id of alarms) {
      const namespaces = strings(model.resolvedProperties(id)).filter((s) => s.startsWith('AWS/'));
      expect(namespaces.filter((ns) => ns === 'AWS/ElastiCache')).toEqual([]);
    }
    const doc = parseCfnYaml(readFileSync(TEMPLATE, 'utf8')) as Loose;
    const cacheOutputs = ['ReplicationGroupId', 'ServerlessCacheName', 'CacheEndpoint'];
    for (const name of cacheOutputs) expect(doc.Outputs[name].Condition).toBeDefined();
  });

  it('runs every function outside a VPC', () => {
    expect(functions).toHaveLength(10);
    for (const id of functions) expect(model.resolvedProperties(id)).not.toHaveProperty('VpcConfig');
  });

  it('has one table, ClassroomTable: on demand, pk/sk strings, TTL on expiresAt, PITR off by default', () => {
    expect([...model.tables.keys()]).toEqual(['ClassroomTable']);
    const table = model.tables.get('ClassroomTable')?.properties as Loose;
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table).not.toHaveProperty('ProvisionedThroughput');
    expect(table.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(table.AttributeDefinitions).toEqual([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ]);
    expect(table).not.toHaveProperty('GlobalSecondaryIndexes');
    expect(table).not.toHaveProperty('LocalSecondaryIndexes');
    expect(table).not.toHaveProperty('TableName');
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(table.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: false });
    const withPitr = configuration({ Store: 'DynamoDB', PointInTimeRecovery: 'true' });
    expect(withPitr.tables.get('ClassroomTable')?.properties.PointInTimeRecoverySpecification).toEqual({
      PointInTimeRecoveryEnabled: true,
    });
  });

  it('gives every function STORE=dynamodb and TABLE_NAME, and none of the Redis or replica-ack variables', () => {
    for (const id of functions) {
      const env = model.functions.get(id)?.environment ?? {};
      expect(env.STORE).toBe('dynamodb');
      expect(env.TABLE_NAME).toBe('stack-ClassroomTable');
      expect(Object.keys(env).filter((name) => /^REDIS_|REPLICA_ACK/.test(name))).toEqual([]);
    }
  });

  it("grants the store's item actions on the table's ARN only, to the functions that use the store only", () => {
    for (const id of functions) {
      const onTable = statements(model, id).filter((s) =>
        strings(s.Action).some((a) => a.startsWith('dynamodb:')),
      );
      if (!STORE_FUNCTIONS.includes(id)) {
        expect({ id, onTable }).toEqual({ id, onTable: [] });
        continue;
      }
      expect({ id, onTable }).toEqual({
        id,
        onTable: [
          { Sid: 'ClassroomTableItems', Effect: 'Allow', Action: TABLE_ACTIONS, Resource: TABLE_ARN },
        ],
      });
    }
    // No statement anywhere grants DynamoDB on another resource, a wildcard action, or the Redis secret.
    for (const id of functions) {
      for (const s of statements(model, id)) {
        const actions = strings(s.Action);
        expect(actions.filter((a) => /^dynamodb:.*\*|^\*$/.test(a))).toEqual([]);
        if (actions.some((a) => a.startsWith('dynamodb:'))) expect(strings(s.Resource)).toEqual([TABLE_ARN]);
        expect(s.Sid).not.toBe('ReadRedisAuthToken');
      }
    }
  });

  it('has alarms on throttled requests and system errors of the table, and DynamoDB widgets on the dashboard', () => {
    const alarms = idsOf(model, /^AWS::CloudWatch::Alarm$/);
    expect(alarms).toEqual(
      expect.arrayContaining(['TableWriteThrottleAlarm', 'TableReadThrottleAlarm', 'TableSystemErrorsAlarm']),
    );
    expect(model.resolvedProperties('TableWriteThrottleAlarm')).toMatchObject({
      Namespace: 'AWS/DynamoDB',
      MetricName: 'WriteThrottleEvents',
      Dimensions: [{ Name: 'TableName', Value: 'stack-ClassroomTable' }],
    });
    const errors = model.resolvedProperties('TableSystemErrorsAlarm') as Loose;
    const operations = errors.Metrics.filter((m: Loose) => m.MetricStat).map(
      (m: Loose) => m.MetricStat.Metric.Dimensions.find((d: Loose) => d.Name === 'Operation').Value,
    );
    expect(operations.map((op: string) => `dynamodb:${op}`).sort()).toEqual([...TABLE_ACTIONS].sort());
    const body = String(model.resolvedProperties('Dashboard')?.DashboardBody);
    const widgets = JSON.parse(body).widgets as Loose[];
    const tableWidgets = widgets.filter((w) => JSON.stringify(w.properties.metrics).includes('AWS/DynamoDB'));
    expect(tableWidgets.map((w) => w.properties.title)).toEqual([
      'DynamoDB: consumed capacity units (billed)',
      'DynamoDB: throttle events (must stay 0)',
      'DynamoDB: system errors by operation (must stay 0)',
      'DynamoDB: request latency by operation (ms, average)',
      'DynamoDB: conditional check failures and transaction conflicts (dedupe, races)',
    ]);
    for (const w of tableWidgets) expect(JSON.stringify(w)).toContain('stack-ClassroomTable');
    expect(body).not.toContain('AWS/ElastiCache');
  });

  it('evaluates every condition whatever the ignored cache parameters (no mapping lookup fails)', () => {
    const doc = parseCfnYaml(readFileSync(TEMPLATE, 'utf8')) as Loose;
    const decls = doc.Parameters as Record<string, Loose>;
    const names = Object.keys(doc.Conditions);
    for (const shards of ['1', '2', '3', '4', '5']) {
      for (const replicas of ['1', '2', '3', '4', '5']) {
        const values: Record<string, unknown> = {
          'AWS::NoValue': NO_VALUE,
          'AWS::Region': 'us-east-1',
          ...Object.fromEntries(Object.entries(decls).map(([name, d]) => [name, String(d.Default ?? '')])),
          Store: 'DynamoDB',
          CacheMode: 'Cluster',
          ShardCount: shards,
          ReplicaCount: replicas,
        };
        const cache = new Map<string, boolean>();
        const scope: IntrinsicScope = {
          region: 'us-east-1',
          mappings: doc.Mappings,
          refParameter: (name) => values[name],
          refResource: (id) => `<${id}>`,
          getAtt: (id, attribute) => `<${id}.${attribute}>`,
          condition(name) {
            if (!cache.has(name)) cache.set(name, evaluateCondition(doc.Conditions[name], scope));
            return cache.get(name) as boolean;
          },
        };
        for (const name of names) expect(() => scope.condition(name)).not.toThrow();
        expect(scope.condition('StoreElastiCache')).toBe(false);
        // The conditions that create a network or cache resource (the CacheSlot ones only pick alarm slots).
        const creating = [
          'CreateVpc',
          'CreateNat',
          'CreateIpv6',
          'NatPerAz',
          'Ipv6Egress',
          'CacheServerless',
          'CacheCluster',
          'CacheReplicationGroup',
          'CacheNodes',
          'RedisClusterClient',
          'RedisTlsOn',
          'RedisAuthOn',
          'NodeAlarms',
          'ServerlessMathAlarms',
        ];
        expect(creating.filter((n) => scope.condition(n))).toEqual([]);
      }
    }
  });

  it('leaves the ElastiCache-only parameters ignored: odd values change nothing', () => {
    const odd = configuration({
      Store: 'DynamoDB',
      NetworkMode: 'ExistingSubnets',
      Egress: 'Ipv6',
      CacheMode: 'Serverless',
      RedisTls: 'false',
      MinReplicaAcks: '5',
    });
    expect([...odd.resourceTypes].sort()).toEqual([...model.resourceTypes].sort());
    expect(odd.resolvedProperties('WebSocketApi')).not.toHaveProperty('IpAddressType');
    for (const id of functions)
      expect(odd.functions.get(id)?.environment).toEqual(model.functions.get(id)?.environment);
  });
});

describe('template.yaml with the default Store (ElastiCache)', () => {
  const model = configuration();

  it('has the cache and the VPC, no table, and the store functions in the VPC with STORE=redis', () => {
    expect(model.parameters.Store).toBe('ElastiCache');
    expect(idsOf(model, /^AWS::ElastiCache::ReplicationGroup$/)).toEqual(['Redis']);
    expect(idsOf(model, /^AWS::EC2::VPC$/)).toEqual(['Vpc']);
    expect(model.tables.size).toBe(0);
    for (const [id, def] of model.functions) {
      expect(def.environment.STORE).toBe('redis');
      expect(def.environment).not.toHaveProperty('TABLE_NAME');
      expect(model.resolvedProperties(id)?.VpcConfig !== undefined).toBe(STORE_FUNCTIONS.includes(id));
      const actions = statements(model, id).flatMap((s) => strings(s.Action));
      expect(actions.filter((a) => a.startsWith('dynamodb:'))).toEqual([]);
    }
  });
});
