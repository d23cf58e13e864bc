/**
 * The template reader: every intrinsic short form, parameters, pseudo parameters, conditions, Globals,
 * and what it extracts from the fixture (routes, integrations, authorizer, stage, functions, SQS); then the
 * project's template.yaml as the local stacks run it (the environment local/function-env.ts lays over it).
 */
import { join } from 'node:path';
import { parseCfnYaml } from '../../local/cfn-yaml';
import { type LocalFunctionEnv, localFunctionEnv } from '../../local/function-env';
import { cidr, type IntrinsicScope, NO_VALUE, resolve, Unresolved } from '../../local/intrinsics';
import { FunctionRuntime } from '../../local/lambda-runtime';
import { loadTemplate, mergeGlobals } from '../../local/template';
import { FIXTURE_TEMPLATE } from './support/clients';

const PROJECT_TEMPLATE = join(__dirname, '..', '..', 'template.yaml');

function scope(overrides: Partial<IntrinsicScope> = {}): IntrinsicScope {
  const params: Record<string, unknown> = {
    Env: 'dev',
    List: ['a', 'b'],
    'AWS::Region': 'eu-west-1',
    'AWS::AccountId': '111122223333',
    'AWS::NoValue': NO_VALUE,
  };
  return {
    region: 'eu-west-1',
    mappings: { Sizes: { dev: { Memory: 256 } } },
    refParameter: (name) => params[name],
    refResource: (id) => (id === 'Known' ? 'known-ref' : new Unresolved(`ref ${id}`)),
    getAtt: (id, attr) =>
      id === 'Fn' && attr === 'Arn'
        ? 'arn:aws:lambda:eu-west-1:111122223333:function:fn'
        : new Unresolved(`${id}.${attr}`),
    condition: (name) => name === 'IsDev',
    ...overrides,
  };
}

const evaluate = (yaml: string, s = scope()) => resolve(parseCfnYaml(yaml), s);

