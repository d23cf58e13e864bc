/**
 * DynamoDB unavailable (DynamoDB target only): the handlers' client pointed at a closed port, and at a small
 * HTTP endpoint in front of the run's local DynamoDB that answers some requests as DynamoDB answers a
 * throttled or failing request (HTTP 400 with the JSON error body, or 500), forwarding the rest. A request
 * the SDK gives up on after its retries is `unavailable`: nothing acknowledged, nothing delivered, and the
 * resend with the same clientMsgId is stored once when DynamoDB answers again.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeDynamo } from '@classroom/shared';
import { lambdaContext, wsEvent } from '../support/events';
import { Harness } from '../support/harness';
import { freePort } from '../support/redis-server';

const h = new Harness();
const local = process.env.TEST_DYNAMODB_ENDPOINT as string; // the run's local DynamoDB

/** What the endpoint answers instead of forwarding, for the requests `matches` picks. */
interface Fault {
  status: number;
  type: string;
  matches: (operation: string, body: Record<string, unknown>) => boolean;
  /** Forward the request first (it is applied), then answer the fault instead of DynamoDB's answer. */
  afterApplying?: boolean;
}

let fault: Fault | undefined;
let answered = 0;
let proxy: Server;
let proxyUrl: string;

beforeAll(async () => {
  await h.start({ DYNAMODB_CONNECT_TIMEOUT_MS: '1000', DYNAMODB_REQUEST_TIMEOUT_MS: '3000' });
  const target = new URL(local);
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const injected = fault?.matches(operation, JSON.parse(body.toString() || '{}')) ? fault : undefined;
      const answerFault = (f: Fault) => {
        answered++;
        const payload = JSON.stringify({
          __type: `com.amazonaws.dynamodb.v20120810#${f.type}`,
          message: `${f.type} (injected)`,
        });
        res.writeHead(f.status, { 'content-type': 'application/x-amz-json-1.0' }).end(payload);
      };
      if (injected && !injected.afterApplying) {
        answerFault(injected);
        return;
      }
      const upstream = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          if (injected) {
            answer.resume();
            answer.on('end', () => answerFault(injected));
            return;
          }
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await h.stop();
  await new Promise((resolve) => proxy.close(resolve));
});
beforeEach(() => {
  h.api.reset();
  fault = undefined;
  answered = 0;
});

/** Points the handlers' DynamoDB client at `endpoint` (a new client, as a new container would have). */
function useEndpoint(endpoint: string): void {
  closeDynamo();
  process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
}

const say = (caller: Parameters<Harness['send']>[1], data: unknown, clientMsgId: string) =>
  h.send('sendMessage', caller, { action: 'sendMessage', kind: 'chat', data, clientMsgId });

