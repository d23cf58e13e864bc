/**
 * `npm run test:browser`: the demo classroom in headless Chromium (playwright-core driving Debian's
 * /usr/bin/chromium, or CHROMIUM_PATH) against the local stack: the gateway emulator serving the real
 * template.yaml with the demo page, the handlers in-process and a real redis-server. A teacher and
 * students in separate browser contexts. Screenshots go to artifacts/ (and docs/demo.png).
 * Prints one line per test and `N passed, N failed`; exits non-zero on any failure.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { demoHttpHandler } from '../../local/demo-server';
import { type LocalStack, startLocalStack } from '../../test/support/local-stack';
import { freePort } from '../../test/support/redis-server';

const root = join(__dirname, '..', '..');
const artifacts = join(root, 'artifacts');
const distDir = join(root, 'web', 'dist');
const ROOM = 'demo1';
const TEST_TIMEOUT_MS = 30_000;

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

interface Result {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

const results: Result[] = [];

async function test(name: string, body: () => Promise<void>): Promise<void> {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      body(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${TEST_TIMEOUT_MS} ms`)), TEST_TIMEOUT_MS);
      }),
    ]);
    results.push({ name, ok: true, ms: Date.now() - start });
    console.log(`  ✓ ${name} (${Date.now() - start} ms)`);
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    results.push({ name, ok: false, ms: Date.now() - start, error: message });
    console.log(`  ✗ ${name}\n      ${message}`);
    await snapshotAll(`failure-${results.length}`);
  } finally {
    clearTimeout(timer);
  }
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function equal<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

async function waitUntil(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const start = Date.now();
  while (!(await predicate())) {
    if (Date.now() - start > timeoutMs) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await sleep(50);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- the page, as a user sees it ------------------------------------------------------------------------

interface Person {
  name: string;
  context: BrowserContext;
  page: Page;
  connectionId?: string;
}

const people: Person[] = [];

async function joinClass(
  browser: Browser,
  base: string,
  stack: LocalStack,
  name: string,
  role: 'teacher' | 'student',
): Promise<Person> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const page = await context.newPage();
  const person: Person = { name, context, page };
  people.push(person);
  page.on('pageerror', (error) => console.log(`    [${name} page error] ${error.message}`));
  await page.goto(base);
  const before = new Set(stack.gateway.connectionIds());
  await page.fill('#name', name);
  await page.check(`input[name=role][value=${role}]`);
  await page.fill('#room', ROOM);
  await page.click('#join');
  await page.waitForSelector('#state[data-state=open]');
  await waitUntil(`${name}'s connection at the gateway`, () =>
    stack.gateway.connectionIds().some((id) => !before.has(id)),
  );
  person.connectionId = stack.gateway.connectionIds().find((id) => !before.has(id));
  return person;
}

async function say(person: Person, text: string): Promise<void> {
  await person.page.fill('#chat-input', text);
  await person.page.click('#chat-send');
}

interface ChatLine {
  seq: number;
  who: string;
  text: string;
  source: string;
}

function chat(person: Person): Promise<ChatLine[]> {
  return person.page.$$eval('#chat li', (items) =>
    items.map((li) => ({
      seq: Number((li as HTMLElement).dataset.seq),
      who: li.querySelector('.who')?.textContent ?? '',
      text: li.querySelector('.text')?.textContent ?? '',
      source: (li as HTMLElement).dataset.source ?? '',
    })),
  );
}

async function waitForChat(person: Person, text: string): Promise<void> {
  await waitUntil(`"${text}" in ${person.name}'s chat`, async () =>
    (await chat(person)).some((line) => line.text === text),
  );
}

/** The room's epoch as the page shows it (undefined while it shows none). */
async function epochOf(person: Person): Promise<string | undefined> {
  if (!(await person.page.isVisible('#epoch'))) return undefined;
  return (await person.page.getAttribute('#epoch', 'data-epoch')) ?? undefined;
}

/** From the "class has ended" view back to the start, then into the same room again (the form keeps its values). */
async function rejoin(person: Person, stack: LocalStack): Promise<void> {
  const before = new Set(stack.gateway.connectionIds());
  await person.page.click('#rejoin');
  await person.page.click('#join');
  await person.page.waitForSelector('#state[data-state=open]');
  await waitUntil(`${person.name}'s new connection at the gateway`, () =>
    stack.gateway.connectionIds().some((id) => !before.has(id)),
  );
  person.connectionId = stack.gateway.connectionIds().find((id) => !before.has(id));
}

