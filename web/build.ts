/**
 * Builds the demo page into web/dist with esbuild: web/src/main.ts (and its CSS) bundled for the
 * browser, and index.html copied. `npm run dev` runs it first (`predev`).
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const web = __dirname;
const dist = join(web, 'dist');

async function main(): Promise<void> {
  mkdirSync(dist, { recursive: true });
  await build({
    entryPoints: [join(web, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    outdir: dist,
    sourcemap: true,
    minify: true,
    logLevel: 'warning',
  });
  copyFileSync(join(web, 'index.html'), join(dist, 'index.html'));
  console.log(`demo page built into ${dist}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
