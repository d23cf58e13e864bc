/**
 * Runs a function's handler with a sample event, like `sam local invoke -e` without Docker (in a worker thread
 * of the emulator's function runtime, as the gateway runs it):
 *   npm run invoke -- <FunctionLogicalId> events/<file>.json [<FunctionLogicalId> events/<file>.json ...]
 * Several pairs run in order against the same Redis (e.g. ConnectFunction, then SendMessageFunction).
 * The function gets its template environment, with the local settings on top: REDIS_URL (else a
 * redis-server from PATH is started for the call), JWT_SECRET (else generated; `__TOKEN__` in the event is
 * replaced by a fresh token for the event's room), MANAGEMENT_ENDPOINT (else a local recorder that prints
 * every post the handler makes).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { localFunctionEnv } from '../local/function-env';
import { FunctionRuntime } from '../local/lambda-runtime';
import { loadTemplate } from '../local/template';
import { generateSecret, mintToken } from '../local/tokens';
import { startRedisServer } from '../test/support/redis-server';

async function recorder(): Promise<{ endpoint: string; close: () => void }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      console.log(`[management] ${req.method} ${req.url} ${Buffer.concat(chunks).toString('utf8')}`);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { endpoint: `http://127.0.0.1:${port}/local`, close: () => server.close() };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.length === 0 || args.length % 2 !== 0) {
    console.error(
      'usage: npm run invoke -- <FunctionLogicalId> events/<file>.json [<FunctionLogicalId> <event> ...]',
    );
    process.exit(2);
  }
  const model = loadTemplate(resolve('template.yaml'));
  const calls: { functionId: string; eventFile: string }[] = [];
  for (let i = 0; i < args.length; i += 2) {
    const functionId = args[i] as string;
    if (!model.functions.has(functionId)) {
      console.error(
        `No function ${functionId} in template.yaml. Functions: ${[...model.functions.keys()].join(', ')}`,
      );
      process.exit(2);
    }
    calls.push({ functionId, eventFile: args[i + 1] as string });
  }
  const redis = process.env.REDIS_URL ? undefined : await startRedisServer();
  const management = process.env.MANAGEMENT_ENDPOINT ? undefined : await recorder();
  const secret = process.env.JWT_SECRET ?? generateSecret();
  const runtime = new FunctionRuntime({
    functions: new Map(calls.map(({ functionId }) => [functionId, model.functions.get(functionId) as never])),
    envOverrides: {
      ...localFunctionEnv({
        redisUrl: process.env.REDIS_URL ?? (redis?.url as string),
        jwtSecret: secret,
        managementEndpoint: process.env.MANAGEMENT_ENDPOINT ?? (management?.endpoint as string),
        jwksUrl: process.env.JWKS_URL,
      }),
      // The invoker prints what the handler logs and the metrics it would emit.
      POWERTOOLS_METRICS_DISABLED: 'false',
      POWERTOOLS_LOG_LEVEL: process.env.LOG_LEVEL ?? 'INFO',
    },
    envDefaults: { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' },
    log: (line) => console.error(line),
  });
  runtime.applyEnvironment();
  let failed = false;
  for (const { functionId, eventFile } of calls) {
    let text = readFileSync(resolve(eventFile), 'utf8');
    if (text.includes('__TOKEN__')) {
      const event = JSON.parse(text);
      const room = event.queryStringParameters?.classRoomId ?? 'room-1';
      const token = await mintToken(secret, { userId: 'u1', name: 'Ann', role: 'teacher', rooms: [room] });
      text = text.replaceAll('__TOKEN__', token);
    }
    console.log(`# ${functionId} ${eventFile}`);
    const outcome = await runtime.invoke(functionId, JSON.parse(text));
    if (outcome.ok) console.log(JSON.stringify(outcome.value, null, 2));
    else console.error(`invocation failed${outcome.timedOut ? ' (timeout)' : ''}: ${outcome.error?.message}`);
    failed ||= !outcome.ok;
  }
  // The function's workers (and their Redis clients) end here.
  await runtime.close();
  management?.close();
  await redis?.stop();
  process.exit(failed ? 1 : 0);
}

void main();