function presence(person: Person): Promise<string[]> {
  return person.page.$$eval('#presence li span', (spans) => spans.map((s) => s.textContent ?? ''));
}

/** Pixels of the board that are not (near) white. */
function inkedPixels(person: Person): Promise<number> {
  return person.page.$eval('#board', (canvas) => {
    const board = canvas as HTMLCanvasElement;
    const data = (board.getContext('2d') as CanvasRenderingContext2D).getImageData(
      0,
      0,
      board.width,
      board.height,
    ).data;
    let inked = 0;
    for (let i = 0; i < data.length; i += 4) {
      if ((data[i] as number) < 200 || (data[i + 1] as number) < 200 || (data[i + 2] as number) < 200)
        inked++;
    }
    return inked;
  });
}

/** Draws a wave across the board with the mouse. */
async function drawWave(person: Person, color: string, top: number): Promise<void> {
  const { page } = person;
  await page.click(`.swatch[data-color="${color}"]`);
  const box = await page.locator('#board').boundingBox();
  check(box, 'the board has no box');
  const x0 = box.x + box.width * 0.1;
  const y0 = box.y + box.height * top;
  await page.mouse.move(x0, y0);
  await page.mouse.down();
  for (let i = 1; i <= 40; i++) {
    await page.mouse.move(x0 + (box.width * 0.8 * i) / 40, y0 + Math.sin(i / 4) * box.height * 0.08);
    await sleep(5);
  }
  await page.mouse.up();
}

async function snapshotAll(prefix: string): Promise<void> {
  for (const person of people) {
    if (person.page.isClosed()) continue;
    await person.page
      .screenshot({ path: join(artifacts, `${prefix}-${person.name.toLowerCase()}.png`) })
      .catch(() => {});
  }
}

/** Both views side by side, for the README. */
async function sideBySide(browser: Browser, left: Person, right: Person, path: string): Promise<void> {
  const [a, b] = await Promise.all([left.page.screenshot(), right.page.screenshot()]);
  const page = await browser.newPage({ viewport: { width: 2560 + 24, height: 760 + 56 } });
  const img = (png: Buffer, label: string) =>
    `<figure><figcaption>${label}</figcaption><img src="data:image/png;base64,${png.toString('base64')}"></figure>`;
  await page.setContent(
    `<style>body{margin:0;display:flex;gap:24px;background:#d1d5db;font:600 20px system-ui}figure{margin:0}figcaption{padding:14px 8px}img{display:block;width:1280px}</style>${img(a, `${left.name} (teacher)`)}${img(b, `${right.name} (student)`)}`,
  );
  await page.screenshot({ path, fullPage: true });
  await page.close();
}

// ---- npm run dev ----------------------------------------------------------------------------------------

