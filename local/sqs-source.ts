/**
 * Local SQS event source mappings: for each SQS event of a function in the template, long-poll the
 * queue on an SQS-compatible endpoint with the real `@aws-sdk/client-sqs`, invoke the function with an
 * AWS-shaped SQS event, delete the records that succeeded and leave the others for redelivery
 * (partial batch responses when the mapping has `ReportBatchItemFailures`).
 */
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { type InvocationOutcome, invocationLine } from './lambda-runtime';
import type { QueueDef, SqsSourceDef } from './template';

export interface SqsClientSettings {
  endpoint: string;
  region: string;
}

/** Queue attributes of an `AWS::SQS::Queue` that CreateQueue understands, as strings. */
const QUEUE_ATTRIBUTES = [
  'VisibilityTimeout',
  'MessageRetentionPeriod',
  'DelaySeconds',
  'MaximumMessageSize',
  'ReceiveMessageWaitTimeSeconds',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled',
];

export function createSqsClient(settings: SqsClientSettings): SQSClient {
  const hasCredentials = process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE;
  return new SQSClient({
    endpoint: settings.endpoint,
    region: settings.region,
    ...(hasCredentials ? {} : { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
  });
}

/** The template's queues on the endpoint: created on first use (dead-letter queues first), or given. */
export class LocalQueues {
  private readonly urls = new Map<string, Promise<string>>();

  constructor(
    private readonly client: SQSClient,
    private readonly queues: Map<string, QueueDef>,
    private readonly given: Record<string, string> = {},
  ) {}

  /** The URL of the queue with this logical id (or this name, for a queue outside the template). */
  url(logicalIdOrName: string): Promise<string> {
    let url = this.urls.get(logicalIdOrName);
    if (!url) {
      url = this.ensure(logicalIdOrName);
      url.catch(() => this.urls.delete(logicalIdOrName));
      this.urls.set(logicalIdOrName, url);
    }
    return url;
  }

  async arn(queueUrl: string): Promise<string | undefined> {
    const out = await this.client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    return out.Attributes?.QueueArn;
  }

  /** Every URL resolved so far, by logical id. */
  async known(): Promise<Record<string, string>> {
    const entries = await Promise.all(
      [...this.urls].map(async ([id, url]) => [id, await url.catch(() => '')] as const),
    );
    return Object.fromEntries(entries.filter(([, url]) => url));
  }

  private async ensure(logicalIdOrName: string): Promise<string> {
    const given = this.given[logicalIdOrName];
    if (given) return given;
    const def = this.queues.get(logicalIdOrName);
    const name = def?.name ?? logicalIdOrName;
    const attributes: Record<string, string> = {};
    for (const key of QUEUE_ATTRIBUTES) {
      const value = def?.properties[key];
      if (value !== undefined && typeof value !== 'object') attributes[key] = String(value);
    }
    const redrive = def?.properties.RedrivePolicy;
    if (redrive && typeof redrive === 'object') {
      const policy = { ...(redrive as Record<string, unknown>) };
      const dlq = [...this.queues.values()].find((q) => q.arn === policy.deadLetterTargetArn);
      if (dlq)
        policy.deadLetterTargetArn =
          (await this.arn(await this.url(dlq.logicalId))) ?? policy.deadLetterTargetArn;
      attributes.RedrivePolicy = JSON.stringify(policy);
    }
    const redriveAllow = def?.properties.RedriveAllowPolicy;
    if (redriveAllow !== undefined)
      attributes.RedriveAllowPolicy =
        typeof redriveAllow === 'string' ? redriveAllow : JSON.stringify(redriveAllow);
    try {
      const out = await this.client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      return out.QueueUrl as string;
    } catch (error) {
      // Exists with other attributes: use it as it is.
      const out = await this.client.send(new GetQueueUrlCommand({ QueueName: name })).catch(() => {
        throw error;
      });
      return out.QueueUrl as string;
    }
  }
}

export interface SqsEventSourceOptions {
  source: SqsSourceDef;
  client: SQSClient;
  queues: LocalQueues;
  region: string;
  waitTimeSeconds: number;
  invoke: (functionId: string, event: unknown) => Promise<InvocationOutcome>;
  log: (line: string) => void;
}

export class SqsEventSource {
  private readonly abort = new AbortController();
  private loop?: Promise<void>;

  constructor(private readonly options: SqsEventSourceOptions) {}

  /** Resolves the queue, then polls in the background until `stop()`. */
  async start(): Promise<string> {
    const { source, queues } = this.options;
    const url = await queues.url(source.queueLogicalId ?? source.queueName);
    const arn = (await queues.arn(url).catch(() => undefined)) ?? source.queueArn;
    this.loop = this.poll(url, arn);
    return url;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async poll(url: string, arn: string): Promise<void> {
    const { source, log } = this.options;
    let lastError = '';
    while (!this.abort.signal.aborted) {
      try {
        const messages = await this.receiveBatch(url);
        lastError = '';
        if (messages.length > 0) await this.deliver(url, arn, messages);
      } catch (error) {
        if (this.abort.signal.aborted) break;
        const text = (error as Error).message;
        if (text !== lastError)
          log(`sqs:${source.queueName} polling failed (retrying every second): ${text}`);
        lastError = text;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  /** One batch: a long poll, then more receives while the batching window is open and the batch not full. */
  private async receiveBatch(url: string): Promise<Message[]> {
    const { source, client, waitTimeSeconds } = this.options;
    const receive = async (wait: number, max: number) => {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: Math.min(10, max),
          WaitTimeSeconds: wait,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: this.abort.signal },
      );
      return out.Messages ?? [];
    };
    const batch = await receive(waitTimeSeconds, source.batchSize);
    const windowEnd = Date.now() + source.maximumBatchingWindowSeconds * 1000;
    while (batch.length > 0 && batch.length < source.batchSize && Date.now() < windowEnd) {
      const more = await receive(0, source.batchSize - batch.length);
      if (more.length === 0) await new Promise((r) => setTimeout(r, 100));
      batch.push(...more);
    }
    return batch;
  }

  private async deliver(url: string, arn: string, messages: Message[]): Promise<void> {
    const { source, client, region, invoke, log } = this.options;
    const event = { Records: messages.map((m) => sqsRecord(m, arn, region)) };
    const outcome = await invoke(source.functionId, event);
    const ids = messages.map((m) => m.MessageId as string);
    const failed = !outcome.ok
      ? new Set(ids)
      : source.reportBatchItemFailures
        ? batchItemFailures(outcome.value, ids)
        : new Set<string>();
    const done = messages.filter((m) => !failed.has(m.MessageId as string));
    for (let i = 0; i < done.length; i += 10) {
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: done
            .slice(i, i + 10)
            .map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle as string })),
        }),
      );
    }
    const status = outcome.ok
      ? `${messages.length} records, ${failed.size} failed`
      : outcome.timedOut
        ? 'timeout'
        : `error (${outcome.error?.message})`;
    log(
      invocationLine(
        `sqs:${source.queueName}`,
        source.functionId,
        undefined,
        status,
        outcome.durationMs,
        outcome,
      ),
    );
  }
}

