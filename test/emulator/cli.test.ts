/**
 * The command line, run as a user runs it (`tsx local/cli.ts`): --help documents every option; a real
 * run takes parameters and env-vars, serves the template, and with --watch reloads a handler whose
 * source changed (module state starts fresh).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findMotoServer } from '../../local/resources';
import { connect, waitFor } from './support/clients';

const ROOT = join(__dirname, '..', '..');
const motoServer = findMotoServer([ROOT]);
const TSX = require.resolve('tsx/cli');

function run(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const env = { ...process.env };
  delete env.JEST_WORKER_ID;
  const child = spawn(process.execPath, [TSX, 'local/cli.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => text, exited };
}

/** The CLI's start: resolves with the ready line's URL, or rejects with its output when it exits first. */
async function ready(cli: ReturnType<typeof run>): Promise<string> {
  let exit: number | null | undefined;
  void cli.exited.then((code) => {
    exit = code;
  });
  const match = await waitFor(
    () => /ready: (ws:\/\/\S+)/.exec(cli.output()) ?? (exit !== undefined ? ['', ''] : undefined),
    'the ready line',
    20_000,
  );
  if (!match[1]) throw new Error(`the CLI exited (${exit}): ${cli.output()}`);
  return match[1];
}

describe('CLI: local/cli.ts', () => {
  it('documents every option in --help', async () => {
    const cli = run(['--help']);
    expect(await cli.exited).toBe(0);
    for (const option of [
      '--template',
      '--port',
      '--stage',
      '--env-vars',
      '--env',
      '--param',
      '--parameter-overrides',
      '--idle-timeout',
      '--hard-timeout',
      '--watch',
      '--sqs-endpoint',
      '--queue-url',
      '--max-frame-bytes',
      '--integration-timeout',
      '--aws',
      '--no-aws',
    ]) {
      expect(cli.output()).toContain(option);
    }
  });

  it('serves a template with parameters and env-vars, and reloads a changed handler with --watch', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-cli-'));
    try {
      cpSync(join(__dirname, 'fixtures'), dir, { recursive: true });
      writeFileSync(
        join(dir, 'env.json'),
        JSON.stringify({
          Parameters: { EXTRA: 'port={{port}}' },
          InfoFunction: { CACHE_HOST: 'cache.local' },
        }),
      );
      const cli = run([
        '--template',
        join(dir, 'template.yaml'),
        '--port',
        '0',
        '--stage',
        'dev',
        '--param',
        'Greeting=hey',
        '--env-vars',
        join(dir, 'env.json'),
        '--watch',
      ]);
      try {
        const ready = await waitFor(
          () => /ready: (ws:\/\/127\.0\.0\.1:(\d+)\/dev)/.exec(cli.output()),
          'the ready line',
          10_000,
        );
        const client = await connect(`${ready[1]}?token=good`);
        client.send({ action: 'info' });
        const info = JSON.parse(await client.next());
        expect(info.env).toMatchObject({
          // --stage dev names the template's StageName parameter too, as a deployment of stage dev would.
          GREETING: 'hey, dev',
          EXTRA: `port=${ready[2]}`,
          CACHE_HOST: 'cache.local',
        });
        client.send({ action: 'echo', data: 1 });
        expect(JSON.parse(await client.next()).echo).toBe(1);

        const echo = join(dir, 'handlers', 'echo.ts');
        writeFileSync(echo, readFileSync(echo, 'utf8').replace('echo: data,', 'echo: data, reloaded: true,'));
        await waitFor(() => cli.output().includes('reload:'), 'the reload line', 5000);
        client.send({ action: 'echo', data: 2 });
        expect(JSON.parse(await client.next())).toMatchObject({ echo: 2, reloaded: true });
        client.send({ action: 'info' });
        expect(JSON.parse(await client.next()).invocations).toBe(1);
        expect(cli.output()).toMatch(/echo EchoFunction \S+ 200 \d+ms/);
        client.ws.close();
      } finally {
        cli.child.kill('SIGTERM');
        expect(await cli.exited).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it("serves the template's stage by default (the StageName of its Stage), not /local", async () => {
    const cli = run(['--template', 'test/emulator/fixtures/template.yaml', '--port', '0']);
    try {
      const url = await ready(cli);
      expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/fixture$/);
      expect(cli.output()).toContain(
        'stage fixture: the StageName of Stage (AWS::ApiGatewayV2::Stage of WebSocketApi)',
      );
      const client = await connect(`${url}?token=good`);
      client.ws.close();
      await expect(connect(`${url.replace(/fixture$/, 'local')}?token=good`)).rejects.toMatchObject({
        status: 403,
      });
    } finally {
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
    }
  }, 30_000);

  it('refuses a template CloudFormation would refuse, with the reason, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-cli-'));
    try {
      cpSync(join(__dirname, 'fixtures'), dir, { recursive: true });
      const file = join(dir, 'template.yaml');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace('      RouteKey: oneway\n', '      RouteKey: echo\n'),
      );
      const cli = run(['--template', file, '--port', '0']);
      expect(await cli.exited).toBe(1);
      expect(cli.output()).toContain(
        '[gateway] template.yaml: routes EchoRoute and OneWayRoute both have RouteKey echo (CloudFormation refuses this)',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  (motoServer ? it : it.skip)(
    "--aws moto creates the template's resources on a moto server it starts, and stops it",
    async () => {
      const cli = run([
        '--template',
        'test/emulator/fixtures/resources/template.yaml',
        '--port',
        '0',
        '--aws',
        'moto',
      ]);
      try {
        const url = await ready(cli);
        expect(url).toMatch(/\/Prod$/);
        expect(cli.output()).toMatch(/resources: on (http:\/\/127\.0\.0\.1:\d+) \(moto started from /);
        expect(cli.output()).toContain('resources: AWS::SQS::Queue WorkQueue: queue http://127.0.0.1:');
        const client = await connect(url);
        client.send({ action: 'env' });
        expect(JSON.parse(await client.next(10_000)).TABLE).toBe('fixture_connections');
        client.ws.close();
      } finally {
        cli.child.kill('SIGTERM');
        expect(await cli.exited).toBe(0);
      }
      const endpoint = /resources: on (http:\/\/127\.0\.0\.1:\d+)/.exec(cli.output())?.[1] as string;
      await expect(fetch(`${endpoint}/moto-api/`)).rejects.toThrow();
    },
    60_000,
  );
});
