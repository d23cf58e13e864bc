/**
 * SPEC §7, messages: route selection from the template's RouteSelectionExpression (unmatched or
 * non-JSON → $default; no $default → AWS's Forbidden frame), AWS's `Internal server error` frame when an
 * integration fails or times out, two-way routes answering with the handler's body, one-way routes
 * answering nothing, and the MESSAGE event's AWS shape with the authorizer context.
 */
import { evaluateSelectionExpression, selectRoute } from '../../local/route-selection';
import {
  AWS_ID,
  MESSAGE_CONTEXT_EXTRA,
  MESSAGE_EVENT_KEYS,
  REQUEST_CONTEXT_KEYS,
  sorted,
} from './support/aws-shapes';
import {
  type Client,
  clearRecords,
  connect,
  eventsOf,
  type FixtureGateway,
  records,
  sleep,
  startFixture,
  waitFor,
} from './support/clients';

describe('Function: selectRoute', () => {
  const routes = new Set(['$connect', '$disconnect', '$default', 'echo', 'chat-v2']);

  it('selects by $request.body.X, nested paths and ${} templates', () => {
    expect(selectRoute('$request.body.action', '{"action":"echo"}', routes)).toBe('echo');
    expect(evaluateSelectionExpression('$request.body.meta.type', '{"meta":{"type":"x"}}')).toBe('x');
    expect(selectRoute('${request.body.kind}-${request.body.v}', '{"kind":"chat","v":"v2"}', routes)).toBe(
      'chat-v2',
    );
  });

  it('falls back to $default for unknown keys, non-JSON, missing keys and the reserved routes', () => {
    for (const body of [
      '{"action":"nope"}',
      'not json',
      '[1,2]',
      '{}',
      '{"action":"$connect"}',
      '{"action":{"a":1}}',
    ]) {
      expect(selectRoute('$request.body.action', body, routes)).toBe('$default');
    }
    expect(selectRoute('$request.body.action', '{"action":"nope"}', new Set(['echo']))).toBeUndefined();
  });
});

describe('Gateway: routes', () => {
  let fixture: FixtureGateway;
  let client: Client;
  let connectionId: string;

  beforeAll(async () => {
    fixture = await startFixture({ integrationTimeoutMs: 29_000 });
    clearRecords();
    client = await connect(`${fixture.gateway.url}?token=good`);
    connectionId = fixture.gateway.connectionIds()[0] as string;
  });
  afterAll(async () => {
    client.ws.close();
    await fixture.gateway.close();
  });

  it('routes by the action and sends a two-way route its handler body', async () => {
    client.send({ action: 'echo', data: { n: 1 } });
    expect(JSON.parse(await client.next())).toEqual({
      echo: { n: 1 },
      routeKey: 'echo',
      authorizer: { principalId: 'user-1', userId: 'user-1', level: '3', admin: 'true' },
    });
  });

  it('passes the MESSAGE event AWS-shaped: messageId, body as sent, authorizer, no headers', async () => {
    clearRecords();
    const raw = '{"action": "echo", "data": "spaced"}';
    client.send(raw);
    await client.next();
    const [event = {}] = eventsOf('echo');
    expect(sorted(Object.keys(event))).toEqual(sorted(MESSAGE_EVENT_KEYS));
    expect(sorted(Object.keys(event.requestContext))).toEqual(
      sorted([...REQUEST_CONTEXT_KEYS, ...MESSAGE_CONTEXT_EXTRA, 'authorizer']),
    );
    expect(event.body).toBe(raw);
    expect(event.isBase64Encoded).toBe(false);
    expect(event.requestContext).toMatchObject({
      routeKey: 'echo',
      eventType: 'MESSAGE',
      connectionId,
      messageDirection: 'IN',
    });
    expect(event.requestContext.messageId).toMatch(AWS_ID);
    expect(event.requestContext.requestId).toMatch(AWS_ID);
  });

  it('sends unmatched actions and non-JSON frames to $default', async () => {
    client.send({ action: 'unknown' });
    expect(JSON.parse(await client.next())).toEqual({ route: '$default', received: '{"action":"unknown"}' });
    client.send('plain text');
    expect(JSON.parse(await client.next())).toEqual({ route: '$default', received: 'plain text' });
  });

  it("sends AWS's Internal server error frame when the integration throws", async () => {
    client.send({ action: 'fail' });
    const frame = JSON.parse(await client.next());
    expect(frame).toEqual({
      message: 'Internal server error',
      connectionId,
      requestId: expect.stringMatching(AWS_ID),
    });
  });

  it("enforces the function's Timeout (1 s): the client gets Internal server error", async () => {
    const started = Date.now();
    // Sleeps 8 s: an answer long before that, as Internal server error, is the 1 s Timeout ending it.
    client.send({ action: 'slow', ms: 8000 });
    expect(JSON.parse(await client.next())).toMatchObject({ message: 'Internal server error', connectionId });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeLessThan(6000);
    expect(fixture.logs.some((line) => /^slow SlowFunction \S+ timeout \d+ms$/.test(line))).toBe(true);
  });

  it('sends nothing back on a one-way route (even when the handler returns a body)', async () => {
    clearRecords();
    client.send({ action: 'oneway' });
    await waitFor(() => records('oneway').length === 1, 'the one-way handler');
    client.send({ action: 'echo', data: 'after' });
    expect(JSON.parse(await client.next()).echo).toBe('after');
  });

  it('keeps each message independent: handlers run concurrently', async () => {
    clearRecords();
    // 900 ms each (the function's Timeout is 1 s): time for the pool to start the second and third workers
    // while the first sleeps, even on a busy machine.
    client.send({ action: 'slow', ms: 900 });
    client.send({ action: 'slow', ms: 900 });
    client.send({ action: 'slow', ms: 900 });
    for (let i = 0; i < 3; i++) expect(JSON.parse(await client.next())).toEqual({ slept: 900 });
    // All three were running at once: the last to start started before the first to end ended.
    const runs = records('slow').map((r) => r.extra as { startedAt: number; endedAt: number });
    expect(runs).toHaveLength(3);
    expect(Math.max(...runs.map((r) => r.startedAt))).toBeLessThan(Math.min(...runs.map((r) => r.endedAt)));
  });

  it('logs each invocation on one line: route, function, connection, status, duration', () => {
    expect(fixture.logs).toContainEqual(
      expect.stringMatching(
        new RegExp(`^echo EchoFunction ${connectionId.replace(/[+=]/g, '\\$&')} 200 \\d+ms$`),
      ),
    );
    expect(fixture.logs).toContainEqual(
      expect.stringMatching(/^fail FailFunction \S+ error \(Error: this route always fails\) \d+ms$/),
    );
  });
});

describe('Gateway: routes without $default', () => {
  it("answers AWS's Forbidden frame when nothing matches and there is no $default route", async () => {
    const fixture = await startFixture({ parameterOverrides: { WithDefaultRoute: 'false' } });
    const client = await connect(`${fixture.gateway.url}?token=good`);
    const connectionId = fixture.gateway.connectionIds()[0];
    client.send({ action: 'nothing' });
    expect(JSON.parse(await client.next())).toEqual({
      message: 'Forbidden',
      connectionId,
      requestId: expect.stringMatching(AWS_ID),
    });
    client.send({ action: 'echo', data: 1 });
    expect(JSON.parse(await client.next()).echo).toBe(1);
    client.ws.close();
    await sleep(20);
    await fixture.gateway.close();
  });
});