/** The ids reported in `batchItemFailures`; every id when the response is malformed (as Lambda does). */
export function batchItemFailures(value: unknown, ids: string[]): Set<string> {
  if (value === undefined || value === null) return new Set();
  const failures = (value as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return new Set(ids);
  const failed = new Set<string>();
  for (const entry of failures) {
    const id = (entry as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.includes(id)) return new Set(ids);
    failed.add(id);
  }
  return failed;
}

/** One record of the SQS event Lambda sends. */
export function sqsRecord(
  message: Message,
  eventSourceARN: string,
  awsRegion: string,
): Record<string, unknown> {
  const b64 = (value: Uint8Array) => Buffer.from(value).toString('base64');
  const messageAttributes: Record<string, unknown> = {};
  for (const [name, attr] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      ...(attr.StringValue !== undefined ? { stringValue: attr.StringValue } : {}),
      ...(attr.BinaryValue !== undefined ? { binaryValue: b64(attr.BinaryValue) } : {}),
      stringListValues: attr.StringListValues ?? [],
      binaryListValues: (attr.BinaryListValues ?? []).map(b64),
      dataType: attr.DataType,
    };
  }
  return {
    messageId: message.MessageId,
    receiptHandle: message.ReceiptHandle,
    body: message.Body ?? '',
    attributes: message.Attributes ?? {},
    messageAttributes,
    md5OfBody: message.MD5OfBody,
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN,
    awsRegion,
  };
}
