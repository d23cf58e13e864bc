/**
 * A terminal client for trying the classroom by hand:
 *   npm run client -- --url ws://127.0.0.1:3001/local --room r1 --user u1 --name Ann --role teacher
 * Mints a local token (or takes --token), connects, prints every frame, and sends each line you type as a
 * chat message. Commands: /presence, /resume N, /ping, /end (teacher), /raw {json}, /quit.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { localSecret, mintToken } from '../local/tokens';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'ws://127.0.0.1:3001/local' },
      room: { type: 'string', default: 'r1' },
      user: { type: 'string', default: 'u1' },
      name: { type: 'string' },
      role: { type: 'string', default: 'student' },
      token: { type: 'string' },
    },
  });
  const secret = localSecret();
  if (!values.token && !secret) {
    console.error(
      'No JWT_SECRET: set it, start `npm run dev` once (it writes .local/jwt-secret), or pass --token.',
    );
    process.exit(2);
  }
  const token =
    values.token ??
    (await mintToken(secret as string, {
      userId: values.user as string,
      name: values.name,
      role: values.role === 'teacher' ? 'teacher' : 'student',
      rooms: [values.room as string],
    }));
  const url = `${values.url}?classRoomId=${encodeURIComponent(values.room as string)}&token=${token}`;
  const ws = new WebSocket(url);
  let counter = 0;
  ws.on('unexpected-response', (_req, res) => {
    console.error(`handshake refused: HTTP ${res.statusCode}`);
    process.exit(1);
  });
  ws.on('open', () => {
    console.log(
      `connected to ${values.room} as ${values.user}; type a message, or /presence /resume N /ping /end /raw {json} /quit`,
    );
    ws.send(JSON.stringify({ action: 'resume', afterSeq: 0 }));
    ws.send(JSON.stringify({ action: 'presence' }));
    readLines();
  });
  // Lines typed before the socket opens wait in stdin until then.
  const readLines = () => {
    const rl = createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      const [command, ...rest] = line.trim().split(' ');
      const arg = rest.join(' ');
      const frames: Record<string, () => unknown> = {
        '/presence': () => ({ action: 'presence' }),
        '/resume': () => ({ action: 'resume', afterSeq: Number(arg || 0) }),
        '/ping': () => ({ action: 'ping' }),
        '/end': () => ({ action: 'endClass' }),
      };
      if (command === '/quit') return ws.close(1000, 'bye');
      if (command === '/raw') return ws.send(arg);
      const frame = frames[command ?? '']?.() ?? {
        action: 'sendMessage',
        kind: 'chat',
        data: { text: line },
        clientMsgId: `${values.user}-${Date.now()}-${counter++}`,
      };
      ws.send(JSON.stringify(frame));
    });
  };
  ws.on('message', (data) => console.log(`< ${data.toString()}`));
  ws.on('close', (code, reason) => {
    console.log(`closed ${code} ${reason.toString()}`);
    process.exit(0);
  });
}

void main();
