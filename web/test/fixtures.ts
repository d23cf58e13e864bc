/**
 * What the browser tests share: the local stack as a worker fixture (the gateway emulator serving the real
 * template.yaml with the demo page, the handlers in their workers and a real redis-server, as
 * `npm run dev` runs them), a management API client for it, and the demo page as a user sees it.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { type Browser, type BrowserContext, test as base, expect, type Page } from '@playwright/test';
import { demoHttpHandler } from '../../local/demo-server';
import { type LocalStack, startLocalStack } from '../../test/support/local-stack';

export { expect };

export const ROOT = join(__dirname, '..', '..');
export const DIST_DIR = join(ROOT, 'web', 'dist');
export const ROOM = 'demo1';
/** How long a wait for an element may take, as page.waitForSelector did: the test's timeout bounds it. */
export const UI_WAIT = { timeout: 30_000 };

interface StackFixtures {
  stack: LocalStack;
  management: ApiGatewayManagementApiClient;
}

export const test = base.extend<object, StackFixtures>({
  stack: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright reads a fixture's dependencies from this pattern.
    async ({}, use) => {
      const stack = await startLocalStack({
        httpHandler: (secret, stage) => demoHttpHandler({ distDir: DIST_DIR, secret, stage }),
      });
      await use(stack);
      await stack.stop();
    },
    { scope: 'worker', timeout: 60_000 },
  ],
  management: [
    async ({ stack }, use) => {
      const management = new ApiGatewayManagementApiClient({
        endpoint: stack.gateway.managementEndpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      await use(management);
      management.destroy();
    },
    { scope: 'worker' },
  ],
});

// ---- the page, as a user sees it ------------------------------------------------------------------------

export interface Person {
  name: string;
  context: BrowserContext;
  page: Page;
  connectionId?: string;
}

export interface ChatLine {
  seq: number;
  who: string;
  text: string;
  source: string;
}

/** Waits for a connection the gateway did not have in `before`, and returns its id. */
async function newConnection(stack: LocalStack, before: Set<string>, what: string): Promise<string> {
  const fresh = () => stack.gateway.connectionIds().find((id) => !before.has(id));
  await expect.poll(fresh, { message: what, timeout: 10_000, intervals: [50] }).toBeDefined();
  return fresh() as string;
}

/** Opens the page in a browser context of its own and joins ROOM as `name`. */
export async function joinClass(
  browser: Browser,
  base: string,
  stack: LocalStack,
  name: string,
  role: 'teacher' | 'student',
): Promise<Person> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => console.log(`    [${name} page error] ${error.message}`));
  await page.goto(base);
  const before = new Set(stack.gateway.connectionIds());
  await page.fill('#name', name);
  await page.check(`input[name=role][value=${role}]`);
  await page.fill('#room', ROOM);
  await page.click('#join');
  await expect(page.locator('#state')).toHaveAttribute('data-state', 'open', UI_WAIT);
  const connectionId = await newConnection(stack, before, `${name}'s connection at the gateway`);
  return { name, context, page, connectionId };
}

/** From the "class has ended" view back to the start, then into the same room again (the form keeps its values). */
export async function rejoin(person: Person, stack: LocalStack): Promise<void> {
  const before = new Set(stack.gateway.connectionIds());
  await person.page.click('#rejoin');
  await person.page.click('#join');
  await expect(person.page.locator('#state')).toHaveAttribute('data-state', 'open', UI_WAIT);
  person.connectionId = await newConnection(stack, before, `${person.name}'s new connection at the gateway`);
}

export async function say(person: Person, text: string): Promise<void> {
  await person.page.fill('#chat-input', text);
  await person.page.click('#chat-send');
}

export function chat(person: Person): Promise<ChatLine[]> {
  return person.page.$$eval('#chat li', (items) =>
    items.map((li) => ({
      seq: Number((li as HTMLElement).dataset.seq),
      who: li.querySelector('.who')?.textContent ?? '',
      text: li.querySelector('.text')?.textContent ?? '',
      source: (li as HTMLElement).dataset.source ?? '',
    })),
  );
}

export async function waitForChat(person: Person, text: string): Promise<void> {
  await expect
    .poll(async () => (await chat(person)).map((line) => line.text), {
      message: `"${text}" in ${person.name}'s chat`,
      timeout: 10_000,
      intervals: [50],
    })
    .toContain(text);
}

/** The room's epoch as the page shows it (undefined while it shows none). */
export async function epochOf(person: Person): Promise<string | undefined> {
  if (!(await person.page.isVisible('#epoch'))) return undefined;
  return (await person.page.getAttribute('#epoch', 'data-epoch')) ?? undefined;
}

export function presence(person: Person): Promise<string[]> {
  return person.page.$$eval('#presence li span', (spans) => spans.map((s) => s.textContent ?? ''));
}

/** Pixels of the board that are not (near) white. */
export function inkedPixels(person: Person): Promise<number> {
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
export async function drawWave(person: Person, color: string, top: number): Promise<void> {
  const { page } = person;
  await page.click(`.swatch[data-color="${color}"]`);
  const box = await page.locator('#board').boundingBox();
  if (!box) throw new Error(`${person.name}'s board has no box`);
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

/** A screenshot kept in the test's output folder and attached to the HTML report. */
export async function keepScreenshot(page: Page, name: string): Promise<void> {
  const path = test.info().outputPath(name);
  await page.screenshot({ path });
  test.info().attachments.push({ name, path, contentType: 'image/png' });
}

/** Both views side by side (the README's picture), written to `path`. */
export async function sideBySide(browser: Browser, left: Person, right: Person, path: string): Promise<void> {
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
