/**
 * SPEC §5/§7: connections that go away without the client closing. DeleteConnection through the real
 * ApiGatewayManagementApiClient closes the socket and runs $disconnect; a client that vanished without a
 * close frame (the gateway answers 410 for it; the emulator's fault hook stands in for the half-open TCP
 * connection) is pruned on the next broadcast: out of the room's members, `leave` to the others.
 */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { FRAME_TIMEOUT_MS, sleep, type TestClient, withTimeout } from './support/client';
import { ackFrame, chat, messageFrame, presenceFrame } from './support/frames';
import { describeTarget, itRequires, member, uniqueRoom } from './support/target';

describeTarget('stale connections', { requires: { connectionIds: true } }, (ctx) => {
  const alice = member('alice');
  const bob = member('bob');
  const carol = member('carol');
  const open: TestClient[] = [];
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
  });
  // The members the handlers' store keeps (Redis, a cluster, or the DynamoDB table).
  const members = (room: string) => ctx.target.memberIds(room);

  it('DeleteConnection (real SDK client) closes the socket and fires $disconnect: the others see leave', async () => {
    const room = uniqueRoom('delete');
    const a = await ctx.target.connect(alice, room);
    const { client: b, id } = await ctx.target.connectWithId(bob, room);
    open.push(a, b);
    expect(await members(room)).toContain(id);
    const sdk = new ApiGatewayManagementApiClient({
      endpoint: ctx.target.managementEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    try {
      const out = await sdk.send(new DeleteConnectionCommand({ ConnectionId: id }));
      expect(out.$metadata.httpStatusCode).toBe(204);
      const closed = await withTimeout(b.closed, FRAME_TIMEOUT_MS, 'the deleted socket closed');
      expect(closed.code).toBe(1000);
      expect(await a.nextOfType('presence', { event: 'leave' })).toEqual(presenceFrame('leave', bob));
      expect(await members(room)).not.toContain(id);
      // Deleting it again: 410 GoneException.
      await expect(sdk.send(new DeleteConnectionCommand({ ConnectionId: id }))).rejects.toMatchObject({
        name: 'GoneException',
        $metadata: { httpStatusCode: 410 },
      });
    } finally {
      sdk.destroy();
    }
  });

  itRequires(
    { emulator: "the management API's 410 fault hook (a client gone without a close frame)" },
    'a client that vanished without a close frame is pruned on the next broadcast (410 → out of members, leave)',
    async () => {
      const room = uniqueRoom('vanish');
      const a = await ctx.target.connect(alice, room);
      const c = await ctx.target.connect(carol, room);
      const { client: b, id } = await ctx.target.connectWithId(bob, room);
      open.push(a, b, c);
      await c.nextOfType('presence', { event: 'join' }); // bob's join
      // Half-open: the gateway still lists the connection but its client is gone, so posts to it get 410.
      ctx.target.vanish(id);
      expect(ctx.target.gateway?.connectionIds()).toContain(id);
      expect(await members(room)).toContain(id);
      const ack = await a.request(chat('anyone there?', 'v-1'), 'ack');
      expect(ack).toEqual(ackFrame('v-1', 1));
      expect(await c.nextOfType('message')).toEqual(
        messageFrame(room, alice, { seq: 1, id: ack.id, kind: 'chat', data: { text: 'anyone there?' } }),
      );
      expect(await members(room)).not.toContain(id);
      expect(await members(room)).toHaveLength(2);
      expect(await a.nextOfType('presence', { event: 'leave' })).toEqual(presenceFrame('leave', bob));
      expect(await c.nextOfType('presence', { event: 'leave' })).toEqual(presenceFrame('leave', bob));
      expect(await c.request({ action: 'presence' }, 'presence')).toEqual({
        type: 'presence',
        event: 'snapshot',
        members: [alice, carol],
      });
      // The next message is not posted to it at all, and nothing reached the vanished client.
      await a.request(chat('second', 'v-2'), 'ack');
      await c.nextOfType('message', { seq: 2 });
      await sleep(200);
      expect(b.framesWhere((f) => f.type === 'message')).toEqual([]);
      expect(a.framesWhere((f) => f.type === 'presence' && f.event === 'leave')).toHaveLength(1);
    },
  );
});
