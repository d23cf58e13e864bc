/**
 * The template reader: every intrinsic short form, parameters, pseudo parameters, conditions, Globals,
 * and what it extracts from the fixture (routes, integrations, authorizer, stage, functions, SQS); then the
 * project's template.yaml as the local stacks run it (the environment local/function-env.ts lays over it), and
 * its modes (CacheMode, Egress) as CloudFormation would create them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Metric } from '../../layers/shared/src/observability';
import { parseCfnYaml } from '../../local/cfn-yaml';
import { type LocalFunctionEnv, localFunctionEnv } from '../../local/function-env';
import { Gateway } from '../../local/gateway';
import {
  cidr,
  evaluateCondition,
  type IntrinsicScope,
  NO_VALUE,
  resolve,
  Unresolved,
} from '../../local/intrinsics';
import { FunctionRuntime } from '../../local/lambda-runtime';
import { loadTemplate, mergeGlobals, TemplateRefusedError } from '../../local/template';
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

/** A WebSocket API template in a temp dir whose handlers are the fixture's; `resources` replaces or adds resources. */
function writeTemplate(resources: string, top = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'refused-'));
  const handlers = join(__dirname, 'fixtures', 'handlers');
  const file = join(dir, 'template.yaml');
  writeFileSync(
    file,
    `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
${top}
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties: { CodeUri: ${handlers}, Handler: echo.handler, Runtime: nodejs20.x }
  AuthorizerFunction:
    Type: AWS::Serverless::Function
    Properties: { CodeUri: ${handlers}, Handler: authorizer.handler, Runtime: nodejs20.x }
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: { Name: t, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action }
  Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:\${AWS::Region}:lambda:path/2015-03-31/functions/\${EchoFunction.Arn}/invocations
  Authorizer:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      Name: auth
      ApiId: !Ref Api
      AuthorizerType: REQUEST
      AuthorizerUri: !Sub arn:aws:apigateway:\${AWS::Region}:lambda:path/2015-03-31/functions/\${AuthorizerFunction.Arn}/invocations
      IdentitySource: [route.request.querystring.token]
  SendRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref Api, RouteKey: sendMessage, Target: !Sub "integrations/\${Integration}" }
${resources}`,
  );
  return file;
}

function refusal(file: string): string[] {
  try {
    loadTemplate(file);
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateRefusedError);
    return (error as Error).message.split('\n');
  } finally {
    rmSync(dirname(file), { recursive: true, force: true });
  }
  throw new Error(`${file} was accepted`);
}

