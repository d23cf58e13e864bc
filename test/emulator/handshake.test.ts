/**
 * SPEC §7, handshake: the REQUEST authorizer on $connect (AWS-shaped event; Allow, Deny → 403,
 * Unauthorized → 401, other errors → 500, missing identity source → 401 without invoking it), the
 * $connect handler's status (≥ 400 or a throw rejects the handshake, no socket opens), and posts to a
 * connection whose $connect is still running (410).
 */
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

  it('rejects the handshake with 500 when $connect throws', async () => {
    expect((await rejectedStatus(`${gateway.url}?token=good&throw=1`)).status).toBe(500);
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
