/**
 * The demo classroom in headless Chromium against the local stack: a teacher and students in separate
 * browser contexts, through one class from joining to its end and a new class in the same room. The tests
 * follow one class in order, so they run serially: after a failure the rest are skipped.
 */
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import {
  type ChatLine,
  chat,
  drawWave,
  epochOf,
  expect,
  inkedPixels,
  joinClass,
  keepScreenshot,
  type Person,
  presence,
  ROOT,
  rejoin,
  say,
  sideBySide,
  test,
  UI_WAIT,
  waitForChat,
} from './fixtures';

test.describe.configure({ mode: 'serial' });

const people: Person[] = [];
let teacher: Person | undefined;
let student: Person | undefined;

/** The teacher and the student of the first test (the later tests run only after it passed). */
function joined(): { t: Person; s: Person } {
  if (!teacher || !student) throw new Error('not joined');
  return { t: teacher, s: student };
}

const poll = (message: string) => ({ message, timeout: 10_000, intervals: [50] });

test.afterAll(async () => {
  for (const person of people) await person.context.close().catch(() => {});
});

test('a teacher and a student join and see each other in the presence list', async ({ browser, stack }) => {
  const base = `http://127.0.0.1:${stack.gateway.port}/`;
  teacher = await joinClass(browser, base, stack, 'Ann', 'teacher');
  people.push(teacher);
  student = await joinClass(browser, base, stack, 'Ben', 'student');
  people.push(student);
  const { t, s } = joined();
  await expect.poll(() => presence(t), poll('both in the teacher list')).toHaveLength(2);
  await expect.poll(() => presence(s), poll('both in the student list')).toHaveLength(2);
  expect(await presence(t), "the teacher's list").toEqual(['Ann', 'Ben']);
  expect(await t.page.isVisible('#end-class'), 'the teacher has an End class button').toBe(true);
  expect(await s.page.isVisible('#end-class'), 'the student has no End class button').toBe(false);
});

test('teacher and student chat both ways', async () => {
  const { t, s } = joined();
  await say(t, 'Welcome to class!');
  await waitForChat(s, 'Welcome to class!');
  await say(s, 'Thanks, glad to be here');
  await waitForChat(t, 'Thanks, glad to be here');
  const seen = (lines: ChatLine[]) => lines.map((l) => `${l.seq} ${l.who}: ${l.text}`);
  expect(seen(await chat(t)), 'teacher').toEqual([
    '1 You: Welcome to class!',
    '2 Ben: Thanks, glad to be here',
  ]);
  expect(seen(await chat(s)), 'student').toEqual([
    '1 Ann: Welcome to class!',
    '2 You: Thanks, glad to be here',
  ]);
});

test("a stroke drawn by one appears on the other's board", async () => {
  const { t, s } = joined();
  expect(await inkedPixels(s), "the student's board is blank to start with").toBe(0);
  await drawWave(t, '#2563eb', 0.3);
  await expect
    .poll(() => inkedPixels(s), poll("the teacher's stroke on the student's board"))
    .toBeGreaterThan(500);
  const studentBefore = await inkedPixels(t);
  await drawWave(s, '#dc2626', 0.65);
  await expect
    .poll(() => inkedPixels(t), poll("the student's stroke on the teacher's board"))
    .toBeGreaterThan(studentBefore + 500);
  const [a, b] = [await inkedPixels(t), await inkedPixels(s)];
  expect(Math.abs(a - b) / Math.max(a, b), `the boards differ: ${a} vs ${b} inked pixels`).toBeLessThan(0.1);
});

test('a late joiner sees the earlier strokes and chat', async ({ browser, stack }) => {
  const { t } = joined();
  const base = `http://127.0.0.1:${stack.gateway.port}/`;
  const late = await joinClass(browser, base, stack, 'Cleo', 'student');
  people.push(late);
  const expected = await inkedPixels(t);
  await expect
    .poll(() => inkedPixels(late), poll('the strokes on the late board'))
    .toBeGreaterThan(expected * 0.9);
  const got = await inkedPixels(late);
  expect(
    Math.abs(got - expected) / expected,
    `late board ${got} vs teacher's ${expected} inked pixels`,
  ).toBeLessThan(0.1);
  await waitForChat(late, 'Thanks, glad to be here');
  expect(
    (await chat(late)).map((l) => l.source),
    'the late joiner got the chat through resume',
  ).toEqual(['history', 'history']);
  await late.context.close();
  people.splice(people.indexOf(late), 1);
});

