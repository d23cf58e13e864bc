/**
 * A TCP proxy on 127.0.0.1 that stands for the ElastiCache primary endpoint: the functions reach Redis
 * through it (REDIS_URL), and a drill repoints it to another node (a failover: the endpoint's DNS name
 * now resolves to the promoted replica), drops the connections it carries (the reset clients see), or
 * blocks it (Redis unreachable: new connections are accepted and closed at once).
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

export interface ProxyTarget {
  host: string;
  port: number;
}

export interface ProxyStats {
  accepted: number;
  /** Connections closed by `dropAll` (repoint, block). */
  dropped: number;
  /** Connections refused while blocked. */
  refused: number;
}

export class TcpProxy {
  readonly stats: ProxyStats = { accepted: 0, dropped: 0, refused: 0 };
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; target: ProxyTarget }>();
  private blocked = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private target: ProxyTarget,
  ) {}

  static async start(target: ProxyTarget): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const proxy = new TcpProxy(server, port, target);
    server.on('connection', (client) => proxy.accept(client));
    return proxy;
  }

  /** `redis://127.0.0.1:PORT`: what the functions get as REDIS_URL. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get currentTarget(): ProxyTarget {
    return { ...this.target };
  }

  /** Open proxied connections. */
  get open(): number {
    return this.pairs.size;
  }

  /** New connections go to `target`; existing ones (to other nodes) are dropped unless `keepExisting`. */
  repoint(target: ProxyTarget, { keepExisting = false } = {}): number {
    this.target = { ...target };
    return keepExisting ? 0 : this.dropStale();
  }

  /** Resets the proxied connections that still go to another node than the current target. */
  dropStale(): number {
    return this.drop(
      (pair) => pair.target.host !== this.target.host || pair.target.port !== this.target.port,
    );
  }

  /** Resets every proxied connection (both sides); returns how many. */
  dropAll(): number {
    return this.drop(() => true);
  }

  private drop(which: (pair: { target: ProxyTarget }) => boolean): number {
    let n = 0;
    for (const pair of [...this.pairs]) {
      if (!which(pair)) continue;
      this.pairs.delete(pair);
      pair.client.destroy();
      pair.upstream.destroy();
      n++;
    }
    this.stats.dropped += n;
    return n;
  }

  /** Redis unreachable: existing connections are dropped, new ones closed at once. */
  block(): void {
    this.blocked = true;
    this.dropAll();
  }

  unblock(): void {
    this.blocked = false;
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    client.on('error', () => client.destroy());
    if (this.blocked) {
      this.stats.refused++;
      client.destroy();
      return;
    }
    this.stats.accepted++;
    client.setNoDelay(true);
    const upstream = tcpConnect({ host: this.target.host, port: this.target.port });
    upstream.setNoDelay(true);
    const pair = { client, upstream, target: { ...this.target } };
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', end);
    upstream.on('close', end);
    client.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
