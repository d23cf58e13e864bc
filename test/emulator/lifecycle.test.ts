/**
 * SPEC §7, closing: $disconnect on client close (code and reason; 1005 when none), on the idle and the
 * maximum-duration timeouts (1001 "Going away"), on gateway shutdown; frames over 32 KB and messages over
 * 128 KB close the socket with 1009; binary frames close it with 1003 (API Gateway rejects them).
 */
import { FrameGuard } from '../../local/frame-guard';
import {
  type Client,
  connect,
  eventsOf,
  type FixtureGateway,
  sleep,
  startFixture,
  waitFor,
} from './support/clients';

function disconnectOf(connectionId: string) {
  return () => eventsOf('disconnect', connectionId)[0]?.requestContext as Record<string, unknown> | undefined;
}

describe('Class: FrameGuard', () => {
  const frame = (length: number, opcode = 0x1, fin = true) => {
    const header =
      length < 126
        ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | length])
        : Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, length >> 8, length & 0xff]);
    return Buffer.concat([header, Buffer.alloc(4), Buffer.alloc(length)]);
  };

  it('spots an oversized frame and an oversized fragmented message, byte by byte too', () => {
    expect(new FrameGuard(100, 1000).push(frame(100))).toBeUndefined();
    expect(new FrameGuard(100, 1000).push(frame(101))).toBe('frame');
    const guard = new FrameGuard(100, 250);
    const bytes = Buffer.concat([
      frame(100, 0x1, false),
      frame(9, 0x9),
      frame(100, 0x0, false),
      frame(100, 0x0, true),
    ]);
    let seen: string | undefined;
    for (const byte of bytes) seen ??= guard.push(Buffer.from([byte]));
    expect(seen).toBe('message');
    const fine = new FrameGuard(100, 250);
    expect(
      fine.push(Buffer.concat([frame(100, 0x1, false), frame(100, 0x0, true), frame(100)])),
    ).toBeUndefined();
  });
});

describe('Gateway: closing and limits', () => {
  let fixture: FixtureGateway;
  const open = async (): Promise<{ client: Client; connectionId: string }> => {
    const client = await connect(`${fixture.gateway.url}?token=good`);
    const ids = fixture.gateway.connectionIds();
    return { client, connectionId: ids[ids.length - 1] as string };
  };

  beforeAll(async () => {
    fixture = await startFixture({ idleTimeoutMs: 400, hardTimeoutMs: 1200 });
  });
  afterAll(() => fixture.gateway.close());

  it('runs $disconnect with the code and reason the client closed with', async () => {
    const { client, connectionId } = await open();
    client.ws.close(4001, 'bye now');
    const context = await waitFor(disconnectOf(connectionId), '$disconnect');
    expect(context).toMatchObject({
      routeKey: '$disconnect',
      eventType: 'DISCONNECT',
      disconnectStatusCode: 4001,
      disconnectReason: 'bye now',
    });
    expect(context.authorizer).toEqual({
      principalId: 'user-1',
      userId: 'user-1',
      level: '3',
      admin: 'true',
    });
  });

  it('reports 1005 "Client-side close frame status not set" when the client gives no code', async () => {
    const { client, connectionId } = await open();
    client.ws.close();
    expect(await waitFor(disconnectOf(connectionId), '$disconnect')).toMatchObject({
      disconnectStatusCode: 1005,
      disconnectReason: 'Client-side close frame status not set',
    });
  });

  it('closes an idle connection with 1001 "Going away" and runs $disconnect', async () => {
    const { client, connectionId } = await open();
    const closed = await client.closed;
    expect(closed).toEqual({ code: 1001, reason: 'Going away' });
    expect(await waitFor(disconnectOf(connectionId), '$disconnect')).toMatchObject({
      disconnectStatusCode: 1001,
      disconnectReason: 'Going away',
    });
  });

  it('keeps a connection with traffic open past the idle timeout, and closes it at the maximum duration', async () => {
    const { client, connectionId } = await open();
    const started = Date.now();
    const pinger = setInterval(() => client.send({ action: 'oneway' }), 150);
    const closed = await client.closed;
    clearInterval(pinger);
    expect(closed).toEqual({ code: 1001, reason: 'Going away' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1100);
    expect(await waitFor(disconnectOf(connectionId), '$disconnect')).toMatchObject({
      disconnectStatusCode: 1001,
    });
  });

  it('accepts a 32 KB frame and closes with 1009 on a larger one (the message is not routed)', async () => {
    const { client, connectionId } = await open();
    client.send({ action: 'echo', data: 'x'.repeat(32 * 1024 - 40) });
    expect(JSON.parse(await client.next()).echo).toHaveLength(32 * 1024 - 40);
    client.send({ action: 'echo', data: 'x'.repeat(32 * 1024) });
    expect((await client.closed).code).toBe(1009);
    expect(await waitFor(disconnectOf(connectionId), '$disconnect')).toMatchObject({
      disconnectStatusCode: 1009,
      disconnectReason: 'Message too big',
    });
    expect(client.frames).toHaveLength(1);
  });

  it('accepts a fragmented message up to 128 KB and closes with 1009 above it', async () => {
    const { client } = await open();
    const sendFragmented = (parts: number, size: number) => {
      client.ws.send('{"action":"echo","data":"', { fin: false });
      for (let i = 0; i < parts; i++) client.ws.send('y'.repeat(size), { fin: false });
      client.ws.send('"}', { fin: true });
    };
    sendFragmented(3, 30 * 1024);
    expect(JSON.parse(await client.next()).echo).toHaveLength(90 * 1024);
    sendFragmented(5, 30 * 1024);
    expect((await client.closed).code).toBe(1009);
  });

  it('closes with 1003 on a binary frame (API Gateway does not accept them)', async () => {
    const { client, connectionId } = await open();
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await client.closed).code).toBe(1003);
    expect(await waitFor(disconnectOf(connectionId), '$disconnect')).toMatchObject({
      disconnectStatusCode: 1003,
    });
  });

  it('closes every socket with 1001 on shutdown and runs their $disconnect before close() resolves', async () => {
    const own = await startFixture();
    const client = await connect(`${own.gateway.url}?token=good`);
    const [connectionId] = own.gateway.connectionIds();
    await own.gateway.close();
    expect((await client.closed).code).toBe(1001);
    expect(disconnectOf(connectionId as string)()).toMatchObject({
      disconnectStatusCode: 1001,
      disconnectReason: 'Going away',
    });
    await sleep(10);
  });
});
