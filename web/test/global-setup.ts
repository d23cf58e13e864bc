/**
 * Before any browser test: the system Chromium the config names must exist (no Playwright browser is
 * downloaded), and the demo page must be built (`npm run test:browser` runs `npm run build:web` first).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FullConfig } from '@playwright/test';

export default function globalSetup(config: FullConfig): void {
  for (const project of config.projects) {
    const chromium = project.use.launchOptions?.executablePath;
    if (chromium && !existsSync(chromium)) {
      throw new Error(
        `Chromium not found at ${chromium}: the browser tests use the system Chromium, not a Playwright ` +
          'download. Install it (apt-get install -y chromium) or set CHROMIUM_PATH to a Chromium or ' +
          'Chrome binary.',
      );
    }
  }
  const dist = join(__dirname, '..', 'dist');
  if (!existsSync(join(dist, 'index.html'))) {
    throw new Error(`${dist} is not built: run npm run build:web (npm run test:browser does it first)`);
  }
}
