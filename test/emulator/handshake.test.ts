/**
 * SPEC §7, handshake: the REQUEST authorizer on $connect (AWS-shaped event; Allow, Deny → 403,
 * Unauthorized thrown or called back → 401, other errors and malformed policies (a returned "Unauthorized"
 * string included) → 500, missing identity source → 401 without invoking it), the $connect handler's status
 * (any non-2xx rejects the handshake with that status, a throw with 502, a status that is no final HTTP status
 * with 502; no socket opens), failing handlers' errors in the log (message and stack, with the route and
 * connection), a plain HTTP request on the stage path (426), and posts to a connection whose $connect is
 * still running (410). The sources for each behaviour are in local/gateway.ts and local/README.md.
 */
import { request } from 'node:http';
import {
  GetConnectionCommand,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { Gateway } from '../../local/gateway';
import {
  AUTHORIZER_EVENT_KEYS,
  AWS_ID,
  CLF_TIME,
  CONNECT_EVENT_KEYS,
  REQUEST_CONTEXT_KEYS,
  sorted,
} from './support/aws-shapes';
import {
  clearHooks,
  clearRecords,
  connect,
  eventsOf,
  type FixtureGateway,
  holdHook,
  managementClient,
  records,
  rejectedStatus,
  sleep,
  startFixture,
  waitFor,
} from './support/clients';

const disconnectsOf = (connectionId: string) => eventsOf('disconnect', connectionId);

describe('Gateway: handshake', () => {
  let fixture: FixtureGateway;
  let gateway: Gateway;

  beforeAll(async () => {
    fixture = await startFixture({ apiId: 'fixtureapi', region: 'eu-central-1', accountId: '210987654321' });
    gateway = fixture.gateway;
  });
  afterAll(() => gateway.close());
  beforeEach(() => {
    clearRecords();
    clearHooks();
  });

  it('serves the WebSocket API on 127.0.0.1 at /STAGE (the template stage)', () => {
    expect(gateway.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/fixture$/);
    expect(gateway.managementEndpoint).toBe(`http://127.0.0.1:${gateway.port}/fixture`);
  });

  it('invokes the authorizer with the AWS-shaped REQUEST event and opens the socket on Allow', async () => {
    const client = await connect(`${gateway.url}?token=good&classRoomId=r1`);
    const [event = {}] = eventsOf('authorizer');
    expect(sorted(Object.keys(event))).toEqual(sorted(AUTHORIZER_EVENT_KEYS));
    expect(event.type).toBe('REQUEST');
    expect(event.methodArn).toBe('arn:aws:execute-api:eu-central-1:210987654321:fixtureapi/fixture/$connect');
    expect(event.queryStringParameters).toEqual({ token: 'good', classRoomId: 'r1' });
    expect(event.multiValueQueryStringParameters).toEqual({ token: ['good'], classRoomId: ['r1'] });
    expect(event.stageVariables).toEqual({});
    expect(event.headers).toMatchObject({
      Host: `127.0.0.1:${gateway.port}`,
      Upgrade: 'websocket',
      'X-Forwarded-For': '127.0.0.1',
    });
    expect(event.multiValueHeaders.Host).toEqual([`127.0.0.1:${gateway.port}`]);
    expect(sorted(Object.keys(event.requestContext))).toEqual(sorted(REQUEST_CONTEXT_KEYS));
    expect(event.requestContext).toMatchObject({
      routeKey: '$connect',
      eventType: 'CONNECT',
      messageDirection: 'IN',
      stage: 'fixture',
      apiId: 'fixtureapi',
    });
    expect(event.requestContext.connectionId).toMatch(AWS_ID);
    expect(event.requestContext.requestTime).toMatch(CLF_TIME);
    client.ws.close();
  });

  it('answers 403 on a Deny policy, without running $connect', async () => {
    expect((await rejectedStatus(`${gateway.url}?token=deny`)).status).toBe(403);
    expect(records('connect')).toHaveLength(0);
  });

  it('answers 401 when the authorizer throws Unauthorized', async () => {
    const rejected = await rejectedStatus(`${gateway.url}?token=nope`);
    expect(rejected.status).toBe(401);
    expect(JSON.parse(rejected.body)).toEqual({ message: 'Unauthorized' });
  });

  it('answers 401 when the authorizer calls back with Unauthorized', async () => {
    const rejected = await rejectedStatus(`${gateway.url}?token=callback`);
    expect(rejected.status).toBe(401);
    expect(JSON.parse(rejected.body)).toEqual({ message: 'Unauthorized' });
    expect(records('connect')).toHaveLength(0);
  });

  it('answers 500 when the authorizer returns the string "Unauthorized" (no policy), and says why', async () => {
    const rejected = await rejectedStatus(`${gateway.url}?token=return-unauthorized`);
    expect(rejected.status).toBe(500);
    expect(JSON.parse(rejected.body)).toEqual({ message: 'Internal server error' });
    expect(fixture.logs.join('\n')).toMatch(
      /authorizer AuthorizerFunction \S+ 500 invalid response \(returned the string "Unauthorized", not a policy: to answer 401, throw new Error\('Unauthorized'\)/,
    );
    expect(records('connect')).toHaveLength(0);
  });

  it('answers 500 to a malformed policy: no principalId, no policyDocument', async () => {
    expect((await rejectedStatus(`${gateway.url}?token=no-principal`)).status).toBe(500);
    expect((await rejectedStatus(`${gateway.url}?token=no-policy`)).status).toBe(500);
    const lines = fixture.logs.filter((line) => line.startsWith('authorizer '));
    expect(lines.some((line) => /500 invalid response \(no principalId\)/.test(line))).toBe(true);
    expect(lines.some((line) => /500 invalid response \(no policyDocument.Statement\)/.test(line))).toBe(
      true,
    );
    expect(records('connect')).toHaveLength(0);
  });

  it("logs a failing authorizer's error, message and stack in one entry, with the connection", async () => {
    fixture.logs.length = 0;
    expect((await rejectedStatus(`${gateway.url}?token=crash`)).status).toBe(500);
    const connectionId = eventsOf('authorizer')[0]?.requestContext.connectionId as string;
    const entry = await waitFor(
      () => fixture.logs.find((line) => line.startsWith(`authorizer AuthorizerFunction ${connectionId} `)),
      'the authorizer line',
    );
    const [first, ...stack] = entry.split('\n');
    expect(first).toMatch(/ 500 error \(Error: authorizer crashed\) \d+ms$/);
    expect(stack.length).toBeGreaterThan(0);
    expect(stack[0]).toMatch(/^ {4}at .*authorizer/);
  });

  it('answers 500 when the authorizer fails otherwise or returns a context that is not flat', async () => {
    expect((await rejectedStatus(`${gateway.url}?token=crash`)).status).toBe(500);
    expect((await rejectedStatus(`${gateway.url}?token=nested`)).status).toBe(500);
  });

  it('answers 401 without invoking the authorizer when the identity source (token) is missing', async () => {
    expect((await rejectedStatus(`${gateway.url}?classRoomId=r1`)).status).toBe(401);
    expect((await rejectedStatus(`${gateway.url}?token=`)).status).toBe(401);
    expect(records('authorizer')).toHaveLength(0);
  });

  it('accepts a policy whose Resource matches the method ARN by wildcard', async () => {
    const client = await connect(`${gateway.url}?token=wildcard`);
    client.ws.close();
  });

  it('passes the $connect event AWS-shaped, with the authorizer context (stringified) and the query string', async () => {
    const client = await connect(`${gateway.url}?token=good&a=1&a=2`);
    const [event = {}] = eventsOf('connect');
    expect(sorted(Object.keys(event))).toEqual(
      sorted([...CONNECT_EVENT_KEYS, 'queryStringParameters', 'multiValueQueryStringParameters']),
    );
    expect(event.queryStringParameters).toEqual({ token: 'good', a: '2' });
    expect(event.multiValueQueryStringParameters).toEqual({ token: ['good'], a: ['1', '2'] });
    expect(event.isBase64Encoded).toBe(false);
    expect(Object.keys(event.headers).map((h) => h.toLowerCase())).not.toContain('upgrade');
    expect(event.headers['Sec-WebSocket-Key']).toBeDefined();
    expect(sorted(Object.keys(event.requestContext))).toEqual(
      sorted([...REQUEST_CONTEXT_KEYS, 'authorizer']),
    );
    expect(event.requestContext.authorizer).toEqual({
      principalId: 'user-1',
      userId: 'user-1',
      level: '3',
      admin: 'true',
    });
    expect(event.requestContext.domainName).toBe(
      `${gateway.apiId}.execute-api.${gateway.template.region}.amazonaws.com`,
    );
    expect(event.requestContext.identity).toEqual({ sourceIp: '127.0.0.1' });
    client.ws.close();
  });

  it('rejects the handshake with the status $connect returns (≥ 400); no socket opens', async () => {
    expect((await rejectedStatus(`${gateway.url}?token=good&reject=403`)).status).toBe(403);
    expect((await rejectedStatus(`${gateway.url}?token=good&reject=429`)).status).toBe(429);
    const rejectedIds = eventsOf('connect').map((e) => e.requestContext.connectionId as string);
    expect(rejectedIds).toHaveLength(2);
    expect(gateway.connectionIds().filter((id) => rejectedIds.includes(id))).toEqual([]);
    const api = managementClient(gateway);
    await expect(api.send(new GetConnectionCommand({ ConnectionId: rejectedIds[0] }))).rejects.toBeInstanceOf(
      GoneException,
    );
    await sleep(100);
    expect(disconnectsOf(rejectedIds[0] as string)).toHaveLength(0);
  });

  it('rejects the handshake with 502 when $connect throws, and logs its error with the route and connection', async () => {
    fixture.logs.length = 0;
    const rejected = await rejectedStatus(`${gateway.url}?token=good&throw=1`);
    expect(rejected.status).toBe(502);
    expect(JSON.parse(rejected.body)).toEqual({ message: 'Internal server error' });
    const connectionId = eventsOf('connect')[0]?.requestContext.connectionId as string;
    const entry = await waitFor(
      () => fixture.logs.find((line) => line.startsWith(`$connect ConnectFunction ${connectionId} `)),
      'the $connect line',
    );
    const [first, ...stack] = entry.split('\n');
    expect(first).toMatch(/ 502 error \(Error: connect crashed\) \d+ms$/);
    expect(stack.length).toBeGreaterThan(0);
    expect(stack[0]).toMatch(/^ {4}at .*connect/);
    expect(gateway.connectionIds()).not.toContain(connectionId);
  });

  it('rejects the handshake on any non-2xx: 3xx with that status, 1xx and invalid codes with 502', async () => {
    expect((await rejectedStatus(`${gateway.url}?token=good&reject=302`)).status).toBe(302);
    expect((await rejectedStatus(`${gateway.url}?token=good&reject=301`)).status).toBe(301);
    expect((await rejectedStatus(`${gateway.url}?token=good&reject=199`)).status).toBe(502);
    expect((await rejectedStatus(`${gateway.url}?token=good&reject=100`)).status).toBe(502);
    expect((await rejectedStatus(`${gateway.url}?token=good&reject=600`)).status).toBe(502);
    expect((await rejectedStatus(`${gateway.url}?token=good&reject=abc`)).status).toBe(502);
    expect(fixture.logs.join('\n')).toMatch(
      /\$connect ConnectFunction \S+ 502 \(statusCode 199 is no final HTTP status\)/,
    );
    const rejectedIds = eventsOf('connect').map((e) => e.requestContext.connectionId as string);
    expect(rejectedIds).toHaveLength(6);
    expect(gateway.connectionIds().filter((id) => rejectedIds.includes(id))).toEqual([]);
    // Any 2xx opens it.
    const client = await connect(`${gateway.url}?token=good&reject=204`);
    client.ws.close();
  });

  it('answers 504 "Endpoint request timed out" when $connect outlasts a shorter integration timeout', async () => {
    const short = await startFixture({ integrationTimeoutMs: 300 });
    try {
      const held = holdHook('connect');
      const started = Date.now();
      const rejected = await rejectedStatus(`${short.gateway.url}?token=good&hold=1`);
      expect(rejected.status).toBe(504);
      expect(JSON.parse(rejected.body)).toEqual({ message: 'Endpoint request timed out' });
      expect(Date.now() - started).toBeLessThan(2500);
      expect(short.logs).toContainEqual(
        expect.stringMatching(/^\$connect ConnectFunction \S+ 504 timeout \d+ms$/),
      );
      held.release();
    } finally {
      await short.gateway.close();
    }
  });

  it('answers 426 Upgrade Required to a plain HTTP request on the stage path, 404 elsewhere', async () => {
    const get = (path: string, method = 'GET') =>
      new Promise<{ status: number; upgrade?: string; body: string }>((resolve, reject) => {
        const req = request(`http://127.0.0.1:${gateway.port}${path}`, { method }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => {
            body += chunk.toString('utf8');
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, upgrade: res.headers.upgrade, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const plain = await get('/fixture');
    expect(plain).toMatchObject({ status: 426, upgrade: 'websocket' });
    expect(JSON.parse(plain.body)).toEqual({ message: 'Upgrade Required' });
    expect((await get('/fixture/')).status).toBe(426);
    expect((await get('/fixture/anything?x=1')).status).toBe(426);
    expect((await get('/fixture', 'POST')).status).toBe(426);
    expect((await get('/elsewhere')).status).toBe(404);
    expect(records('authorizer')).toHaveLength(0);
  });

  it('selects a subprotocol only when $connect returns Sec-WebSocket-Protocol', async () => {
    const chosen = await connect(`${gateway.url}?token=good&protocol=chat.v1`, ['chat.v1', 'chat.v0']);
    expect(chosen.ws.protocol).toBe('chat.v1');
    chosen.ws.close();
    await expect(connect(`${gateway.url}?token=good`, ['chat.v1'])).rejects.toThrow(/subprotocol/);
  });

  it('answers 410 to posts while $connect is still running, and accepts them once the socket is open', async () => {
    const held = holdHook('connect');
    const opening = connect(`${gateway.url}?token=good&hold=1`);
    await held.reached;
    const connectionId = eventsOf('connect')[0]?.requestContext.connectionId as string;
    const api = managementClient(gateway);
    await expect(
      api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'early' })),
    ).rejects.toBeInstanceOf(GoneException);
    await expect(api.send(new GetConnectionCommand({ ConnectionId: connectionId }))).rejects.toBeInstanceOf(
      GoneException,
    );
    held.release();
    const client = await opening;
    await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'now' }));
    expect(await client.next()).toBe('now');
    client.ws.close();
    await waitFor(() => disconnectsOf(connectionId).length === 1, '$disconnect');
  });

  it('answers 403 to an upgrade on another path than /STAGE', async () => {
    expect((await rejectedStatus(`ws://127.0.0.1:${gateway.port}/other?token=good`)).status).toBe(403);
  });
});