describe('Function: loadTemplate refuses what CloudFormation refuses', () => {
  it('accepts the base template (and refs to what the SAM transform creates)', () => {
    const file = writeTemplate(`
  Role:
    Type: AWS::IAM::Role
    Properties: { AssumeRolePolicyDocument: {}, Tags: [{ Key: r, Value: !GetAtt EchoFunctionRole.Arn }] }
`);
    expect(loadTemplate(file).webSocketApi?.routes.get('sendMessage')?.functionId).toBe('EchoFunction');
    rmSync(dirname(file), { recursive: true, force: true });
  });

  it('two routes with one RouteKey', () => {
    expect(
      refusal(
        writeTemplate(`
  SendRoute2:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref Api, RouteKey: sendMessage, Target: !Sub "integrations/\${Integration}" }
`),
      ),
    ).toEqual([
      'template.yaml: routes SendRoute and SendRoute2 both have RouteKey sendMessage (CloudFormation refuses this)',
    ]);
  });

  it('a route whose Target refers to a missing integration, or names none of the API', () => {
    expect(
      refusal(
        writeTemplate(`
  OtherRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref Api, RouteKey: other, Target: !Sub "integrations/\${MissingIntegration}" }
  LiteralRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref Api, RouteKey: literal, Target: integrations/abc123 }
`),
      ),
    ).toEqual([
      'template.yaml: resource OtherRoute refers to MissingIntegration (${MissingIntegration}), which is neither a parameter nor a resource of the template (CloudFormation refuses this)',
      'template.yaml: route LiteralRoute (RouteKey literal): Target integrations/abc123 names no integration of API Api (CloudFormation refuses this)',
    ]);
  });

  it('an integration whose function does not exist', () => {
    expect(
      refusal(
        writeTemplate(`
  GoneIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:\${AWS::Region}:lambda:path/2015-03-31/functions/\${GoneFunction.Arn}/invocations
`),
      ),
    ).toEqual([
      'template.yaml: resource GoneIntegration refers to GoneFunction (${GoneFunction.Arn}), which is neither a parameter nor a resource of the template (CloudFormation refuses this)',
    ]);
  });

  it('authorizers: a missing one, one of no API, CUSTOM without AuthorizerId, on another route than $connect, JWT', () => {
    expect(
      refusal(
        writeTemplate(`
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref Api, RouteKey: $connect, AuthorizationType: CUSTOM, AuthorizerId: !Ref MissingAuthorizer }
  DisconnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref Api, RouteKey: $disconnect, AuthorizationType: CUSTOM, AuthorizerId: abc }
  DefaultRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref Api, RouteKey: $default, AuthorizationType: CUSTOM }
  JwtAuthorizer:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties: { Name: jwt, ApiId: !Ref Api, AuthorizerType: JWT }
`),
      ),
    ).toEqual([
      'template.yaml: resource ConnectRoute refers to MissingAuthorizer (!Ref MissingAuthorizer), which is neither a parameter nor a resource of the template (CloudFormation refuses this)',
      'template.yaml: authorizer JwtAuthorizer has AuthorizerType JWT: WebSocket APIs take REQUEST authorizers only (CloudFormation refuses this)',
      'template.yaml: route DisconnectRoute (RouteKey $disconnect) has AuthorizationType CUSTOM: API Gateway authorizes $connect only (CloudFormation refuses this)',
      'template.yaml: route DisconnectRoute (RouteKey $disconnect): AuthorizerId abc names no authorizer of API Api (CloudFormation refuses this)',
      'template.yaml: route DefaultRoute (RouteKey $default) has AuthorizationType CUSTOM: API Gateway authorizes $connect only (CloudFormation refuses this)',
      'template.yaml: route DefaultRoute (RouteKey $default) has AuthorizationType CUSTOM and no AuthorizerId (CloudFormation refuses this)',
    ]);
  });

  it('a WebSocket API without RouteSelectionExpression, a route without RouteKey', () => {
    const file = writeTemplate(`
  Bare:
    Type: AWS::ApiGatewayV2::Api
    Properties: { Name: bare, ProtocolType: WEBSOCKET }
  KeylessRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref Api, Target: !Sub "integrations/\${Integration}" }
`);
    expect(refusal(file)).toEqual([
      'template.yaml: AWS::ApiGatewayV2::Route KeylessRoute has no RouteKey (required) (CloudFormation refuses this)',
      'template.yaml: WebSocket API Bare has no RouteSelectionExpression (required for ProtocolType WEBSOCKET) (CloudFormation refuses this)',
    ]);
  });

  it('a route whose integration this configuration does not create; undefined refs in Outputs and DependsOn', () => {
    const file = writeTemplate(
      `
  LaterIntegration:
    Type: AWS::ApiGatewayV2::Integration
    Condition: Never
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub arn:aws:apigateway:\${AWS::Region}:lambda:path/2015-03-31/functions/\${EchoFunction.Arn}/invocations
  LaterRoute:
    Type: AWS::ApiGatewayV2::Route
    DependsOn: [Integration, Ghost]
    Properties: { ApiId: !Ref Api, RouteKey: later, Target: !Sub "integrations/\${LaterIntegration}" }
Outputs:
  Url:
    Value: !Sub wss://\${Api}.execute-api.\${AWS::Region}.amazonaws.com/\${Stage}
`,
      'Conditions:\n  Never: !Equals [a, b]',
    );
    expect(refusal(file)).toEqual([
      'template.yaml: resource LaterRoute DependsOn Ghost, which is not a resource of the template (CloudFormation refuses this)',
      'template.yaml: output Url refers to Stage (${Stage}), which is neither a parameter nor a resource of the template (CloudFormation refuses this)',
      'template.yaml: route LaterRoute (RouteKey later): Target refers to LaterIntegration, which this configuration does not create (its Condition Never is false) (CloudFormation refuses this)',
    ]);
  });

  it('Gateway.start refuses such a template with the reasons', async () => {
    const file = writeTemplate(`
  SendRoute2:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref Api, RouteKey: sendMessage, Target: !Sub "integrations/\${Integration}" }
`);
    try {
      await expect(Gateway.start({ templatePath: file, port: 0, logger: () => {} })).rejects.toThrow(
        'template.yaml: routes SendRoute and SendRoute2 both have RouteKey sendMessage (CloudFormation refuses this)',
      );
    } finally {
      rmSync(dirname(file), { recursive: true, force: true });
    }
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

/**
 * The template's modes as CloudFormation would create them: which resources exist (their conditions), what they
 * resolve to (resource values stand in as `<LogicalId>` / `<LogicalId.Attribute>`), and the Rules. cfn-lint checks
 * every branch against the resource schemas but ignores parameter values; this checks the values of each mode.
 */
describe('The project template’s modes (CacheMode, Egress)', () => {
  /** Resolved template values: the assertions walk them freely (a missing path fails the expectation). */
  // biome-ignore lint/suspicious/noExplicitAny: template JSON of every shape, checked by the expectations
  type Loose = any;
  const doc = parseCfnYaml(readFileSync(PROJECT_TEMPLATE, 'utf8')) as Record<string, Record<string, unknown>>;
  type Resource = { Type: string; Condition?: string; Properties?: Record<string, unknown> };
  const declared = doc.Resources as Record<string, Resource>;

  function configuration(overrides: Record<string, string> = {}) {
    const params: Record<string, unknown> = {
      'AWS::Region': 'us-east-1',
      'AWS::AccountId': '123456789012',
      'AWS::StackName': 'stack',
      'AWS::StackId':
        'arn:aws:cloudformation:us-east-1:123456789012:stack/stack/1a2b3c4d-0000-0000-0000-000000000000',
      'AWS::Partition': 'aws',
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::NoValue': NO_VALUE,
    };
    for (const [name, decl] of Object.entries(doc.Parameters as Record<string, Record<string, unknown>>)) {
      const value = overrides[name] ?? String(decl.Default ?? '');
      params[name] = decl.Type === 'CommaDelimitedList' ? value.split(',') : value;
    }
    for (const name of Object.keys(overrides)) expect(params).toHaveProperty(name);
    const cache = new Map<string, boolean>();
    const s: IntrinsicScope = {
      region: 'us-east-1',
      mappings: doc.Mappings as Record<string, unknown>,
      refParameter: (name) => params[name],
      refResource: (id) => `<${id}>`,
      // A list attribute (the VPC's IPv6 blocks) is only known once deployed.
      getAtt: (id, attribute) =>
        attribute === 'Ipv6CidrBlocks' ? new Unresolved(`${id}.${attribute}`) : `<${id}.${attribute}>`,
      condition(name) {
        if (!cache.has(name)) cache.set(name, evaluateCondition(doc.Conditions?.[name], s));
        return cache.get(name) as boolean;
      },
    };
    const exists = (id: string) => {
      const condition = declared[id]?.Condition;
      return declared[id] !== undefined && (condition === undefined || s.condition(condition));
    };
    const ids = Object.keys(declared).filter(exists);
    const ofType = (type: string) => ids.filter((id) => declared[id]?.Type === type);
    const props = (id: string) => {
      expect(exists(id)).toBe(true);
      return resolve(declared[id]?.Properties ?? {}, s) as Record<string, Loose>;
    };
    /** A rule's assertions (the functions Rules allow), true when they all hold or the rule does not apply. */
    const rule = (name: string): boolean => {
      const decl = (
        doc.Rules as Record<string, { RuleCondition?: unknown; Assertions: { Assert: unknown }[] }>
      )[name] as { RuleCondition?: unknown; Assertions: { Assert: unknown }[] };
      const holds = (expr: unknown): boolean => {
        const [fn, arg] = Object.entries(expr as Record<string, unknown>)[0] as [string, Loose];
        const value = (v: unknown) => resolve(v, s);
        switch (fn) {
          case 'Fn::And':
            return arg.every(holds);
          case 'Fn::Or':
            return arg.some(holds);
          case 'Fn::Not':
            return !holds(arg[0]);
          case 'Fn::Equals':
            return String(value(arg[0])) === String(value(arg[1]));
          case 'Fn::Contains':
            return (value(arg[0]) as unknown[]).map(String).includes(String(value(arg[1])));
          case 'Fn::EachMemberEquals':
            return (value(arg[0]) as unknown[]).every((m) => String(m) === String(value(arg[1])));
          default:
            throw new Error(`rule function ${fn}`);
        }
      };
      if (decl.RuleCondition !== undefined && !holds(decl.RuleCondition)) return true;
      return decl.Assertions.every((a) => holds(a.Assert));
    };
    return { ids, ofType, props, exists, condition: (name: string) => s.condition(name), rule };
  }

  const caches = (c: ReturnType<typeof configuration>) => [
    ...c.ofType('AWS::ElastiCache::ReplicationGroup'),
    ...c.ofType('AWS::ElastiCache::ServerlessCache'),
  ];
  const vpcFunctions = (c: ReturnType<typeof configuration>) =>
    c.ofType('AWS::Serverless::Function').filter((id) => c.props(id).VpcConfig !== undefined);

  it('ReplicationGroup (default): one replication group, cluster mode off, the noeviction parameter group', () => {
    const c = configuration();
    expect(caches(c)).toEqual(['Redis']);
    const redis = c.props('Redis');
    expect(redis).toMatchObject({ NumCacheClusters: '2', CacheParameterGroupName: '<RedisParameterGroup>' });
    for (const key of ['ClusterMode', 'NumNodeGroups', 'ReplicasPerNodeGroup'])
      expect(redis).not.toHaveProperty(key);
    expect(c.props('RedisParameterGroup').Properties).toEqual({ 'maxmemory-policy': 'noeviction' });
    expect(c.exists('RedisClusterParameterGroup')).toBe(false);
    expect(c.ofType('AWS::ElastiCache::User')).toEqual([]);
  });

  it('Cluster: one replication group with ShardCount node groups of 1 + ReplicaCount nodes, cluster-enabled noeviction', () => {
    const c = configuration({
      CacheMode: 'Cluster',
      ShardCount: '3',
      ReplicaCount: '2',
      MinReplicaAcks: '2',
    });
    expect(caches(c)).toEqual(['Redis']);
    const redis = c.props('Redis');
    expect(redis).toMatchObject({
      ClusterMode: 'Enabled',
      NumNodeGroups: '3',
      ReplicasPerNodeGroup: '2',
      CacheParameterGroupName: '<RedisClusterParameterGroup>',
      AutomaticFailoverEnabled: true,
      MultiAZEnabled: true,
    });
    expect(redis).not.toHaveProperty('NumCacheClusters');
    expect(c.props('RedisClusterParameterGroup')).toMatchObject({
      CacheParameterGroupFamily: 'valkey8',
      Properties: { 'cluster-enabled': 'yes', 'maxmemory-policy': 'noeviction' },
    });
    expect(c.exists('RedisParameterGroup')).toBe(false);
    expect(c.rule('ClusterSizeWithinAlarmLimit')).toBe(true);
    expect(c.rule('MinReplicaAcksWithinReplicaCount')).toBe(true);
  });

  it('Serverless: one serverless Valkey cache, a user group with a switched-off default user, the usage limits', () => {
    const c = configuration({
      CacheMode: 'Serverless',
      ServerlessMaxDataStorageGb: '2',
      ServerlessMaxEcpuPerSecond: '5000',
      RedisTls: 'false',
    });
    expect(caches(c)).toEqual(['ServerlessCache']);
    expect(c.ofType('AWS::ElastiCache::SubnetGroup')).toEqual([]);
    expect(c.ofType('AWS::ElastiCache::ParameterGroup')).toEqual([]);
    expect(c.props('ServerlessCache')).toMatchObject({
      Engine: 'valkey',
      ServerlessCacheName: 'classroom-1a2b3c4d',
      UserGroupId: '<RedisUserGroup>',
      SecurityGroupIds: ['<RedisSecurityGroup>'],
      SubnetIds: ['<PrivateSubnetA>', '<PrivateSubnetB>'],
      CacheUsageLimits: { DataStorage: { Maximum: '2', Unit: 'GB' }, ECPUPerSecond: { Maximum: '5000' } },
    });
    expect(c.props('RedisUserGroup')).toMatchObject({
      Engine: 'valkey',
      UserIds: ['<RedisDefaultUser>', '<RedisAppUser>'],
    });
    expect(c.props('RedisDefaultUser')).toMatchObject({ UserName: 'default', AccessString: 'off -@all' });
    const app = c.props('RedisAppUser');
    expect(app.UserName).toBe(app.UserId);
    expect(app.AuthenticationMode).toEqual({
      Type: 'password',
      Passwords: ['{{resolve:secretsmanager:<RedisAuthSecret>}}'],
    });
    // RedisTls=false (an emulator setting) does not switch off the auth secret the user's password is.
    expect(c.exists('RedisAuthSecret')).toBe(true);
    // MinReplicaAcks (default 1) is not checked against replicas here: the functions get 0.
    expect(c.rule('MinReplicaAcksWithinReplicaCount')).toBe(true);
  });

  it('refuses a cluster of more than 10 nodes (an alarm watches at most 10 metrics) and has node ids for every other', () => {
    for (const shards of [1, 2, 3, 4, 5]) {
      for (const replicas of [1, 2, 3, 4, 5]) {
        const c = configuration({
          CacheMode: 'Cluster',
          ShardCount: String(shards),
          ReplicaCount: String(replicas),
        });
        expect({ shards, replicas, allowed: c.rule('ClusterSizeWithinAlarmLimit') }).toEqual({
          shards,
          replicas,
          allowed: shards * (1 + replicas) <= 10,
        });
      }
    }
  });

  /** The CacheClusterId of every node an alarm watches, and its expression. */
  function alarmNodes(c: ReturnType<typeof configuration>, alarm: string) {
    const metrics = c.props(alarm).Metrics as Record<string, Loose>[];
    const [expression, ...nodes] = metrics;
    expect(nodes.map((m) => m.Id)).toEqual(nodes.map((_, i) => `n${i + 1}`));
    expect(expression?.Expression).toBe(
      `${expression?.Id === 'total' ? 'SUM' : 'MAX'}([${nodes.map((m) => m.Id).join(', ')}])`,
    );
    return nodes.map((m) => m.MetricStat.Metric.Dimensions[0].Value);
  }

  it('the Redis alarms watch every node: <id>-00N in ReplicationGroup mode, <id>-000S-00N per shard in Cluster mode', () => {
    const alarms = ['RedisCpuAlarm', 'RedisMemoryAlarm', 'RedisEvictionsAlarm', 'RedisReplicationLagAlarm'];
    for (const replicas of [1, 2, 3, 4, 5]) {
      const c = configuration({ ReplicaCount: String(replicas) });
      const expected = Array.from({ length: 1 + replicas }, (_, n) => `<Redis>-00${n + 1}`);
      for (const alarm of alarms) expect(alarmNodes(c, alarm)).toEqual(expected);
    }
    for (const shards of [1, 2, 3, 4, 5]) {
      for (const replicas of [1, 2, 3, 4, 5]) {
        if (shards * (1 + replicas) > 10) continue;
        const c = configuration({
          CacheMode: 'Cluster',
          ShardCount: String(shards),
          ReplicaCount: String(replicas),
        });
        const expected = Array.from({ length: shards }, (_, s) =>
          Array.from({ length: 1 + replicas }, (_, n) => `<Redis>-000${s + 1}-00${n + 1}`),
        ).flat();
        for (const alarm of alarms) expect(alarmNodes(c, alarm)).toEqual(expected);
      }
    }
    for (const alarm of [...alarms, 'LambdaErrorsAlarm']) {
      expect(configuration({ MetricMathAlarms: 'false' }).exists(alarm)).toBe(false);
    }
  });

  it('Serverless alarms: storage and ECPU against the usage limits, throttling, evictions, on clusterId', () => {
    const c = configuration({
      CacheMode: 'Serverless',
      ServerlessMaxDataStorageGb: '3',
      ServerlessMaxEcpuPerSecond: '4000',
    });
    for (const alarm of [
      'RedisCpuAlarm',
      'RedisMemoryAlarm',
      'RedisEvictionsAlarm',
      'RedisReplicationLagAlarm',
    ]) {
      expect(c.exists(alarm)).toBe(false);
    }
    const dimension = [{ Name: 'clusterId', Value: '<ServerlessCache>' }];
    const storage = c.props('ServerlessStorageAlarm').Metrics;
    expect(storage[0].Expression).toBe('100 * bytes / (3 * 1000000000)');
    expect(storage[1].MetricStat.Metric).toEqual({
      Namespace: 'AWS/ElastiCache',
      MetricName: 'BytesUsedForCache',
      Dimensions: dimension,
    });
    const ecpu = c.props('ServerlessEcpuAlarm').Metrics;
    expect(ecpu[0].Expression).toBe('100 * ecpu / 60 / 4000');
    expect(ecpu[1].MetricStat.Metric.MetricName).toBe('ElastiCacheProcessingUnits');
    expect(c.props('ServerlessThrottledAlarm')).toMatchObject({
      MetricName: 'ThrottledCmds',
      Dimensions: dimension,
    });
    expect(c.props('ServerlessEvictionsAlarm')).toMatchObject({
      MetricName: 'Evictions',
      Dimensions: dimension,
    });
    for (const alarm of ['ServerlessStorageAlarm', 'ServerlessEcpuAlarm', 'ServerlessThrottledAlarm']) {
      expect(configuration().exists(alarm)).toBe(false);
    }
  });

  it('the dashboard is valid JSON in every mode, with the cache widgets of that mode', () => {
    const body = (c: ReturnType<typeof configuration>) =>
      JSON.parse(c.props('Dashboard').DashboardBody as string) as { widgets: { properties: unknown }[] };
    const nodes = JSON.stringify(body(configuration({ CacheMode: 'Cluster' })));
    expect(nodes).toContain('SEARCH(\'{AWS/ElastiCache,CacheClusterId} MetricName=\\"Evictions\\" <Redis>\'');
    expect(nodes).not.toContain('clusterId');
    const serverless = JSON.stringify(body(configuration({ CacheMode: 'Serverless' })));
    expect(serverless).not.toContain('SEARCH');
    expect(serverless).toContain('"AWS/ElastiCache","BytesUsedForCache","clusterId","<ServerlessCache>"');
    for (const metric of [
      'BytesUsedForCache',
      'ElastiCacheProcessingUnits',
      'ThrottledCmds',
      'Evictions',
      'CurrItems',
    ]) {
      expect(serverless).toContain(`"${metric}"`);
    }
  });

  it('reads exactly the custom metrics the functions emit (each one a billed custom metric)', () => {
    const text = readFileSync(PROJECT_TEMPLATE, 'utf8');
    const read = new Set<string>();
    for (const m of text.matchAll(
      /\[\s*"ClassroomRealtime"\s*,\s*"(\w+)"[^\]]*\]((?:,\[\s*"\."\s*,\s*"\w+"[^\]]*\])*)/g,
    )) {
      read.add(m[1] as string);
      for (const more of (m[2] as string).matchAll(/"\."\s*,\s*"(\w+)"/g)) read.add(more[1] as string);
    }
    for (const m of text.matchAll(/Namespace: ClassroomRealtime\n\s+MetricName: (\w+)/g))
      read.add(m[1] as string);
    expect([...read].sort()).toEqual(Object.values(Metric).sort());
  });

  it('Egress=Ipv6: dual-stack private subnets, an egress-only internet gateway and ::/0 routes, no NAT, no EIP', () => {
    const c = configuration({ Egress: 'Ipv6' });
    for (const type of ['AWS::EC2::NatGateway', 'AWS::EC2::EIP', 'AWS::EC2::InternetGateway']) {
      expect(c.ofType(type)).toEqual([]);
    }
    expect(c.ids.filter((id) => id.startsWith('Public'))).toEqual([]);
    expect(c.ofType('AWS::EC2::VPCCidrBlock').map((id) => c.props(id))).toEqual([
      { VpcId: '<Vpc>', AmazonProvidedIpv6CidrBlock: true },
    ]);
    expect(c.ofType('AWS::EC2::EgressOnlyInternetGateway')).toEqual(['EgressOnlyInternetGateway']);
    const routes = c.ofType('AWS::EC2::Route').map((id) => c.props(id));
    expect(routes).toEqual([
      {
        RouteTableId: '<PrivateRouteTableA>',
        DestinationIpv6CidrBlock: '::/0',
        EgressOnlyInternetGatewayId: '<EgressOnlyInternetGateway>',
      },
      {
        RouteTableId: '<PrivateRouteTableB>',
        DestinationIpv6CidrBlock: '::/0',
        EgressOnlyInternetGatewayId: '<EgressOnlyInternetGateway>',
      },
    ]);
    for (const subnet of ['PrivateSubnetA', 'PrivateSubnetB']) {
      expect(c.props(subnet)).toMatchObject({ AssignIpv6AddressOnCreation: true });
      expect(c.props(subnet)).toHaveProperty('Ipv6CidrBlock');
    }
    expect(vpcFunctions(c).length).toBe(7);
    for (const id of vpcFunctions(c)) expect(c.props(id).VpcConfig.Ipv6AllowedForDualStack).toBe(true);
    expect(c.props('WebSocketApi').IpAddressType).toBe('dualstack');
    expect(c.props('FunctionSecurityGroup').SecurityGroupEgress).toContainEqual(
      expect.objectContaining({ CidrIpv6: '::/0', FromPort: 443, ToPort: 443 }),
    );
    const env = loadTemplate(PROJECT_TEMPLATE, { parameterOverrides: { Egress: 'Ipv6' } });
    expect(env.warnings).toEqual([]);
    expect(env.functions.get('SendMessageFunction')?.environment.NODE_OPTIONS).toBe(
      '--enable-source-maps --dns-result-order=ipv6first',
    );
  });

  it('Egress=Nat (default): public subnets, NAT gateways with their EIPs, no IPv6', () => {
    const shared = configuration();
    expect(shared.ofType('AWS::EC2::NatGateway')).toEqual(['NatGatewayA']);
    expect(shared.ofType('AWS::EC2::EIP')).toEqual(['NatEipA']);
    expect(shared.ofType('AWS::EC2::EgressOnlyInternetGateway')).toEqual([]);
    expect(shared.ofType('AWS::EC2::VPCCidrBlock')).toEqual([]);
    expect(shared.props('PrivateSubnetA')).not.toHaveProperty('Ipv6CidrBlock');
    expect(shared.props('WebSocketApi')).not.toHaveProperty('IpAddressType');
    for (const id of vpcFunctions(shared))
      expect(shared.props(id).VpcConfig).not.toHaveProperty('Ipv6AllowedForDualStack');
    expect(configuration({ NatGateways: 'PerAz' }).ofType('AWS::EC2::NatGateway')).toEqual([
      'NatGatewayA',
      'NatGatewayB',
    ]);
    // Existing subnets: the stack creates no network; Egress=Ipv6 sets only the function and API side.
    const existing = configuration({
      NetworkMode: 'ExistingSubnets',
      Egress: 'Ipv6',
      ExistingVpcId: 'vpc-1',
      ExistingSubnetIds: 'subnet-1,subnet-2',
    });
    expect(
      existing.ids.filter(
        (id) =>
          declared[id]?.Type.startsWith('AWS::EC2::') &&
          id !== 'FunctionSecurityGroup' &&
          id !== 'RedisSecurityGroup',
      ),
    ).toEqual([]);
    expect(existing.props('WebSocketApi').IpAddressType).toBe('dualstack');
  });

  it('gives the functions the cluster client, the endpoint, the user and MIN_REPLICA_ACKS of each cache mode', () => {
    const envOf = (overrides: Record<string, string>) => {
      const model = loadTemplate(PROJECT_TEMPLATE, { parameterOverrides: overrides });
      expect(model.warnings).toEqual([]);
      return model.functions.get('SendMessageFunction') as NonNullable<
        ReturnType<typeof model.functions.get>
      >;
    };
    const rg = envOf({});
    expect(rg.environment).toMatchObject({
      REDIS_CLUSTER: 'false',
      REDIS_USERNAME: '',
      MIN_REPLICA_ACKS: '1',
      REDIS_TLS: 'true',
    });
    const cluster = envOf({ CacheMode: 'Cluster' });
    expect(cluster.environment).toMatchObject({
      REDIS_CLUSTER: 'true',
      REDIS_USERNAME: '',
      MIN_REPLICA_ACKS: '1',
    });
    const serverless = envOf({ CacheMode: 'Serverless', RedisTls: 'false' });
    expect(serverless.environment).toMatchObject({
      REDIS_CLUSTER: 'true',
      MIN_REPLICA_ACKS: '0',
      REDIS_TLS: 'true',
    });
    // Endpoints, the user and the secret exist once deployed.
    expect(serverless.unresolvedEnvironment).toEqual(
      expect.arrayContaining(['REDIS_HOST', 'REDIS_PORT', 'REDIS_USERNAME', 'REDIS_AUTH_SECRET_ARN']),
    );
    const resolved = (overrides: Record<string, string>) => {
      const c = configuration(overrides);
      return resolve(
        (doc.Globals as Record<string, Loose>).Function.Environment.Variables,
        // The same scope as configuration(): re-resolve through a throwaway resource lookup.
        {
          region: 'us-east-1',
          mappings: doc.Mappings as Record<string, unknown>,
          refParameter: (name) => overrides[name] ?? (doc.Parameters as Loose)[name]?.Default,
          refResource: (id) => `<${id}>`,
          getAtt: (id, attribute) => `<${id}.${attribute}>`,
          condition: (name) => c.condition(name),
        },
      ) as Record<string, string>;
    };
    expect(resolved({})).toMatchObject({
      REDIS_HOST: '<Redis.PrimaryEndPoint.Address>',
      REDIS_PORT: '<Redis.PrimaryEndPoint.Port>',
    });
    expect(resolved({ CacheMode: 'Cluster' })).toMatchObject({
      REDIS_HOST: '<Redis.ConfigurationEndPoint.Address>',
      REDIS_PORT: '<Redis.ConfigurationEndPoint.Port>',
    });
    expect(resolved({ CacheMode: 'Serverless' })).toMatchObject({
      REDIS_HOST: '<ServerlessCache.Endpoint.Address>',
      REDIS_USERNAME: '<RedisAppUser>',
      REDIS_AUTH_SECRET_ARN: '<RedisAuthSecret>',
    });
  });

  it('log levels and tracing are parameters; Powertools gets the application log level too', () => {
    const globals = (doc.Globals as Record<string, Loose>).Function;
    expect(globals.LoggingConfig).toEqual({
      LogFormat: 'JSON',
      ApplicationLogLevel: { Ref: 'LogLevel' },
      SystemLogLevel: { Ref: 'SystemLogLevel' },
    });
    expect(globals.Environment.Variables.POWERTOOLS_LOG_LEVEL).toEqual({ Ref: 'LogLevel' });
    expect(globals.Tracing).toEqual({ Ref: 'Tracing' });
    const params = doc.Parameters as Record<string, Record<string, unknown>>;
    // Never above INFO: Lambda counts the EMF lines (no "level" field) as INFO and would drop the custom metrics.
    expect(params.LogLevel).toMatchObject({ Default: 'INFO', AllowedValues: ['TRACE', 'DEBUG', 'INFO'] });
    expect(params.SystemLogLevel).toMatchObject({ Default: 'WARN' });
    expect(params.Tracing).toMatchObject({
      Default: 'PassThrough',
      AllowedValues: ['Active', 'PassThrough', 'Disabled'],
    });
    expect(configuration().props('Stage').DefaultRouteSettings.DetailedMetricsEnabled).toBe(false);
  });
});
