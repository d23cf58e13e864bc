/**
 * Redis MONITOR over a raw socket: the commands each client sends, with their source address. Commands
 * run inside a Lua script show `lua` as their source, so round trips are the lines from the client.
 * `watchClient` and `countWrites` do it for one ioredis client, standalone or cluster (every node).
 */
import { connect, type Socket } from 'node:net';
import type { Cluster, Redis } from 'ioredis';

export interface MonitorLine {
  source: string;
  command: string;
}

export async function watchCommands(url: string) {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const lines: MonitorLine[] = [];
  let buffer = '';
  socket.on('data', (chunk) => {
    buffer += chunk.toString('utf8');
    let end = buffer.indexOf('\r\n');
    while (end >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const match = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
      if (match) lines.push({ source: match[1] as string, command: (match[2] as string).toLowerCase() });
      end = buffer.indexOf('\r\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.write('MONITOR\r\n', () => resolve());
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  return {
    async stop(): Promise<MonitorLine[]> {
      await new Promise((resolve) => setTimeout(resolve, 100));
      socket.destroy();
      return lines;
    },
  };
}

/** One connection of an ioredis client: the node it goes to and its socket. */
export interface NodeConnection {
  url: string;
  stream: Socket;
}

type AnyRedis = Redis | Cluster;

function isCluster(client: AnyRedis): client is Cluster {
  return (client as { isCluster?: boolean }).isCluster === true;
}

function connectionOf(node: Redis): NodeConnection {
  const stream = (node as unknown as { stream: Socket }).stream;
  return { url: `redis://${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`, stream };
}

function readyNodes(client: AnyRedis): Redis[] {
  return isCluster(client) ? client.nodes('all').filter((n) => n.status === 'ready') : [client];
}

/**
 * The connections of an ioredis client: its one socket, or for a cluster client one per node, with every
 * master connected first (a command sent over a connection opened later would go unseen; `watchClient` and
 * `countWrites` fail when that happens).
 */
export async function nodeConnections(client: AnyRedis): Promise<NodeConnection[]> {
  if (isCluster(client)) await Promise.all(client.nodes('master').map((node) => node.ping()));
  else await client.ping();
  return readyNodes(client).map(connectionOf);
}

function checkNoNewConnection(client: AnyRedis, watched: NodeConnection[]): void {
  const fresh = readyNodes(client)
    .map(connectionOf)
    .filter((c) => !watched.some((w) => w.stream === c.stream));
  if (fresh.length)
    throw new Error(`the client opened a connection while watched: ${fresh.map((c) => c.url).join(', ')}`);
}

/**
 * MONITOR on every node the client is connected to, keeping only the commands this client sends: its round
 * trips to the store, on a cluster too (a command sent to the wrong master first, then redirected, counts
 * twice). Lines of all nodes, each node's in order.
 */
export async function watchClient(client: AnyRedis) {
  const connections = await nodeConnections(client);
  const monitors = await Promise.all(
    connections.map(async (c) => ({
      source: `${c.stream.localAddress ?? '127.0.0.1'}:${c.stream.localPort}`,
      monitor: await watchCommands(c.url),
    })),
  );
  return {
    async stop(): Promise<MonitorLine[]> {
      const lines = await Promise.all(
        monitors.map(async (m) => (await m.monitor.stop()).filter((l) => l.source === m.source)),
      );
      checkNoNewConnection(client, connections);
      return lines.flat();
    },
  };
}

/**
 * Socket writes of the client (every node connection of a cluster client) while `act` runs. A pipeline
 * is one write, so each write is one round trip.
 */
export async function countWrites(client: AnyRedis, act: () => Promise<unknown>): Promise<number> {
  const connections = await nodeConnections(client);
  let writes = 0;
  const restore = connections.map(({ stream }) => {
    const original = stream.write;
    stream.write = function (this: Socket, ...args: unknown[]) {
      writes++;
      return (original as (...a: unknown[]) => boolean).apply(this, args);
    } as Socket['write'];
    return () => {
      stream.write = original;
    };
  });
  try {
    await act();
  } finally {
    for (const undo of restore) undo();
  }
  checkNoNewConnection(client, connections);
  return writes;
}
