/**
 * SPEC §7, management API on the gateway's port, driven with the real ApiGatewayManagementApiClient:
 * PostToConnection, GetConnection, DeleteConnection (closes the socket and runs $disconnect), 410 for
 * unknown or closed ids, 413 above 128 KB; plus the test-only fault injection.
 */
import {
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { FaultKind } from '../../local/management-api';
import {
  DISCONNECT_CONTEXT_EXTRA,
  DISCONNECT_EVENT_KEYS,
  REQUEST_CONTEXT_KEYS,
  sorted,
} from './support/aws-shapes';
import {
  connect,
  eventsOf,
  type FixtureGateway,
  managementClient,
  startFixture,
  waitFor,
} from './support/clients';

describe('Gateway: management API', () => {
  let fixture: FixtureGateway;
  const faulty = new Map<string, FaultKind>();

  beforeAll(async () => {
    fixture = await startFixture({
      // Test-only fault injection: a per-connection hook.
      faults: ({ connectionId }) => faulty.get(connectionId),
    });
  });
  afterAll(() => fixture.gateway.close());

  async function open() {
    const client = await connect(`${fixture.gateway.url}?token=good`, undefined);
    const ids = fixture.gateway.connectionIds();
    return { client, connectionId: ids[ids.length - 1] as string };
  }

  it('PostToConnection sends the data as a text frame', async () => {
    const { client, connectionId } = await open();
    await managementClient(fixture.gateway).send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify({ hello: 'world' }) }),
    );
    expect(await client.next()).toBe('{"hello":"world"}');
    client.ws.close();
  });

  it('lets a handler post to its own connection through MANAGEMENT_ENDPOINT', async () => {
    const { client } = await open();
    client.send({ action: 'selfpost' });
    expect(JSON.parse(await client.next())).toEqual({ posted: true });
    client.ws.close();
  });

  it('GetConnection returns ConnectedAt, LastActiveAt and Identity as AWS does', async () => {
    const before = Date.now();
    const { client, connectionId } = await open();
    client.ws.close();
    await client.closed;
    const again = await open();
    const out = await managementClient(fixture.gateway).send(
      new GetConnectionCommand({ ConnectionId: again.connectionId }),
    );
    expect(out.ConnectedAt).toBeInstanceOf(Date);
    expect(out.ConnectedAt?.getTime()).toBeGreaterThanOrEqual(before);
    expect(out.LastActiveAt).toBeInstanceOf(Date);
    expect(out.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: expect.any(String) });
    await expect(
      managementClient(fixture.gateway).send(new GetConnectionCommand({ ConnectionId: connectionId })),
    ).rejects.toBeInstanceOf(GoneException);
    again.client.ws.close();
  });

  it('DeleteConnection closes the socket (1000) and runs $disconnect with AWS status and reason', async () => {
    const { client, connectionId } = await open();
    await managementClient(fixture.gateway).send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    expect((await client.closed).code).toBe(1000);
    const event = await waitFor(() => eventsOf('disconnect', connectionId)[0], '$disconnect');
    expect(sorted(Object.keys(event))).toEqual(sorted(DISCONNECT_EVENT_KEYS));
    expect(sorted(Object.keys(event.requestContext))).toEqual(
      sorted([...REQUEST_CONTEXT_KEYS, ...DISCONNECT_CONTEXT_EXTRA, 'authorizer']),
    );
    expect(event.requestContext).toMatchObject({
      routeKey: '$disconnect',
      eventType: 'DISCONNECT',
      connectionId,
      disconnectStatusCode: 1000,
      disconnectReason: 'Connection Closed Normally',
    });
    await expect(
      managementClient(fixture.gateway).send(
        new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'x' }),
      ),
    ).rejects.toBeInstanceOf(GoneException);
  });

  it('answers 410 GoneException (x-amzn-ErrorType header, JSON message) for unknown ids', async () => {
    const api = managementClient(fixture.gateway);
    const error = await api
      .send(new PostToConnectionCommand({ ConnectionId: 'NoSuchConn0000=', Data: 'x' }))
      .catch((e) => e);
    expect(error).toBeInstanceOf(GoneException);
    expect(error.$metadata.httpStatusCode).toBe(410);
    const raw = await fetch(
      `${fixture.gateway.managementEndpoint}/@connections/${encodeURIComponent('NoSuchConn0000=')}`,
      {
        method: 'POST',
        body: 'x',
      },
    );
    expect(raw.status).toBe(410);
    expect(raw.headers.get('x-amzn-errortype')).toBe('GoneException');
    expect(await raw.json()).toEqual({ message: expect.any(String) });
    await expect(
      api.send(new DeleteConnectionCommand({ ConnectionId: 'NoSuchConn0000=' })),
    ).rejects.toBeInstanceOf(GoneException);
  });

  it('answers 413 PayloadTooLargeException above 128 KB and accepts exactly 128 KB', async () => {
    const { client, connectionId } = await open();
    const api = managementClient(fixture.gateway);
    await expect(
      api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'x'.repeat(128 * 1024 + 1) })),
    ).rejects.toBeInstanceOf(PayloadTooLargeException);
    await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'y'.repeat(128 * 1024) }));
    expect((await client.next()).length).toBe(128 * 1024);
    client.ws.close();
  });

  it('injects faults for tests only: 429 for a chosen connection, others unaffected', async () => {
    const a = await open();
    const b = await open();
    faulty.set(a.connectionId, '429');
    const api = managementClient(fixture.gateway);
    await expect(
      api.send(new PostToConnectionCommand({ ConnectionId: a.connectionId, Data: 'x' })),
    ).rejects.toBeInstanceOf(LimitExceededException);
    await api.send(new PostToConnectionCommand({ ConnectionId: b.connectionId, Data: 'ok' }));
    expect(await b.client.next()).toBe('ok');
    faulty.clear();
    a.client.ws.close();
    b.client.ws.close();
  });
});

describe('Gateway: management API random faults', () => {
  it('fails the configured share of posts with the configured kinds (here: all, 500)', async () => {
    const fixture = await startFixture({ faults: { share: 1, kinds: ['500'] } });
    const client = await connect(`${fixture.gateway.url}?token=good`);
    const [connectionId] = fixture.gateway.connectionIds();
    const error = await managementClient(fixture.gateway)
      .send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'x' }))
      .catch((e) => e);
    expect(error.$metadata.httpStatusCode).toBe(500);
    const got = await managementClient(fixture.gateway).send(
      new GetConnectionCommand({ ConnectionId: connectionId }),
    );
    expect(got.ConnectedAt).toBeInstanceOf(Date);
    client.ws.close();
    await fixture.gateway.close();
  });
});
