/**
 * SPEC §7, handlers, as Lambda runs them: a pool of worker threads per function (a worker = a warm execution
 * environment: its own `process.env` with the variables Lambda sets, the template's Environment and the
 * overrides, its own module state, one invocation at a time), cold starts up to `maxConcurrency` then a
 * queue, `Timeout` enforced by ending the worker, crashes confined to their worker, ESM and CommonJS
 * handlers, the runtime's AWS SDK resolvable without installing it, a Lambda context, one log line per
 * invocation.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Gateway } from '../../local/gateway';
import { FunctionRuntime, type InvocationOutcome, runtimeSdk } from '../../local/lambda-runtime';
import { loadTemplate } from '../../local/template';
import { connect, FIXTURE_TEMPLATE, type FixtureGateway, startFixture, waitFor } from './support/clients';

/** A project of its own (no node_modules) written to a temp dir: `files` by relative path. */
function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'emulator-runtime-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const fn = (codeUri: string, handler: string, extra = '') =>
  `{ Type: AWS::Serverless::Function, Properties: { CodeUri: ${codeUri}, Handler: ${handler}${extra} } }`;

const body = (outcome: InvocationOutcome) => JSON.parse((outcome.value as { body: string }).body);

describe('Gateway: functions in worker threads', () => {
  let started: FixtureGateway | undefined;
  /** A fixture gateway closed after the test, whatever happens in it. */
  const start = async (options: Parameters<typeof startFixture>[0] = {}) => {
    started = await startFixture(options);
    return started;
  };
  afterEach(async () => {
    await started?.gateway.close();
    started = undefined;
  });

  it('applies the environment, keeps modules warm and passes a Lambda context', async () => {
    const before = process.env.EXTRA;
    const fixture = await start({
      envOverrides: { EXTRA: 'for-all' },
      functionEnv: { InfoFunction: { CACHE_HOST: 'localhost' } },
    });
    const client = await connect(`${fixture.gateway.url}?token=good`);
    client.send({ action: 'info' });
    const first = JSON.parse(await client.next());
    client.send({ action: 'info' });
    const second = JSON.parse(await client.next());

    expect(first.env).toMatchObject({
      GREETING: 'hello, fixture',
      GLOBAL_VAR: 'us-east-1-global',
      CACHE_HOST: 'localhost',
      CACHE_URL: '',
      IMPORTED: '',
      JOINED: 'a|123456789012|y',
      EXTRA: 'for-all',
      AWS_REGION: 'us-east-1',
    });
    expect(first.invocations).toBe(1);
    expect(second.invocations).toBe(2);
    expect(first.context).toMatchObject({
      functionName: 'InfoFunction',
      memoryLimitInMB: '512',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:InfoFunction',
    });
    expect(first.context.awsRequestId).not.toBe(second.context.awsRequestId);
    expect(first.context.remaining).toBeGreaterThan(2500);
    expect(first.context.remaining).toBeLessThanOrEqual(3000);
    expect(fixture.logs).toContainEqual(
      expect.stringMatching(/^environment: (.*, )?IMPORTED cannot be resolved locally/),
    );
    // The gateway's own process.env is not the functions'.
    expect(process.env.EXTRA).toBe(before);
    expect(process.env.GREETING).toBeUndefined();
    expect(fixture.logs).toContainEqual(
      expect.stringMatching(/^cold start InfoFunction: worker 1 ready in \d+ ms/),
    );

    client.ws.close();
    await fixture.gateway.close();
    expect(fixture.gateway.runtime.stats()).toEqual({});
  });

  it('gives each function its own value of a variable two functions define differently', async () => {
    const fixture = await start();
    expect(fixture.logs.some((line) => line.includes('env conflict'))).toBe(false);
    const client = await connect(`${fixture.gateway.url}?token=good`);
    client.send({ action: 'info' });
    expect(JSON.parse(await client.next()).atColdStart.SHARED_NAME).toBe('from-info');
    client.send({ action: 'infoOther' });
    expect(JSON.parse(await client.next()).atColdStart.SHARED_NAME).toBe('from-info-other');
    client.ws.close();
  });

  it('answers "Endpoint request timed out" when the integration timeout is shorter than the function\'s', async () => {
    const fixture = await start({ integrationTimeoutMs: 300, preload: true });
    const client = await connect(`${fixture.gateway.url}?token=good`);
    const connectionId = fixture.gateway.connectionIds()[0];
    client.send({ action: 'slow', ms: 600 });
    expect(JSON.parse(await client.next())).toMatchObject({
      message: 'Endpoint request timed out',
      connectionId,
    });
    client.ws.close();
  });

  it('keeps serving when a function throws at load, exits or loops forever: only that worker ends', async () => {
    const dir = project({
      'template.yaml': `
Transform: AWS::Serverless-2016-10-31
Globals: { Function: { Runtime: nodejs22.x, Timeout: 1 } }
Resources:
  ConnectFunction: ${fn('src/', 'ok.handler')}
  OkFunction: ${fn('src/', 'ok.handler')}
  InitFunction: ${fn('src/', 'init.handler')}
  ExitFunction: ${fn('src/', 'crash.exit')}
  LoopFunction: ${fn('src/', 'crash.loop')}
  Api: { Type: AWS::ApiGatewayV2::Api, Properties: { Name: crash, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action } }
  Stage: { Type: AWS::ApiGatewayV2::Stage, Properties: { ApiId: !Ref Api, StageName: dev } }
${['Connect', 'Ok', 'Init', 'Exit', 'Loop']
  .map(
    (name) => `  ${name}Integration:
    Type: AWS::ApiGatewayV2::Integration
    Properties: { ApiId: !Ref Api, IntegrationType: AWS_PROXY, IntegrationUri: !Sub "arn:aws:apigateway:\${AWS::Region}:lambda:path/2015-03-31/functions/\${${name}Function.Arn}/invocations" }
  ${name}Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: { ApiId: !Ref Api, RouteKey: ${name === 'Connect' ? '$connect' : name.toLowerCase()}, Target: !Sub "integrations/\${${name}Integration}" }${
      name === 'Connect'
        ? ''
        : `
  ${name}Response:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: { ApiId: !Ref Api, RouteId: !Ref ${name}Route, RouteResponseKey: $default }`
    }`,
  )
  .join('\n')}
`,
      'src/ok.js': `let n = 0;
exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ n: ++n }) });`,
      'src/init.js': `throw new Error('boom at module scope');`,
      'src/crash.js': `exports.exit = async () => { process.exit(3); };
exports.loop = async () => { for (;;) {} };`,
    });
    const logs: string[] = [];
    const gateway = await Gateway.start({
      templatePath: join(dir, 'template.yaml'),
      port: 0,
      logger: (line) => logs.push(line),
    });
    try {
      const client = await connect(gateway.url);
      const ask = async (action: string) => {
        client.send({ action });
        return JSON.parse(await client.next(3000));
      };
      expect(await ask('ok')).toEqual({ n: 1 });
      for (const action of ['init', 'exit', 'loop', 'init']) {
        expect(await ask(action)).toMatchObject({ message: 'Internal server error' });
        // The gateway, the socket and the other function's warm worker are fine.
        expect(gateway.connectionIds()).toHaveLength(1);
      }
      expect(await ask('ok')).toEqual({ n: 2 });
      // A crashed or timed-out worker is replaced by a cold one on the next invocation.
      expect(await ask('exit')).toMatchObject({ message: 'Internal server error' });
      const stats = gateway.runtime.stats();
      expect(stats.OkFunction).toMatchObject({ workers: 1, coldStarts: 1, crashes: 0 });
      expect(stats.InitFunction).toMatchObject({ workers: 0, coldStarts: 2, initErrors: 2 });
      expect(stats.ExitFunction).toMatchObject({ workers: 0, coldStarts: 2, crashes: 2 });
      expect(stats.LoopFunction).toMatchObject({ workers: 0, coldStarts: 1, timeouts: 1 });
      expect(logs).toContainEqual(
        expect.stringMatching(/^init InitFunction \S+ error \(Error: boom at module scope\)/),
      );
      expect(logs).toContainEqual(
        expect.stringMatching(
          /^exit ExitFunction \S+ error \(Runtime\.ExitError: Runtime exited with error: exit status 3\)/,
        ),
      );
      expect(logs).toContainEqual(expect.stringMatching(/^loop LoopFunction \S+ timeout \d+ms$/));
      client.ws.close();
    } finally {
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Class: FunctionRuntime', () => {
  const model = loadTemplate(FIXTURE_TEMPLATE);
  let dir: string;
  let runtime: FunctionRuntime | undefined;

  afterEach(async () => {
    await runtime?.close();
    runtime = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A runtime over a template of `functions` (logical id → CodeUri, Handler, extra properties). */
  function runtimeOf(
    files: Record<string, string>,
    functions: Record<string, [string, string, string?]>,
    options: Partial<ConstructorParameters<typeof FunctionRuntime>[0]> = {},
  ): { runtime: FunctionRuntime; logs: string[] } {
    const resources = Object.entries(functions)
      .map(([id, [codeUri, handler, extra]]) => `  ${id}: ${fn(codeUri, handler, extra)}`)
      .join('\n');
    dir = project({
      ...files,
      'template.yaml': `Transform: AWS::Serverless-2016-10-31
Globals: { Function: { Runtime: nodejs22.x, Timeout: 2, Environment: { Variables: { FROM_GLOBALS: g } } } }
Resources:
${resources}
`,
    });
    const logs: string[] = [];
    runtime = new FunctionRuntime({
      functions: loadTemplate(join(dir, 'template.yaml')).functions,
      log: (line) => logs.push(line),
      ...options,
    });
    return { runtime, logs };
  }

  it('never rejects: a timeout, a throw and an unknown function come back as failed outcomes', async () => {
    runtime = new FunctionRuntime({ functions: model.functions, log: () => {} });
    const slow = await runtime.invoke('SlowFunction', { body: '{"ms":1200}' });
    expect(slow).toMatchObject({ ok: false, timedOut: true });
    expect(slow.error?.message).toBe('Task timed out after 1.00 seconds');
    expect(slow.durationMs).toBeGreaterThanOrEqual(990);
    const fail = await runtime.invoke('FailFunction', {});
    expect(fail).toMatchObject({ ok: false, timedOut: false });
    expect(fail.error?.message).toBe('this route always fails');
    expect((await runtime.invoke('Nope', {})).error?.name).toBe('FunctionNotRunnableError');
    const ok = await runtime.invoke('SlowFunction', { body: '{"ms":10}' });
    expect(ok).toMatchObject({ ok: true, value: { statusCode: 200, body: '{"slept":10}' }, coldStart: true });
    await runtime.drain();
  });

  it('gives a worker the variables Lambda sets, the template’s, the overrides and no variable of this process', async () => {
    process.env.HOST_ONLY_VARIABLE = 'not for functions';
    try {
      const { runtime } = runtimeOf(
        {
          'src/env.js': `exports.handler = async () => ({ statusCode: 200, body: JSON.stringify(process.env) });`,
        },
        { EnvFunction: ['src/', 'env.handler', ', MemorySize: 256, Environment: { Variables: { OWN: o } }'] },
        { envOverrides: { OVERRIDE: 'all' }, functionEnv: { EnvFunction: { OWN: 'overridden' } } },
      );
      const env = body(await runtime.invoke('EnvFunction', {}));
      expect(env).toMatchObject({
        AWS_REGION: 'us-east-1',
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_LAMBDA_FUNCTION_NAME: 'EnvFunction',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/EnvFunction',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        LAMBDA_TASK_ROOT: join(dir, 'src'),
        TZ: ':UTC',
        _HANDLER: 'env.handler',
        FROM_GLOBALS: 'g',
        OWN: 'overridden',
        OVERRIDE: 'all',
        // The test process's (quiet-env.ts): the user's credentials are passed on.
        AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID,
      });
      expect(env.AWS_LAMBDA_LOG_STREAM_NAME).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
      expect(env.HOST_ONLY_VARIABLE).toBeUndefined();
      expect(env.PATH).toBe(process.env.PATH);
    } finally {
      delete process.env.HOST_ONLY_VARIABLE;
    }
  });

  it('runs one invocation per worker: cold starts up to maxConcurrency, then a queue', async () => {
    const { runtime } = runtimeOf(
      {
        'src/count.js': `let calls = 0;
const worker = Math.random();
exports.handler = async (event) => {
  calls += 1;
  await new Promise((resolve) => setTimeout(resolve, event.ms));
  return { statusCode: 200, body: JSON.stringify({ worker, calls }) };
};`,
      },
      { CountFunction: ['src/', 'count.handler'] },
      { maxConcurrency: 3, maxConcurrentInits: 3 },
    );
    const first = await Promise.all([1, 2, 3].map(() => runtime.invoke('CountFunction', { ms: 200 })));
    expect(first.every((o) => o.ok && o.coldStart && o.queuedMs === undefined)).toBe(true);
    // Three workers, each with its own module state.
    expect(new Set(first.map((o) => body(o).worker)).size).toBe(3);
    expect(first.map((o) => body(o).calls)).toEqual([1, 1, 1]);
    const second = await Promise.all([1, 2, 3, 4, 5].map(() => runtime.invoke('CountFunction', { ms: 150 })));
    expect(second.filter((o) => o.queuedMs !== undefined)).toHaveLength(2);
    expect(second.filter((o) => o.coldStart)).toHaveLength(0);
    expect(
      Math.min(...second.filter((o) => o.queuedMs !== undefined).map((o) => o.queuedMs ?? 0)),
    ).toBeGreaterThan(100);
    expect(runtime.stats().CountFunction).toMatchObject({
      workers: 3,
      idle: 3,
      peakWorkers: 3,
      coldStarts: 3,
    });
  });

  it('limits cold starts in progress: a burst waits for the first worker ready or free', async () => {
    const { runtime, logs } = runtimeOf(
      {
        'src/slowinit.js': `const until = Date.now() + 150;
while (Date.now() < until) {} // a CPU-bound init
exports.handler = async () => ({ statusCode: 200, body: '{}' });`,
      },
      { BurstFunction: ['src/', 'slowinit.handler'] },
      { maxConcurrentInits: 1 },
    );
    const burst = await Promise.all(Array.from({ length: 10 }, () => runtime.invoke('BurstFunction', {})));
    expect(burst.every((o) => o.ok)).toBe(true);
    const stats = runtime.stats().BurstFunction;
    // Lambda would start ten environments; here the first one serves most of the burst.
    expect(stats?.coldStarts).toBeLessThan(10);
    expect(stats?.peakWorkers).toBe(stats?.coldStarts);
    const queued = burst.filter((o) => o.queuedMs !== undefined);
    expect(queued.length).toBeGreaterThan(0);
    expect(queued[0]?.queuedBecause).toBe('cold starts limited to 1 at a time');
    expect(logs.filter((line) => line.startsWith('cold start BurstFunction'))).toHaveLength(
      stats?.coldStarts ?? 0,
    );
  });

  it('loads ES modules (.mjs, "type": "module" with top-level await, .mts) and CommonJS (.cjs, .js, .ts)', async () => {
    const { runtime } = runtimeOf(
      {
        'esm/package.json': '{ "type": "module" }',
        'esm/index.js': `const loadedAt = await new Promise((resolve) => setTimeout(() => resolve('later'), 5));
export const handler = async () => ({ statusCode: 200, body: JSON.stringify({ kind: 'type-module', loadedAt, cjs: typeof require }) });`,
        'esm/tla.mjs': `const value = await Promise.resolve('awaited');
export async function handler() { return { statusCode: 200, body: JSON.stringify({ kind: 'mjs', value }) }; }`,
        'mixed/handler.cjs': `exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ kind: 'cjs' }) });`,
        'mixed/plain.js': `module.exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ kind: 'js' }) });`,
        'mixed/esm-typed.mts': `const value: string = await Promise.resolve('typed');
export const handler = async (): Promise<{ statusCode: number; body: string }> => ({ statusCode: 200, body: JSON.stringify({ kind: 'mts', value }) });`,
        'mixed/typed.ts': `export const handler = async (): Promise<{ statusCode: number; body: string }> => ({ statusCode: 200, body: JSON.stringify({ kind: 'ts' as const }) });`,
      },
      {
        TypeModule: ['esm/', 'index.handler'],
        Mjs: ['esm/', 'tla.handler'],
        Cjs: ['mixed/', 'handler.handler'],
        Js: ['mixed/', 'plain.handler'],
        Mts: ['mixed/', 'esm-typed.handler'],
        Ts: ['mixed/', 'typed.handler'],
      },
    );
    const results = await Promise.all(
      ['TypeModule', 'Mjs', 'Cjs', 'Js', 'Ts', 'Mts'].map((id) => runtime.invoke(id, {})),
    );
    expect(results.map((o) => (o.ok ? body(o) : o.error?.message))).toEqual([
      { kind: 'type-module', loadedAt: 'later', cjs: 'undefined' },
      { kind: 'mjs', value: 'awaited' },
      { kind: 'cjs' },
      { kind: 'js' },
      { kind: 'ts' },
      { kind: 'mts', value: 'typed' },
    ]);
  });

  it('resolves the runtime’s AWS SDK without the project installing it; a project’s own copy wins', async () => {
    const { runtime } = runtimeOf(
      {
        'esm/package.json': '{ "type": "module" }',
        'esm/index.js': `import { SQSClient } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
export const handler = async () => ({ statusCode: 200, body: JSON.stringify({ sqs: typeof SQSClient, smithy: typeof SignatureV4 }) });`,
        'cjs/index.js': `const { SQSClient } = require('@aws-sdk/client-sqs');
exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ sqs: typeof SQSClient, from: require.resolve('@aws-sdk/client-sqs') }) });`,
        'own/index.js': `const sqs = require('@aws-sdk/client-sqs');
exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ own: sqs.own }) });`,
        'own/node_modules/@aws-sdk/client-sqs/package.json':
          '{ "name": "@aws-sdk/client-sqs", "version": "0.0.1", "main": "index.js" }',
        'own/node_modules/@aws-sdk/client-sqs/index.js': `exports.own = true;`,
        'missing/index.js': `require('not-a-runtime-package');
exports.handler = async () => ({});`,
      },
      {
        Esm: ['esm/', 'index.handler'],
        Cjs: ['cjs/', 'index.handler'],
        Own: ['own/', 'index.handler'],
        Missing: ['missing/', 'index.handler'],
      },
    );
    expect(body(await runtime.invoke('Esm', {}))).toEqual({ sqs: 'function', smithy: 'function' });
    const cjs = body(await runtime.invoke('Cjs', {}));
    expect(cjs.sqs).toBe('function');
    expect(cjs.from).toContain(join(realpathSync(runtimeSdk().root), '@aws-sdk', 'client-sqs'));
    expect(body(await runtime.invoke('Own', {}))).toEqual({ own: true });
    // Only the runtime's packages fall back: anything else must be the project's.
    const missing = await runtime.invoke('Missing', {});
    expect(missing.error?.name).toBe('Runtime.ImportModuleError');
    expect(missing.error?.message).toMatch(/Cannot find module 'not-a-runtime-package'/);
    expect(runtimeSdk().packages['@aws-sdk/client-sqs']).toMatch(/^3\.\d+\.\d+$/);
  });

  it('supports callback handlers, context.succeed/fail/done and callbackWaitsForEmptyEventLoop', async () => {
    const { runtime } = runtimeOf(
      {
        'src/callbacks.js': `
exports.callback = (event, context, callback) => {
  setTimeout(() => {}, 300); // keeps the event loop busy: the answer waits for it
  callback(null, { statusCode: 200, body: JSON.stringify({ remaining: context.getRemainingTimeInMillis() }) });
};
exports.noWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  setTimeout(() => {}, 5000); // would hold the answer 5 s if it waited
  callback(null, { statusCode: 200, body: '{}' });
};
exports.succeed = (event, context) => { context.succeed({ statusCode: 201, body: '{}' }); };
exports.fail = (event, context) => { context.fail(new Error('failed by context')); };
exports.done = (event, context) => { context.done('done with an error'); };
exports.unserializable = async () => ({ big: 1n });`,
      },
      {
        Callback: ['src/', 'callbacks.callback'],
        NoWait: ['src/', 'callbacks.noWait'],
        Succeed: ['src/', 'callbacks.succeed'],
        Fail: ['src/', 'callbacks.fail'],
        Done: ['src/', 'callbacks.done'],
        Unserializable: ['src/', 'callbacks.unserializable'],
      },
    );
    await Promise.all(['Callback', 'NoWait'].map((id) => runtime.preload(id)));
    const waited = await runtime.invoke('Callback', {});
    expect(waited.ok).toBe(true);
    expect(waited.durationMs).toBeGreaterThanOrEqual(290);
    expect(body(waited).remaining).toBeGreaterThan(1500);
    const immediate = await runtime.invoke('NoWait', {});
    expect(immediate.ok).toBe(true);
    expect(immediate.durationMs).toBeLessThan(2500);
    expect(await runtime.invoke('Succeed', {})).toMatchObject({ ok: true, value: { statusCode: 201 } });
    expect((await runtime.invoke('Fail', {})).error?.message).toBe('failed by context');
    expect((await runtime.invoke('Done', {})).error?.message).toBe('done with an error');
    expect((await runtime.invoke('Unserializable', {})).error?.name).toBe('Runtime.MarshalError');
  });

  it('ends a worker whose invocation times out, crashes or rejects outside the handler; the next is cold', async () => {
    const { runtime, logs } = runtimeOf(
      {
        'src/crash.js': `let calls = 0;
exports.handler = async (event) => {
  calls += 1;
  if (event.do === 'loop') for (;;) {}
  if (event.do === 'throwLater') setTimeout(() => { throw new Error('uncaught later'); }, 5);
  if (event.do === 'rejectLater') setTimeout(() => Promise.reject(new Error('unhandled later')), 5);
  if (event.do === 'uncaught') setTimeout(() => { throw new Error('uncaught now'); }, 0);
  if (event.do === 'uncaught') await new Promise((resolve) => setTimeout(resolve, 100));
  return { statusCode: 200, body: JSON.stringify({ calls }) };
};`,
      },
      { CrashFunction: ['src/', 'crash.handler', ', Timeout: 1'] },
    );
    const loop = await runtime.invoke('CrashFunction', { do: 'loop' });
    expect(loop).toMatchObject({ ok: false, timedOut: true });
    expect(body(await runtime.invoke('CrashFunction', {}))).toEqual({ calls: 1 });
    const uncaught = await runtime.invoke('CrashFunction', { do: 'uncaught' });
    expect(uncaught.error?.message).toBe('uncaught now');
    expect(body(await runtime.invoke('CrashFunction', {}))).toEqual({ calls: 1 });
    // After the answer: the idle worker ends, the next invocation gets a fresh one.
    for (const after of ['throwLater', 'rejectLater']) {
      expect((await runtime.invoke('CrashFunction', { do: after })).ok).toBe(true);
      await waitFor(() => runtime.stats().CrashFunction?.workers === 0, `the worker to end (${after})`);
      expect(body(await runtime.invoke('CrashFunction', {}))).toEqual({ calls: 1 });
    }
    expect(runtime.stats().CrashFunction).toMatchObject({ timeouts: 1, crashes: 3, coldStarts: 5 });
    expect(logs).toContainEqual(
      expect.stringMatching(/worker \d+ ended while idle \(Error: uncaught later\)/),
    );
  });

  it('reloads: after invalidate() every invocation starts a fresh worker with the new code', async () => {
    const { runtime } = runtimeOf(
      {
        'src/v.js': `let n = 0; exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ v: 1, n: ++n }) });`,
      },
      { VersionFunction: ['src/', 'v.handler'] },
    );
    expect(body(await runtime.invoke('VersionFunction', {}))).toEqual({ v: 1, n: 1 });
    expect(body(await runtime.invoke('VersionFunction', {}))).toEqual({ v: 1, n: 2 });
    writeFileSync(
      join(dir, 'src', 'v.js'),
      `let n = 0; exports.handler = async () => ({ statusCode: 200, body: JSON.stringify({ v: 2, n: ++n }) });`,
    );
    runtime.invalidate([join(dir, 'src')]);
    expect(body(await runtime.invoke('VersionFunction', {}))).toEqual({ v: 2, n: 1 });
  });

  it('keeps the former in-process runtime as an option (inProcess: the bench’s baseline)', async () => {
    runtime = new FunctionRuntime({ functions: model.functions, inProcess: true, log: () => {} });
    runtime.applyEnvironment();
    try {
      expect(process.env.GREETING).toBe('hello, fixture');
      const ok = await runtime.invoke('SlowFunction', { body: '{"ms":10}' });
      expect(ok).toMatchObject({ ok: true, value: { statusCode: 200, body: '{"slept":10}' } });
    } finally {
      await runtime.close();
    }
    expect(process.env.GREETING).toBeUndefined();
  });
});
