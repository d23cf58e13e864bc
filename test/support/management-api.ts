/**
 * A real HTTP server standing in for the API Gateway management API in handler tests. It records every
 * post and delete, and answers 410, 429, 500 or a delay on demand, per connection id. The handlers reach
 * it through the real ApiGatewayManagementApiClient.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface RecordedPost {
  connectionId: string;
  body: string;
}

type Answer = 200 | 410 | 429 | 500 | { delayMs: number };

export class FakeManagementApi {
  readonly posts: RecordedPost[] = [];
  readonly deletes: string[] = [];
  private readonly scripted = new Map<string, Answer[]>();
  private readonly gone = new Set<string>();
  private server?: Server;
  endpoint = '';

  /** Answers for the next posts to a connection, in order; afterwards it answers 200. */
  script(connectionId: string, ...answers: Answer[]): void {
    this.scripted.set(connectionId, answers);
  }

  /** The connection answers 410 to every post from now on. */
  markGone(connectionId: string): void {
    this.gone.add(connectionId);
  }

  framesTo(connectionId: string): Record<string, unknown>[] {
    return this.posts.filter((p) => p.connectionId === connectionId).map((p) => JSON.parse(p.body));
  }

  reset(): void {
    this.posts.length = 0;
    this.deletes.length = 0;
    this.scripted.clear();
    this.gone.clear();
  }

  async start(stage = 'test'): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    this.endpoint = `http://127.0.0.1:${port}/${stage}`;
    return this.endpoint;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /\/@connections\/([^/?]+)/.exec(req.url ?? '');
    const connectionId = decodeURIComponent(match?.[1] ?? '');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const send = (status: number, type?: string) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        ...(type ? { 'x-amzn-errortype': type } : {}),
      });
      res.end(status === 200 ? '' : JSON.stringify({ message: type ?? 'error' }));
    };
    if (req.method === 'DELETE') {
      this.deletes.push(connectionId);
      return send(
        this.gone.has(connectionId) ? 410 : 204,
        this.gone.has(connectionId) ? 'GoneException' : undefined,
      );
    }
    if (this.gone.has(connectionId)) return send(410, 'GoneException');
    const answer = this.scripted.get(connectionId)?.shift() ?? 200;
    if (typeof answer === 'object') {
      await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    } else if (answer === 410) {
      return send(410, 'GoneException');
    } else if (answer === 429) {
      return send(429, 'LimitExceededException');
    } else if (answer === 500) {
      return send(500, 'InternalServerErrorException');
    }
    this.posts.push({ connectionId, body: Buffer.concat(chunks).toString('utf8') });
    send(200);
  }
}
