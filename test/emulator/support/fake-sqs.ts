/**
 * A small in-memory SQS for tests, speaking the AWS JSON 1.0 protocol the real @aws-sdk/client-sqs
 * uses: CreateQueue, GetQueueUrl, GetQueueAttributes, SendMessage, ReceiveMessage (long polling,
 * visibility timeout, receive counts, redrive to a dead-letter queue), DeleteMessage(Batch).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface StoredMessage {
  id: string;
  body: string;
  sentAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  visibleAt: number;
  receipt?: string;
}

interface Queue {
  name: string;
  url: string;
  arn: string;
  attributes: Record<string, string>;
  messages: StoredMessage[];
}

const md5 = (text: string) => createHash('md5').update(text).digest('hex');

export class FakeSqs {
  readonly queues = new Map<string, Queue>();
  private server?: Server;
  endpoint = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => {
        raw += chunk.toString('utf8');
      });
      req.on('end', async () => {
        const action = String(req.headers['x-amz-target'] ?? '').replace('AmazonSQS.', '');
        let closed = false;
        res.on('close', () => {
          closed = true;
        });
        try {
          const out = await this.handle(action, JSON.parse(raw || '{}'), () => closed);
          const body = JSON.stringify(out);
          res.writeHead(200, {
            'content-type': 'application/x-amz-json-1.0',
            'content-length': Buffer.byteLength(body),
          });
          res.end(body);
        } catch (error) {
          const body = JSON.stringify({
            __type: `com.amazonaws.sqs#${(error as Error).name}`,
            message: (error as Error).message,
          });
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(body);
        }
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  queue(name: string): Queue {
    const queue = this.queues.get(name);
    if (!queue) throw Object.assign(new Error(`no queue ${name}`), { name: 'QueueDoesNotExist' });
    return queue;
  }

  send(queueName: string, body: string): string {
    const id = randomUUID();
    this.queue(queueName).messages.push({ id, body, sentAt: Date.now(), receiveCount: 0, visibleAt: 0 });
    return id;
  }

  private byUrl(url: string): Queue {
    return this.queue(url.split('/').pop() as string);
  }

  // biome-ignore lint/suspicious/noExplicitAny: request bodies of several operations
  private async handle(action: string, input: Record<string, any>, aborted: () => boolean): Promise<unknown> {
    switch (action) {
      case 'CreateQueue': {
        const name = input.QueueName as string;
        if (!this.queues.has(name)) {
          this.queues.set(name, {
            name,
            url: `${this.endpoint}/000000000000/${name}`,
            arn: `arn:aws:sqs:us-east-1:000000000000:${name}`,
            attributes: input.Attributes ?? {},
            messages: [],
          });
        }
        return { QueueUrl: this.queue(name).url };
      }
      case 'GetQueueUrl':
        return { QueueUrl: this.queue(input.QueueName).url };
      case 'GetQueueAttributes': {
        const queue = this.byUrl(input.QueueUrl);
        return { Attributes: { ...queue.attributes, QueueArn: queue.arn } };
      }
      case 'SendMessage': {
        const id = this.send(this.byUrl(input.QueueUrl).name, input.MessageBody);
        return { MessageId: id, MD5OfMessageBody: md5(input.MessageBody) };
      }
      case 'ReceiveMessage':
        return this.receive(
          this.byUrl(input.QueueUrl),
          input.MaxNumberOfMessages ?? 1,
          input.WaitTimeSeconds ?? 0,
          aborted,
        );
      case 'DeleteMessage':
        this.remove(this.byUrl(input.QueueUrl), [input.ReceiptHandle]);
        return {};
      case 'DeleteMessageBatch': {
        const entries = input.Entries as Array<{ Id: string; ReceiptHandle: string }>;
        this.remove(
          this.byUrl(input.QueueUrl),
          entries.map((e) => e.ReceiptHandle),
        );
        return { Successful: entries.map((e) => ({ Id: e.Id })), Failed: [] };
      }
      default:
        throw Object.assign(new Error(`fake SQS does not implement ${action}`), {
          name: 'UnsupportedOperation',
        });
    }
  }

  private remove(queue: Queue, receipts: string[]): void {
    queue.messages = queue.messages.filter((m) => !m.receipt || !receipts.includes(m.receipt));
  }

  private async receive(
    queue: Queue,
    max: number,
    waitSeconds: number,
    aborted: () => boolean,
  ): Promise<unknown> {
    const deadline = Date.now() + waitSeconds * 1000;
    for (;;) {
      this.redrive(queue);
      const now = Date.now();
      const ready = queue.messages.filter((m) => m.visibleAt <= now).slice(0, max);
      if (ready.length > 0 || now >= deadline || aborted()) {
        const visibility = Number(queue.attributes.VisibilityTimeout ?? 30) * 1000;
        return {
          Messages: ready.map((m) => {
            m.receiveCount += 1;
            m.firstReceivedAt ??= now;
            m.visibleAt = now + visibility;
            m.receipt = randomUUID();
            return {
              MessageId: m.id,
              ReceiptHandle: m.receipt,
              MD5OfBody: md5(m.body),
              Body: m.body,
              Attributes: {
                ApproximateReceiveCount: String(m.receiveCount),
                SentTimestamp: String(m.sentAt),
                SenderId: 'AIDAFAKE',
                ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt),
              },
            };
          }),
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Moves messages received maxReceiveCount times (and visible again) to the dead-letter queue. */
  private redrive(queue: Queue): void {
    if (!queue.attributes.RedrivePolicy) return;
    const policy = JSON.parse(queue.attributes.RedrivePolicy) as {
      deadLetterTargetArn: string;
      maxReceiveCount: number;
    };
    const dlq = [...this.queues.values()].find((q) => q.arn === policy.deadLetterTargetArn);
    const now = Date.now();
    const dead = queue.messages.filter(
      (m) => m.visibleAt <= now && m.receiveCount >= Number(policy.maxReceiveCount),
    );
    if (!dlq || dead.length === 0) return;
    queue.messages = queue.messages.filter((m) => !dead.includes(m));
    dlq.messages.push(...dead.map((m) => ({ ...m, visibleAt: 0, receipt: undefined })));
  }
}
