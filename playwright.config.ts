/**
 * `npm run test:browser`: the demo classroom in headless Chromium with @playwright/test. The browser is the
 * system's Chromium (`/usr/bin/chromium`, or CHROMIUM_PATH); no Playwright browser is downloaded.
 * The local stack (gateway emulator + handlers + redis-server) is a worker fixture (web/test/fixtures.ts).
 * The tests of a file depend on each other (one class, in order), so they run serially in one worker.
 * Reports: the HTML report in artifacts/playwright-report (CI keeps it as an artifact), and per test,
 * in artifacts/playwright-results, its screenshots, and on failure its trace and a screenshot of every page.
 */
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: 'web/test',
  testMatch: '**/*.spec.ts',
  globalSetup: './web/test/global-setup.ts',
  outputDir: 'artifacts/playwright-results',
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'artifacts/playwright-report' }]],
  retries: 0,
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: {
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
});