describe('Module: cfn-yaml + intrinsics', () => {
  it('turns every short tag into its long form', () => {
    const doc = parseCfnYaml(`
a: !Ref X
b: !GetAtt Res.Attr.Sub
c: !GetAtt [Res, Attr]
d: !Sub 'x'
e: !Sub ['x', {}]
f: !Join ['', []]
g: !Select [0, [a]]
h: !Split [',', 'a']
i: !If [C, 1, 2]
j: !Equals [a, b]
k: !Not [!Condition C]
l: !And [true, true]
m: !Or [true, false]
n: !FindInMap [M, a, b]
o: !GetAZs ''
p: !ImportValue Name
q: !Base64 x
r: !Cidr [10.0.0.0/16, 2, 8]
`);
    expect(doc).toEqual({
      a: { Ref: 'X' },
      b: { 'Fn::GetAtt': ['Res', 'Attr.Sub'] },
      c: { 'Fn::GetAtt': ['Res', 'Attr'] },
      d: { 'Fn::Sub': 'x' },
      e: { 'Fn::Sub': ['x', {}] },
      f: { 'Fn::Join': ['', []] },
      g: { 'Fn::Select': [0, ['a']] },
      h: { 'Fn::Split': [',', 'a'] },
      i: { 'Fn::If': ['C', 1, 2] },
      j: { 'Fn::Equals': ['a', 'b'] },
      k: { 'Fn::Not': [{ Condition: 'C' }] },
      l: { 'Fn::And': [true, true] },
      m: { 'Fn::Or': [true, false] },
      n: { 'Fn::FindInMap': ['M', 'a', 'b'] },
      o: { 'Fn::GetAZs': '' },
      p: { 'Fn::ImportValue': 'Name' },
      q: { 'Fn::Base64': 'x' },
      r: { 'Fn::Cidr': ['10.0.0.0/16', 2, 8] },
    });
  });

  it('evaluates Ref, GetAtt, Sub (both forms, escapes), Join, Select, Split', () => {
    expect(evaluate('v: !Ref Env')).toEqual({ v: 'dev' });
    expect(evaluate('v: !Ref Known')).toEqual({ v: 'known-ref' });
    expect(evaluate('v: !GetAtt Fn.Arn')).toEqual({ v: 'arn:aws:lambda:eu-west-1:111122223333:function:fn' });
    expect(evaluate("v: !Sub '${AWS::Region}/${Env}/${Fn.Arn}/${!Literal}'")).toEqual({
      v: 'eu-west-1/dev/arn:aws:lambda:eu-west-1:111122223333:function:fn/${Literal}',
    });
    expect(evaluate("v: !Sub ['${A}-${Env}', { A: !Ref Known }]")).toEqual({ v: 'known-ref-dev' });
    expect(evaluate("v: !Join [',', [!Ref Env, b, !Select [1, !Ref List]]]")).toEqual({ v: 'dev,b,b' });
    expect(evaluate("v: !Select [2, !Split ['/', 'a/b/c']]")).toEqual({ v: 'c' });
    expect(evaluate("v: { 'Fn::Join': ['-', [x, { Ref: Env }]] }")).toEqual({ v: 'x-dev' });
  });

  it('evaluates conditions: If, Equals, Not, And, Or, Condition, and AWS::NoValue drops the key', () => {
    expect(evaluate('v: !If [IsDev, yes, no]')).toEqual({ v: 'yes' });
    expect(evaluate('v: !If [Other, yes, !Ref AWS::NoValue]\nw: 1')).toEqual({ w: 1 });
    expect(evaluate('v: !Equals [!Ref Env, dev]')).toEqual({ v: true });
    expect(evaluate('v: !Not [!Equals [!Ref Env, dev]]')).toEqual({ v: false });
    expect(evaluate('v: !And [!Condition IsDev, !Equals [1, 1]]')).toEqual({ v: true });
    expect(evaluate('v: !Or [!Condition Other, !Equals [a, b]]')).toEqual({ v: false });
    expect(evaluate('v: [a, !Ref AWS::NoValue, b]')).toEqual({ v: ['a', 'b'] });
  });

  it('evaluates FindInMap, GetAZs, Base64, Cidr, Length, ToJsonString', () => {
    expect(evaluate('v: !FindInMap [Sizes, !Ref Env, Memory]')).toEqual({ v: 256 });
    expect(evaluate('v: !FindInMap [Sizes, prod, Memory, { DefaultValue: 128 }]')).toEqual({ v: 128 });
    expect(evaluate("v: !GetAZs ''")).toEqual({ v: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] });
    expect(evaluate('v: !Base64 hello')).toEqual({ v: 'aGVsbG8=' });
    expect(evaluate('v: !Cidr [10.0.0.0/16, 3, 8]')).toEqual({
      v: ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24'],
    });
    expect(cidr('192.168.0.0/24', 2, 6)).toEqual(['192.168.0.0/26', '192.168.0.64/26']);
    expect(evaluate("v: { 'Fn::Length': [1, 2, 3] }")).toEqual({ v: 3 });
    expect(evaluate("v: { 'Fn::ToJsonString': { a: !Ref Env } }")).toEqual({ v: '{"a":"dev"}' });
  });

  it('propagates what only CloudFormation knows as Unresolved (ImportValue, unknown GetAtt, Sub of them)', () => {
    const out = evaluate(
      "a: !ImportValue X\nb: !GetAtt Cache.Address\nc: !Sub 'redis://${Cache.Address}:1'\nd: !Join ['', [x, !Ref Nope]]",
    ) as Record<string, unknown>;
    for (const key of ['a', 'b', 'c', 'd']) expect(out[key]).toBeInstanceOf(Unresolved);
  });

  it('merges Globals as SAM does: maps merge, lists append, scalars are replaced', () => {
    expect(
      mergeGlobals(
        { Timeout: 3, Environment: { Variables: { A: '1', B: '2' } }, Layers: ['g'] },
        { Timeout: 10, Environment: { Variables: { B: 'x' } }, Layers: ['l'] },
      ),
    ).toEqual({ Timeout: 10, Environment: { Variables: { A: '1', B: 'x' } }, Layers: ['g', 'l'] });
  });
});

