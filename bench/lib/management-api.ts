/**
 * A local HTTP stand-in for the API Gateway management API (`/STAGE/@connections/{id}`), reached by the
 * real ApiGatewayManagementApiClient and by the layer's post path. Every POST is answered after `delayMs`
 * (a simulated AWS round trip; 0 answers at once); it counts posts and keeps no bodies (100k-connection
 * runs stay small).
 *
 * AWS answers many posts in parallel; so that the stand-in adds as little as it can beyond the fixed
 * delay, it is a minimal HTTP/1.1 responder on a raw TCP server (request line, headers, Content-Length
 * body; keep-alive), not node:http, whose parsing and response objects cost several times more CPU per
 * request. It runs in its own child process (`RemoteManagementApi`), as API Gateway is not in the
 * Lambda's process: its work does not take CPU from the handler being measured.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';

const OK = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n',
);
const NO_CONTENT = Buffer.from('HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n');
const BAD = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

export class BenchManagementApi {
  delayMs = 0;
  posts = 0;
  deletes = 0;
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  endpoint = '';

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf(HEADER_END);
        if (end < 0) return;
        const head = buffered.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
        const total = end + HEADER_END.length + length;
        if (buffered.length < total) return;
        buffered = buffered.subarray(total);
        const method = head.slice(0, head.indexOf(' '));
        if (method !== 'POST' && method !== 'DELETE') {
          socket.end(BAD);
          return;
        }
        const answer = () => {
          if (socket.destroyed) return;
          if (method === 'DELETE') {
            this.deletes++;
            socket.write(NO_CONTENT);
          } else {
            this.posts++;
            socket.write(OK);
          }
        };
        // One request at a time per socket (the clients do not pipeline), so answers stay in order.
        if (this.delayMs > 0) setTimeout(answer, this.delayMs);
        else answer();
      }
    });
  }

  async start(stage = 'bench'): Promise<string> {
    this.server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    this.endpoint = `http://127.0.0.1:${port}/${stage}`;
    return this.endpoint;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

type Op = { op: 'delay'; ms: number } | { op: 'posts' };
type Request = Op & { id: number };
type Reply = { id: number; value: number } | { ready: string };

/** The stand-in in a child process, driven over IPC. */
export class RemoteManagementApi {
  endpoint = '';
  private child?: ChildProcess;
  private nextId = 0;
  private readonly waiting = new Map<number, (value: number) => void>();

  async start(): Promise<string> {
    const child = fork(__filename, ['--serve'], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    this.child = child;
    this.endpoint = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`management API stand-in exited (${code})`)));
      child.on('message', (reply: Reply) => {
        if ('ready' in reply) resolve(reply.ready);
        else this.waiting.get(reply.id)?.(reply.value);
      });
    });
    return this.endpoint;
  }

  private ask(request: Op): Promise<number> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, (value) => {
        this.waiting.delete(id);
        resolve(value);
      });
      this.child?.send({ ...request, id });
    });
  }

  /** Answer every post after `ms` milliseconds from now on. */
  async setDelay(ms: number): Promise<void> {
    await this.ask({ op: 'delay', ms });
  }

  /** Posts answered so far. */
  posts(): Promise<number> {
    return this.ask({ op: 'posts' });
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.removeAllListeners('exit');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

if (process.argv.includes('--serve') && process.send) {
  const api = new BenchManagementApi();
  void api.start().then((endpoint) => {
    process.on('message', (request: Request) => {
      if (request.op === 'delay') api.delayMs = request.ms;
      process.send?.({ id: request.id, value: request.op === 'posts' ? api.posts : 0 });
    });
    process.on('disconnect', () => process.exit(0));
    process.send?.({ ready: endpoint });
  });
}
