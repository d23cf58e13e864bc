/**
 * SPEC §7, handlers: in-process, warm module state, the template's Environment applied (with overrides,
 * unresolvable values empty, conflicts reported), Timeout enforced with a working context, one log line
 * per invocation.
 */
import { FunctionRuntime } from '../../local/lambda-runtime';
import { loadTemplate } from '../../local/template';
import { connect, FIXTURE_TEMPLATE, startFixture } from './support/clients';

describe('Gateway: functions in-process', () => {
  it('applies the environment, keeps modules warm and passes a Lambda context', async () => {
    const before = process.env.EXTRA;
    const fixture = await startFixture({
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
      expect.stringMatching(/^environment: CACHE_URL, IMPORTED cannot be resolved locally/),
    );

    client.ws.close();
    await fixture.gateway.close();
    expect(process.env.EXTRA).toBe(before);
  });

  it('reports a variable two functions define differently; each sees its own value at cold start', async () => {
    const fixture = await startFixture();
    expect(fixture.gateway.runtime.conflicts.map((c) => c.name)).toEqual(['SHARED_NAME']);
    expect(fixture.logs).toContainEqual(
      expect.stringMatching(/^env conflict: SHARED_NAME differs between functions/),
    );
    const client = await connect(`${fixture.gateway.url}?token=good`);
    client.send({ action: 'info' });
    expect(JSON.parse(await client.next()).atColdStart.SHARED_NAME).toBe('from-info');
    client.send({ action: 'infoOther' });
    expect(JSON.parse(await client.next()).atColdStart.SHARED_NAME).toBe('from-info-other');
    client.ws.close();
    await fixture.gateway.close();
  });

  it('answers "Endpoint request timed out" when the integration timeout is shorter than the function\'s', async () => {
    const fixture = await startFixture({ integrationTimeoutMs: 300 });
    const client = await connect(`${fixture.gateway.url}?token=good`);
    const connectionId = fixture.gateway.connectionIds()[0];
    client.send({ action: 'slow', ms: 600 });
    expect(JSON.parse(await client.next())).toMatchObject({
      message: 'Endpoint request timed out',
      connectionId,
    });
    client.ws.close();
    await fixture.gateway.close();
  });
});

describe('Class: FunctionRuntime', () => {
  const model = loadTemplate(FIXTURE_TEMPLATE);

  it('never rejects: a timeout, a throw and an unknown function come back as failed outcomes', async () => {
    const runtime = new FunctionRuntime({ functions: model.functions, log: () => {} });
    const slow = await runtime.invoke('SlowFunction', { body: '{"ms":1200}' });
    expect(slow).toMatchObject({ ok: false, timedOut: true });
    expect(slow.error?.message).toBe('Task timed out after 1.00 seconds');
    expect(slow.durationMs).toBeGreaterThanOrEqual(990);
    const fail = await runtime.invoke('FailFunction', {});
    expect(fail).toMatchObject({ ok: false, timedOut: false });
    expect((await runtime.invoke('Nope', {})).error?.name).toBe('FunctionNotRunnableError');
    const ok = await runtime.invoke('SlowFunction', { body: '{"ms":10}' });
    expect(ok).toMatchObject({ ok: true, value: { statusCode: 200, body: '{"slept":10}' } });
    await runtime.drain();
  });
});
