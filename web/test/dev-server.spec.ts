/**
 * `npm run dev` (tsx local/dev.ts, after the page is built) serves the demo page and a local token
 * endpoint that refuses other origins, and a class works through it in the browser. It uses the worker's
 * stack only for its redis-server and JWT secret.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../test/support/redis-server';
import { expect, ROOT, test, UI_WAIT } from './fixtures';

/** Starts `tsx local/dev.ts` (what `npm run dev` runs after building the page) and waits for its banner. */
async function startDevServer(
  redisUrl: string,
  secret: string,
): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), join(ROOT, 'local', 'dev.ts')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl, JWT_SECRET: secret, LOG_LEVEL: 'ERROR' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm run dev did not start: ${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Demo classroom')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm run dev exited with ${code}: ${output}`));
    });
  });
  return { port, child };
}

test('npm run dev serves the demo page and a working local token endpoint', async ({ browser, stack }) => {
  const dev = await startDevServer(stack.redis.url, stack.secret);
  try {
    const devBase = `http://127.0.0.1:${dev.port}`;
    const html = await (await fetch(`${devBase}/`)).text();
    expect(html, 'GET / is the demo page').toContain('/main.js');
    const token = await fetch(`${devBase}/dev/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
      body: JSON.stringify({ name: 'Eve', role: 'teacher', classRoomId: 'x' }),
    });
    expect(token.status, 'a cross-origin token request').toBe(403);
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${devBase}/?name=Dana&role=teacher&room=devcheck`);
    await page.click('#join');
    await expect(page.locator('#state')).toHaveAttribute('data-state', 'open', UI_WAIT);
    await page.fill('#chat-input', 'it works');
    await page.click('#chat-send');
    await expect(page.locator('#chat li[data-source=self]')).toBeVisible(UI_WAIT);
    await context.close();
  } finally {
    if (dev.child.exitCode === null && dev.child.signalCode === null) {
      const exited = new Promise((resolve) => dev.child.once('exit', resolve));
      dev.child.kill('SIGTERM');
      await exited;
    }
  }
});
