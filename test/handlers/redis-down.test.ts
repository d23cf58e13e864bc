/**
 * A dead Redis fails a request in about a second with an `unavailable` frame (nothing was acknowledged:
 * resend with the same clientMsgId), not at the Lambda timeout.
 */
import { closeRedis } from '@classroom/shared';
import { Harness } from '../support/harness';
import { freePort } from '../support/redis-server';
import { skipFileOnDynamoDB } from '../support/skip';

skipFileOnDynamoDB(
  'stops Redis; a DynamoDB outage (closed port, throttling endpoint) is dynamodb-outage.dynamodb.test.ts',
);

const h = new Harness();
beforeAll(async () => {
  await h.start();
  await closeRedis();
  process.env.REDIS_URL = `redis://127.0.0.1:${await freePort()}`; // nothing listens there
});
afterAll(() => h.stop());

describe('Redis unavailable', () => {
  it('answers sendMessage with an unavailable error frame naming the message, within about a second', async () => {
    // Prepare
    const caller = h.caller(h.room(), 'ann');
    const started = Date.now();
    // Act
    const answer = await h.send('sendMessage', caller, {
      action: 'sendMessage',
      kind: 'chat',
      data: 1,
      clientMsgId: 'z',
    });
    // Assess
    const elapsed = Date.now() - started;
    expect(answer).toEqual({
      type: 'error',
      code: 'unavailable',
      message: expect.any(String),
      action: 'sendMessage',
      clientMsgId: 'z',
    });
    expect(elapsed).toBeLessThan(3000);
  });

  it('rejects the $connect handshake with 500', async () => {
    const { wsEvent, lambdaContext } = await import('../support/events');
    const result = await h.handlers.connect(wsEvent(h.caller(h.room(), 'ann'), '$connect'), lambdaContext());
    expect(result.statusCode).toBe(500);
  });
});