/** Starts `tsx local/dev.ts` (what `npm run dev` runs after building the page) and waits for its banner. */
async function startDevServer(
  redisUrl: string,
  secret: string,
): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), join(root, 'local', 'dev.ts')], {
    cwd: root,
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

// ---- the tests -------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  check(existsSync(join(distDir, 'index.html')), 'web/dist is not built: run npm run build:web');
  mkdirSync(artifacts, { recursive: true });
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  check(existsSync(executablePath), `${executablePath} not found: apt-get install -y chromium`);

  const stack = await startLocalStack({
    httpHandler: (secret, stage) => demoHttpHandler({ distDir, secret, stage }),
  });
  const base = `http://127.0.0.1:${stack.gateway.port}/`;
  const management = new ApiGatewayManagementApiClient({
    endpoint: stack.gateway.managementEndpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  let browser: Browser | undefined;
  let teacher: Person | undefined;
  let student: Person | undefined;
  try {
    // Playwright gives every launch a fresh, temporary user-data-dir (it refuses --user-data-dir in args).
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    console.log(`Browser tests: ${browser.version()} against ${base}`);
    const b = browser;
    await test('a teacher and a student join and see each other in the presence list', async () => {
      teacher = await joinClass(b, base, stack, 'Ann', 'teacher');
      student = await joinClass(b, base, stack, 'Ben', 'student');
      const t = teacher;
      const s = student;
      await waitUntil('both in the teacher list', async () => (await presence(t)).length === 2);
      await waitUntil('both in the student list', async () => (await presence(s)).length === 2);
      equal(await presence(t), ['Ann', 'Ben'], "the teacher's list");
      check(await t.page.isVisible('#end-class'), 'the teacher has no End class button');
      check(!(await s.page.isVisible('#end-class')), 'the student has an End class button');
    });

    await test('teacher and student chat both ways', async () => {
      check(teacher && student, 'not joined');
      await say(teacher, 'Welcome to class!');
      await waitForChat(student, 'Welcome to class!');
      await say(student, 'Thanks, glad to be here');
      await waitForChat(teacher, 'Thanks, glad to be here');
      const seen = (lines: ChatLine[]) => lines.map((l) => `${l.seq} ${l.who}: ${l.text}`);
      equal(
        seen(await chat(teacher)),
        ['1 You: Welcome to class!', '2 Ben: Thanks, glad to be here'],
        'teacher',
      );
      equal(
        seen(await chat(student)),
        ['1 Ann: Welcome to class!', '2 You: Thanks, glad to be here'],
        'student',
      );
    });

    await test("a stroke drawn by one appears on the other's board", async () => {
      check(teacher && student, 'not joined');
      const t = teacher;
      const s = student;
      check((await inkedPixels(s)) === 0, "the student's board is not blank to start with");
      await drawWave(t, '#2563eb', 0.3);
      await waitUntil(
        "the teacher's stroke on the student's board",
        async () => (await inkedPixels(s)) > 500,
      );
      const studentBefore = await inkedPixels(t);
      await drawWave(s, '#dc2626', 0.65);
      await waitUntil(
        "the student's stroke on the teacher's board",
        async () => (await inkedPixels(t)) > studentBefore + 500,
      );
      const [a, b] = [await inkedPixels(t), await inkedPixels(s)];
      check(Math.abs(a - b) / Math.max(a, b) < 0.1, `the boards differ: ${a} vs ${b} inked pixels`);
    });

    await test('a late joiner sees the earlier strokes and chat', async () => {
      check(teacher, 'not joined');
      const t = teacher;
      const late = await joinClass(b, base, stack, 'Cleo', 'student');
      const expected = await inkedPixels(t);
      await waitUntil(
        'the strokes on the late board',
        async () => (await inkedPixels(late)) > expected * 0.9,
      );
      const got = await inkedPixels(late);
      check(
        Math.abs(got - expected) / expected < 0.1,
        `late board ${got} vs teacher's ${expected} inked pixels`,
      );
      await waitForChat(late, 'Thanks, glad to be here');
      equal(
        (await chat(late)).map((l) => l.source),
        ['history', 'history'],
        'the late joiner got the chat through resume',
      );
      await late.context.close();
      people.splice(people.indexOf(late), 1);
    });

    await test('a cut student reconnects and sees what was sent meanwhile, once each and in order', async () => {
      check(teacher && student?.connectionId, 'not joined');
      const t = teacher;
      const s = student;
      const beforeCut = (await chat(s)).length;
      // Keep the student off the network while the teacher talks, then cut its socket at the gateway.
      await s.context.setOffline(true);
      await management.send(new DeleteConnectionCommand({ ConnectionId: s.connectionId }));
      await s.page.waitForSelector('#state[data-state=reconnecting]');
      const during = ['Page 12, please', 'Exercise 3 is homework', 'Questions?'];
      for (const text of during) {
        await say(t, text);
        await waitForChat(t, text);
      }
      await sleep(300);
      equal((await chat(s)).length, beforeCut, 'the student got nothing while cut');
      await s.context.setOffline(false);
      await s.page.waitForSelector('#state[data-state=open]', { timeout: 15_000 });
      await waitForChat(s, 'Questions?');
      await say(t, 'Welcome back');
      await waitForChat(s, 'Welcome back');
      await sleep(300);
      const lines = await chat(s);
      equal(
        lines.map((l) => l.text),
        [
          'Welcome to class!',
          'Thanks, glad to be here',
          'Page 12, please',
          'Exercise 3 is homework',
          'Questions?',
          'Welcome back',
        ],
        "the student's chat",
      );
      const seqs = lines.map((l) => l.seq);
      check(
        seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as number)),
        `seqs not increasing: ${seqs}`,
      );
      equal(
        lines.slice(beforeCut, beforeCut + 3).map((l) => l.source),
        ['history', 'history', 'history'],
        'the missed messages came through resume',
      );
      s.connectionId = stack.gateway
        .connectionIds()
        .find((id) => id !== s.connectionId && id !== t.connectionId);
      await snapshotAll('class');
      await sideBySide(b, t, s, join(root, 'docs', 'demo.png'));
    });

    await test("End class closes the student's session", async () => {
      check(teacher && student, 'not joined');
      const t = teacher;
      const s = student;
      await t.page.click('#end-class');
      await s.page.waitForSelector('#ended:not([hidden])');
      await s.page.waitForSelector('#state[data-state=closed]');
      await t.page.waitForSelector('#state[data-state=closed]');
      check(
        ((await s.page.textContent('#ended-by')) ?? '').includes('Ann ended the class'),
        'the student is not told who ended the class',
      );
      await sleep(1500);
      equal(stack.gateway.connectionIds(), [], 'connections left at the gateway (no reconnect)');
      equal(await s.page.getAttribute('#state', 'data-state'), 'closed', "the student's state");
      await s.page.screenshot({ path: join(artifacts, 'class-ended-ben.png') });
    });

    await test('a new class in the same room: both see that the class history was reset, and its new epoch', async () => {
      check(teacher && student, 'not joined');
      const t = teacher;
      const s = student;
      const oldEpoch = await epochOf(s);
      check(oldEpoch !== undefined, 'the student page shows no epoch');
      equal(await epochOf(t), oldEpoch, "the teacher's epoch");
      check(!(await s.page.isVisible('#history-reset')), 'a reset notice before any reset');
      // The ended class's state is gone: the room starts over with a new epoch.
      await rejoin(t, stack);
      await say(t, 'A new class begins');
      await waitForChat(t, 'A new class begins');
      await rejoin(s, stack);
      await waitForChat(s, 'A new class begins');
      for (const person of [t, s]) {
        await person.page.waitForSelector('#history-reset:not([hidden])');
        check(
          ((await person.page.textContent('#history-reset')) ?? '').includes('The class history was reset'),
          `${person.name} is not told that the class history was reset`,
        );
      }
      equal(
        (await chat(s)).map((l) => `${l.seq} ${l.who}: ${l.text}`),
        ['1 Ann: A new class begins'],
        "the student's chat in the new class",
      );
      equal(
        (await chat(t)).map((l) => `${l.seq} ${l.who}: ${l.text}`),
        ['1 You: A new class begins'],
        "the teacher's chat in the new class",
      );
      const newEpoch = await epochOf(s);
      check(
        newEpoch !== undefined && newEpoch !== oldEpoch,
        `the epoch did not change: ${oldEpoch} → ${newEpoch}`,
      );
      equal(await epochOf(t), newEpoch, "the teacher's new epoch");
      await s.page.screenshot({ path: join(artifacts, 'history-reset-ben.png') });
      await s.page.click('#history-reset-dismiss');
      check(!(await s.page.isVisible('#history-reset')), 'the notice stays after dismissing it');
    });

    await test('npm run dev serves the demo page and a working local token endpoint', async () => {
      const dev = await startDevServer(stack.redis.url, stack.secret);
      try {
        const devBase = `http://127.0.0.1:${dev.port}`;
        const html = await (await fetch(`${devBase}/`)).text();
        check(html.includes('/main.js'), 'GET / is not the demo page');
        const token = await fetch(`${devBase}/dev/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
          body: JSON.stringify({ name: 'Eve', role: 'teacher', classRoomId: 'x' }),
        });
        equal(token.status, 403, 'a cross-origin token request');
        const context = await b.newContext();
        const page = await context.newPage();
        await page.goto(`${devBase}/?name=Dana&role=teacher&room=devcheck`);
        await page.click('#join');
        await page.waitForSelector('#state[data-state=open]');
        await page.fill('#chat-input', 'it works');
        await page.click('#chat-send');
        await page.waitForSelector('#chat li[data-source=self]');
        await context.close();
      } finally {
        dev.child.kill('SIGTERM');
        await new Promise((resolve) => dev.child.once('exit', resolve));
      }
    });
  } finally {
    for (const person of people) await person.context.close().catch(() => {});
    await browser?.close();
    management.destroy();
    await stack.stop();
  }

  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`\n${passed} passed, ${failed} failed`);
  console.log(`Screenshots: ${artifacts}`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    console.log('\n0 passed, 1 failed');
    process.exit(1);
  },
);
