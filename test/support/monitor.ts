/**
 * Redis MONITOR over a raw socket: the commands each client sends, with their source address. Commands
 * run inside a Lua script show `lua` as their source, so round trips are the lines from the client.
 */
import { connect } from 'node:net';

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