test('a cut student reconnects and sees what was sent meanwhile, once each and in order', async ({
  browser,
  stack,
  management,
}) => {
  const { t, s } = joined();
  const beforeCut = (await chat(s)).length;
  // Keep the student off the network while the teacher talks, then cut its socket at the gateway.
  await s.context.setOffline(true);
  await management.send(new DeleteConnectionCommand({ ConnectionId: s.connectionId }));
  await expect(s.page.locator('#state')).toHaveAttribute('data-state', 'reconnecting', UI_WAIT);
  const during = ['Page 12, please', 'Exercise 3 is homework', 'Questions?'];
  for (const text of during) {
    await say(t, text);
    await waitForChat(t, text);
  }
  await sleep(300);
  expect((await chat(s)).length, 'the student got nothing while cut').toBe(beforeCut);
  await s.context.setOffline(false);
  await expect(s.page.locator('#state')).toHaveAttribute('data-state', 'open', { timeout: 15_000 });
  await waitForChat(s, 'Questions?');
  await say(t, 'Welcome back');
  await waitForChat(s, 'Welcome back');
  await sleep(300);
  const lines = await chat(s);
  expect(
    lines.map((l) => l.text),
    "the student's chat",
  ).toEqual([
    'Welcome to class!',
    'Thanks, glad to be here',
    'Page 12, please',
    'Exercise 3 is homework',
    'Questions?',
    'Welcome back',
  ]);
  const seqs = lines.map((l) => l.seq);
  expect(
    seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as number)),
    `seqs increasing: ${seqs}`,
  ).toBe(true);
  expect(
    lines.slice(beforeCut, beforeCut + 3).map((l) => l.source),
    'the missed messages came through resume',
  ).toEqual(['history', 'history', 'history']);
  s.connectionId = stack.gateway.connectionIds().find((id) => id !== s.connectionId && id !== t.connectionId);
  for (const person of people) await keepScreenshot(person.page, `class-${person.name.toLowerCase()}.png`);
  // The README's picture; written to docs/ only when asked, so that a test run leaves the tree as it was.
  const demo = test.info().outputPath('demo.png');
  await sideBySide(browser, t, s, demo);
  test.info().attachments.push({ name: 'demo.png', path: demo, contentType: 'image/png' });
  if (process.env.UPDATE_DEMO_PNG === '1') copyFileSync(demo, join(ROOT, 'docs', 'demo.png'));
});

test("End class closes the student's session", async ({ stack }) => {
  const { t, s } = joined();
  await t.page.click('#end-class');
  await expect(s.page.locator('#ended')).toBeVisible(UI_WAIT);
  await expect(s.page.locator('#state')).toHaveAttribute('data-state', 'closed', UI_WAIT);
  await expect(t.page.locator('#state')).toHaveAttribute('data-state', 'closed', UI_WAIT);
  expect((await s.page.textContent('#ended-by')) ?? '', 'the student is told who ended the class').toContain(
    'Ann ended the class',
  );
  await sleep(1500);
  expect(stack.gateway.connectionIds(), 'connections left at the gateway (no reconnect)').toEqual([]);
  expect(await s.page.getAttribute('#state', 'data-state'), "the student's state").toBe('closed');
  await keepScreenshot(s.page, 'class-ended-ben.png');
});

test('a new class in the same room: both see that the class history was reset, and its new epoch', async ({
  stack,
}) => {
  const { t, s } = joined();
  const oldEpoch = await epochOf(s);
  expect(oldEpoch, 'the student page shows an epoch').toBeDefined();
  expect(await epochOf(t), "the teacher's epoch").toBe(oldEpoch);
  expect(await s.page.isVisible('#history-reset'), 'no reset notice before any reset').toBe(false);
  // The ended class's state is gone: the room starts over with a new epoch.
  await rejoin(t, stack);
  await say(t, 'A new class begins');
  await waitForChat(t, 'A new class begins');
  await rejoin(s, stack);
  await waitForChat(s, 'A new class begins');
  for (const person of [t, s]) {
    await expect(person.page.locator('#history-reset')).toBeVisible(UI_WAIT);
    expect(
      (await person.page.textContent('#history-reset')) ?? '',
      `${person.name} is told that the class history was reset`,
    ).toContain('The class history was reset');
  }
  expect(
    (await chat(s)).map((l) => `${l.seq} ${l.who}: ${l.text}`),
    "the student's chat in the new class",
  ).toEqual(['1 Ann: A new class begins']);
  expect(
    (await chat(t)).map((l) => `${l.seq} ${l.who}: ${l.text}`),
    "the teacher's chat in the new class",
  ).toEqual(['1 You: A new class begins']);
  const newEpoch = await epochOf(s);
  expect(newEpoch, 'the student page shows the new epoch').toBeDefined();
  expect(newEpoch, `the epoch changed: ${oldEpoch} → ${newEpoch}`).not.toBe(oldEpoch);
  expect(await epochOf(t), "the teacher's new epoch").toBe(newEpoch);
  await keepScreenshot(s.page, 'history-reset-ben.png');
  await s.page.click('#history-reset-dismiss');
  expect(await s.page.isVisible('#history-reset'), 'the notice is gone after dismissing it').toBe(false);
});
