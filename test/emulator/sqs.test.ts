/**
 * SPEC §7, SQS: the template's SQS event source is fed from an SQS-compatible endpoint with the real
 * @aws-sdk/client-sqs (here a small in-memory SQS): queues created from the template (dead-letter queue
 * and redrive policy included), AWS-shaped records in batches of the template's BatchSize, successful
 * records deleted, those in batchItemFailures left for redelivery.
 */
import type { SQSEvent } from 'aws-lambda';
import { batchItemFailures } from '../../local/sqs-source';
import { clearRecords, type FixtureGateway, records, startFixture, waitFor } from './support/clients';
import { FakeSqs } from './support/fake-sqs';

describe('Function: batchItemFailures', () => {
  it('reads partial batch responses; a malformed one fails the whole batch, as Lambda does', () => {
    expect([...batchItemFailures({ batchItemFailures: [{ itemIdentifier: 'b' }] }, ['a', 'b'])]).toEqual([
      'b',
    ]);
    expect(batchItemFailures(undefined, ['a']).size).toBe(0);
    expect(batchItemFailures({ batchItemFailures: [] }, ['a']).size).toBe(0);
    expect([...batchItemFailures({ batchItemFailures: [{ itemIdentifier: '' }] }, ['a', 'b'])]).toEqual([
      'a',
      'b',
    ]);
    expect([...batchItemFailures({ batchItemFailures: [{ itemIdentifier: 'zz' }] }, ['a'])]).toEqual(['a']);
  });
});

describe('Gateway: SQS event sources', () => {
  let sqs: FakeSqs;
  let fixture: FixtureGateway;

  beforeAll(async () => {
    sqs = new FakeSqs();
    await sqs.start();
    clearRecords();
    fixture = await startFixture({ sqsEndpoint: sqs.endpoint, sqsWaitTimeSeconds: 1, stackName: 'fx' });
  });
  afterAll(async () => {
    await fixture.gateway.close();
    await sqs.stop();
  });

  it('creates the queue and its dead-letter queue from the template', () => {
    expect(fixture.gateway.queueUrls.PublishQueue).toBe(`${sqs.endpoint}/000000000000/fx-publish`);
    const policy = JSON.parse(sqs.queue('fx-publish').attributes.RedrivePolicy as string);
    expect(policy).toEqual({
      deadLetterTargetArn: sqs.queue('PublishDeadLetterQueue').arn,
      maxReceiveCount: 3,
    });
    expect(sqs.queue('fx-publish').attributes.VisibilityTimeout).toBe('1');
  });

  it('invokes the function with AWS-shaped SQS records, deletes successes and redelivers failures until the DLQ', async () => {
    // Queued in one go: the first receive gets all three however busy the machine is (sent one request
    // at a time, a poll may land between them).
    for (const body of ['one', 'two', 'please fail']) sqs.send('fx-publish', body);
    const seen = () => records('publish').flatMap((r) => (r.event as unknown as SQSEvent).Records);
    await waitFor(
      () => seen().filter((r) => r.body === 'please fail').length >= 3,
      'three deliveries of the failing record',
      15_000,
    );
    const first = seen()[0];
    expect(Object.keys(first ?? {}).sort()).toEqual(
      [
        'attributes',
        'awsRegion',
        'body',
        'eventSource',
        'eventSourceARN',
        'md5OfBody',
        'messageAttributes',
        'messageId',
        'receiptHandle',
      ].sort(),
    );
    expect(first).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: sqs.queue('fx-publish').arn,
      awsRegion: 'us-east-1',
    });
    expect(first?.attributes.ApproximateReceiveCount).toBe('1');
    expect(seen().filter((r) => r.body === 'one')).toHaveLength(1);
    expect(seen().filter((r) => r.body === 'two')).toHaveLength(1);
    const failures = seen().filter((r) => r.body === 'please fail');
    expect(failures.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2', '3']);
    await waitFor(
      () => sqs.queue('PublishDeadLetterQueue').messages.length === 1,
      'the dead-letter queue',
      15_000,
    );
    expect(sqs.queue('fx-publish').messages).toHaveLength(0);
    expect(records('publish').every((r) => (r.event as unknown as SQSEvent).Records.length <= 5)).toBe(true);
    expect(fixture.logs).toContainEqual(
      expect.stringMatching(/^sqs:fx-publish PublishFunction 3 records, 1 failed \d+ms$/),
    );
  });
});

describe('Gateway: SQS without an endpoint', () => {
  it('says clearly that the SQS source is not fed', async () => {
    const saved = process.env.SQS_ENDPOINT;
    delete process.env.SQS_ENDPOINT;
    const fixture = await startFixture();
    expect(fixture.logs).toContainEqual(
      expect.stringMatching(/PublishFunction event Queue .* is NOT fed: no SQS endpoint/),
    );
    await fixture.gateway.close();
    if (saved !== undefined) process.env.SQS_ENDPOINT = saved;
  });
});