describe('DynamoDB unavailable', () => {
  afterEach(() => useEndpoint(local));

  it('answers sendMessage unavailable within a few seconds when nothing listens, refuses $connect (500), and recovers', async () => {
    // Prepare
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    useEndpoint(`http://127.0.0.1:${await freePort()}`);
    const started = Date.now();
    // Act
    const answer = await say(ann, 'lost?', 'o1');
    const elapsed = Date.now() - started;
    const handshake = await h.handlers.connect(wsEvent(h.caller(room, 'carl'), '$connect'), lambdaContext());
    useEndpoint(local);
    const resent = await say(ann, 'lost?', 'o1');
    // Assess
    expect(answer).toEqual({
      type: 'error',
      code: 'unavailable',
      message: expect.any(String),
      action: 'sendMessage',
      clientMsgId: 'o1',
    });
    expect(elapsed).toBeLessThan(3000);
    expect(handshake.statusCode).toBe(500);
    expect(resent).toMatchObject({ type: 'ack', clientMsgId: 'o1', seq: 1 });
    expect(h.api.framesTo(bob.connectionId).map((f) => [f.seq, f.data])).toEqual([[1, 'lost?']]);
  });

  it('answers unavailable within the operation budget when DynamoDB accepts requests and never answers', async () => {
    // Prepare: an endpoint that reads requests and answers none
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const held = new Set<import('node:net').Socket>();
    const hang = createServer((req) => {
      held.add(req.socket);
      req.resume();
    });
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    useEndpoint(`http://127.0.0.1:${(hang.address() as AddressInfo).port}`);
    process.env.DYNAMODB_OPERATION_BUDGET_MS = '2000';
    const started = Date.now();
    // Act
    const answer = await say(ann, 'held', 'h1');
    const elapsed = Date.now() - started;
    // Assess: cut at the budget (and a clean-up's short while), well within the function's 10 s
    delete process.env.DYNAMODB_OPERATION_BUDGET_MS;
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => hang.close(resolve));
    expect(answer).toMatchObject({ type: 'error', code: 'unavailable', clientMsgId: 'h1' });
    expect(elapsed).toBeLessThan(3500);
  });

  it.each([
    { status: 400, type: 'ThrottlingException' },
    { status: 400, type: 'ProvisionedThroughputExceededException' },
    { status: 400, type: 'RequestLimitExceeded' },
    { status: 500, type: 'InternalServerError' },
    { status: 503, type: 'ServiceUnavailable' },
  ])(
    'answers unavailable when every request gets $type ($status), after the SDK retries it',
    async ({ status, type }) => {
      // Prepare
      const room = h.room();
      const ann = await h.join(h.caller(room, 'ann'));
      const bob = await h.join(h.caller(room, 'bob'));
      useEndpoint(proxyUrl);
      fault = { status, type, matches: () => true };
      // Act
      const answer = await say(ann, 'x', 't1');
      // Assess: each of the first round trip's two calls tried 3 times (the client's maxAttempts)
      expect(answer).toMatchObject({ type: 'error', code: 'unavailable', clientMsgId: 't1' });
      expect(answered).toBe(6);
      expect(h.api.framesTo(bob.connectionId)).toEqual([]);
      expect(await h.inspect.seq(room)).toBeUndefined();
    },
    30_000,
  );

  it('never acknowledges a message whose counter write was throttled; its resend is stored once', async () => {
    // Prepare: only the state item's update is throttled (the member and dedupe writes go through)
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    useEndpoint(proxyUrl);
    fault = {
      status: 400,
      type: 'ThrottlingException',
      matches: (operation, body) =>
        operation === 'UpdateItem' && (body.Key as { sk?: { S?: string } })?.sk?.S === 'state',
    };
    // Act
    const throttled = await say(ann, 'once', 'w1');
    const stateAfter = await h.inspect.seq(room);
    fault = undefined;
    const resent = await say(ann, 'once', 'w1');
    const again = await say(ann, 'once', 'w1');
    // Assess
    expect(throttled).toMatchObject({ type: 'error', code: 'unavailable', clientMsgId: 'w1' });
    expect(answered).toBe(3);
    expect(stateAfter).toBeUndefined();
    expect(resent).toMatchObject({ type: 'ack', clientMsgId: 'w1', seq: 1 });
    expect(again).toEqual(resent);
    expect(h.api.framesTo(bob.connectionId).map((f) => [f.seq, f.data])).toEqual([[1, 'once']]);
    expect(await h.inspect.seq(room)).toBe(1);
  }, 30_000);

  it("never acknowledges a message whose own item's write was throttled; the resend completes it under its seq, no hole", async () => {
    // Prepare: every PutItem of a message item is throttled
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    await say(ann, 'before', 'p0');
    useEndpoint(proxyUrl);
    fault = {
      status: 400,
      type: 'ThrottlingException',
      matches: (operation, body) =>
        operation === 'PutItem' && ((body.Item as { sk?: { S?: string } })?.sk?.S ?? '').startsWith('msg#'),
    };
    h.api.reset();
    // Act
    const throttled = await say(ann, 'once', 'p1');
    fault = undefined;
    const resent = await say(ann, 'once', 'p1');
    const next = await say(ann, 'after', 'p2');
    const history = await h.send('resume', bob, { action: 'resume', afterSeq: 0 });
    // Assess
    expect(throttled).toMatchObject({ type: 'error', code: 'unavailable', clientMsgId: 'p1' });
    expect(answered).toBe(3);
    expect(resent).toMatchObject({ type: 'ack', clientMsgId: 'p1', seq: 2 });
    expect(next).toMatchObject({ type: 'ack', clientMsgId: 'p2', seq: 3 });
    expect(h.api.framesTo(bob.connectionId).map((f) => [f.seq, f.data])).toEqual([
      [2, 'once'],
      [3, 'after'],
    ]);
    expect(((history?.messages ?? []) as Record<string, unknown>[]).map((f) => [f.seq, f.data])).toEqual([
      [1, 'before'],
      [2, 'once'],
      [3, 'after'],
    ]);
    expect(await h.inspect.storedSeqs(room)).toEqual([1, 2, 3]);
  }, 30_000);

  it('does not resend a counter write whose answer was lost (applied, then 500): the resend completes it once', async () => {
    // Prepare: the state item's update reaches DynamoDB, and its answer is replaced by a 500
    const room = h.room();
    const ann = await h.join(h.caller(room, 'ann'));
    const bob = await h.join(h.caller(room, 'bob'));
    await say(ann, 'before', 'l0');
    useEndpoint(proxyUrl);
    fault = {
      status: 500,
      type: 'InternalServerError',
      afterApplying: true,
      matches: (operation, body) =>
        operation === 'UpdateItem' &&
        (body.Key as { sk?: { S?: string } })?.sk?.S === 'state' &&
        String(body.UpdateExpression).includes('seq'),
    };
    h.api.reset();
    // Act
    const lost = await say(ann, 'once', 'l1');
    const counted = await h.inspect.seq(room);
    fault = undefined;
    const resent = await say(ann, 'once', 'l1');
    const again = await say(ann, 'once', 'l1');
    const history = await h.send('resume', bob, { action: 'resume', afterSeq: 0 });
    // Assess: stored once (the SDK did not send it again), unavailable until the resend delivers it, once
    expect(lost).toMatchObject({ type: 'error', code: 'unavailable', clientMsgId: 'l1' });
    expect(answered).toBe(1);
    expect(counted).toBe(2);
    expect(resent).toMatchObject({ type: 'ack', clientMsgId: 'l1', seq: 2 });
    expect(again).toEqual(resent);
    expect(h.api.framesTo(bob.connectionId).map((f) => [f.seq, f.data])).toEqual([[2, 'once']]);
    expect(((history?.messages ?? []) as Record<string, unknown>[]).map((f) => f.data)).toEqual([
      'before',
      'once',
    ]);
    expect(await h.inspect.seq(room)).toBe(2);
  }, 30_000);
});