describe('Function: loadTemplate (fixture)', () => {
  const model = loadTemplate(FIXTURE_TEMPLATE, { apiId: 'abcdefghij', stackName: 'fx' });
  const api = model.webSocketApi;

  it('finds the WebSocket API, its route selection expression and stage', () => {
    expect(model.webSocketApiIds).toEqual(['WebSocketApi']);
    expect(api?.routeSelectionExpression).toBe('$request.body.action');
    expect(api?.stageName).toBe('fixture');
    expect(api?.apiId).toBe('abcdefghij');
  });

  it('maps every route to its function through Target, Integration and IntegrationUri (Sub, Join, Sub map)', () => {
    const routes = Object.fromEntries(
      [...(api?.routes.values() ?? [])].map((r) => [r.routeKey, r.functionId]),
    );
    expect(routes).toEqual({
      $connect: 'ConnectFunction',
      $disconnect: 'DisconnectFunction',
      $default: 'DefaultFunction',
      echo: 'EchoFunction',
      fail: 'FailFunction',
      slow: 'SlowFunction',
      oneway: 'OneWayFunction',
      selfpost: 'SelfPostFunction',
      info: 'InfoFunction',
      infoOther: 'InfoOtherFunction',
    });
  });

  it('marks two-way routes (route response $default) and attaches the REQUEST authorizer to $connect', () => {
    expect(api?.routes.get('echo')?.twoWay).toBe(true);
    expect(api?.routes.get('oneway')?.twoWay).toBe(false);
    const connect = api?.routes.get('$connect');
    expect(connect?.authorizationType).toBe('CUSTOM');
    expect(connect?.authorizer).toMatchObject({
      type: 'REQUEST',
      functionId: 'AuthorizerFunction',
      identitySources: ['route.request.querystring.token'],
    });
  });

  it('resolves functions: source file from EntryPoints/Handler, Globals, Timeout via FindInMap, FunctionName via Sub', () => {
    const echo = model.functions.get('EchoFunction');
    expect(echo?.name).toBe('fx-echo');
    expect(echo?.sourceFile).toMatch(/fixtures\/handlers\/echo\.ts$/);
    expect(model.functions.get('AuthorizerFunction')?.sourceFile).toMatch(/handlers\/authorizer\.ts$/);
    expect(model.functions.get('SlowFunction')?.timeoutSeconds).toBe(1);
    expect(model.functions.get('EchoFunction')?.timeoutSeconds).toBe(3);
    expect(model.functions.get('InfoFunction')?.memoryMb).toBe(512);
    expect(model.functions.has('NeverFunction')).toBe(false);
  });

  it('resolves environments; unresolvable values are empty and listed', () => {
    const info = model.functions.get('InfoFunction');
    expect(info?.environment).toMatchObject({
      GLOBAL_VAR: 'us-east-1-global',
      GREETING: 'hello, fixture',
      SHARED_NAME: 'from-info',
      CACHE_HOST: '',
      CACHE_URL: '',
      FIRST_SUBNET: 'subnet-a',
      JOINED: 'a|123456789012|y',
      ENCODED: 'aGk=',
      QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/fx-publish',
      IMPORTED: '',
    });
    expect(info?.environment).not.toHaveProperty('NO_VALUE');
    expect(info?.unresolvedEnvironment.sort()).toEqual(['CACHE_HOST', 'CACHE_URL', 'IMPORTED']);
  });

  it('finds SQS event sources with batch size and partial batch responses', () => {
    expect(model.sqsSources).toEqual([
      expect.objectContaining({
        functionId: 'PublishFunction',
        queueLogicalId: 'PublishQueue',
        queueName: 'fx-publish',
        batchSize: 5,
        reportBatchItemFailures: true,
        enabled: true,
      }),
    ]);
    expect(model.queues.get('PublishQueue')?.properties).toMatchObject({
      VisibilityTimeout: 1,
      RedrivePolicy: {
        deadLetterTargetArn: 'arn:aws:sqs:us-east-1:123456789012:PublishDeadLetterQueue',
        maxReceiveCount: 3,
      },
    });
  });

  it('applies parameter overrides to conditions: without $default the route and its function are gone', () => {
    const without = loadTemplate(FIXTURE_TEMPLATE, {
      parameterOverrides: { WithDefaultRoute: 'false', Greeting: 'hi' },
    });
    expect(without.webSocketApi?.routes.has('$default')).toBe(false);
    expect(without.functions.has('DefaultFunction')).toBe(false);
    expect(without.functions.get('InfoFunction')?.environment.GREETING).toBe('hi, fixture');
    expect(without.functions.get('InfoFunction')?.environment.NO_VALUE).toBe('present');
  });
});

describe('The project template, as the local stacks load it', () => {
  const model = loadTemplate(PROJECT_TEMPLATE, {});
  const redisFunctions = ['ConnectFunction', 'SendMessageFunction', 'ResumeFunction', 'PublishFunction'];
  const local = (overrides: Partial<LocalFunctionEnv> = {}) =>
    new FunctionRuntime({
      functions: model.functions,
      envOverrides: localFunctionEnv({
        redisUrl: 'redis://127.0.0.1:6379',
        jwtSecret: 'secret',
        managementEndpoint: 'http://127.0.0.1:3001/local',
        ...overrides,
      }),
      log: () => {},
    }).environments;

  it('loads without warnings', () => {
    expect(model.warnings).toEqual([]);
  });

  it('gives the publish function the queue’s own visibility timeout and maximum receives (one source)', () => {
    const check = (m: typeof model, visibility: string, receives: string) => {
      const queue = m.queues.get('PublishQueue')?.properties as Record<string, unknown>;
      const env = m.functions.get('PublishFunction')?.environment;
      expect(String(queue.VisibilityTimeout)).toBe(visibility);
      expect(String((queue.RedrivePolicy as Record<string, unknown>).maxReceiveCount)).toBe(receives);
      expect(env?.PUBLISH_VISIBILITY_TIMEOUT_SECONDS).toBe(visibility);
      expect(env?.PUBLISH_MAX_RECEIVES).toBe(receives);
    };
    check(model, '180', '5');
    check(
      loadTemplate(PROJECT_TEMPLATE, {
        parameterOverrides: { PublishVisibilityTimeoutSeconds: '60', PublishMaxReceives: '3' },
      }),
      '60',
      '3',
    );
  });

  it('passes the delivery parameters to every function (template defaults)', () => {
    for (const id of redisFunctions) {
      expect(model.functions.get(id)?.environment).toMatchObject({
        MIN_REPLICA_ACKS: '1',
        REPLICA_ACK_TIMEOUT_MS: '250',
        ROOM_HISTORY_BYTES: '4194304',
      });
    }
  });

  it('runs the functions locally with MIN_REPLICA_ACKS 0 (no replica), the template’s timeout and PUBLISH_*', () => {
    const environments = local();
    for (const id of redisFunctions) {
      expect(environments.get(id)).toMatchObject({
        MIN_REPLICA_ACKS: '0',
        REPLICA_ACK_TIMEOUT_MS: '250',
        REDIS_URL: 'redis://127.0.0.1:6379',
      });
    }
    expect(environments.get('PublishFunction')).toMatchObject({
      PUBLISH_VISIBILITY_TIMEOUT_SECONDS: '180',
      PUBLISH_MAX_RECEIVES: '5',
    });
    expect(local({ minReplicaAcks: 1, replicaAckTimeoutMs: 100 }).get('SendMessageFunction')).toMatchObject({
      MIN_REPLICA_ACKS: '1',
      REPLICA_ACK_TIMEOUT_MS: '100',
    });
  });

  it('takes REDIS_URL, MIN_REPLICA_ACKS and REPLICA_ACK_TIMEOUT_MS from the environment the process started with', () => {
    const names = ['REDIS_URL', 'MIN_REPLICA_ACKS', 'REPLICA_ACK_TIMEOUT_MS'] as const;
    const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
    Object.assign(process.env, {
      REDIS_URL: 'redis://10.0.0.1:6380',
      MIN_REPLICA_ACKS: '2',
      REPLICA_ACK_TIMEOUT_MS: '120',
    });
    let isolated: typeof import('../../local/function-env') | undefined;
    try {
      jest.isolateModules(() => {
        isolated = require('../../local/function-env');
      });
    } finally {
      for (const name of names) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
    const fresh = isolated as typeof import('../../local/function-env');
    // Read once at load: what a running local stack later writes into process.env does not count.
    process.env.MIN_REPLICA_ACKS = '5';
    try {
      expect(fresh.userRedisUrl()).toBe('redis://10.0.0.1:6380');
      expect(fresh.localMinReplicaAcks()).toEqual({ value: '2', origin: 'MIN_REPLICA_ACKS' });
      expect(
        fresh.localFunctionEnv({ redisUrl: 'redis://x', jwtSecret: 's', managementEndpoint: 'http://m' }),
      ).toMatchObject({ MIN_REPLICA_ACKS: '2', REPLICA_ACK_TIMEOUT_MS: '120' });
    } finally {
      if (saved.MIN_REPLICA_ACKS === undefined) delete process.env.MIN_REPLICA_ACKS;
      else process.env.MIN_REPLICA_ACKS = saved.MIN_REPLICA_ACKS;
    }
  });
});
