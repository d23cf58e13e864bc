/**
 * `npm run bench:budgets` (`tsx bench/budgets.ts`): bundles every function and the layer with the same
 * settings as `sam build` (bench/lib/bundle.ts) and fails when one is over its size budget in
 * bench/budgets.json, or has none. `--update` rewrites the budgets as 2x today's sizes, rounded up
 * (functions to 5 KB, the layer's files to 100 KB): run it deliberately, and say why in the commit.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleAll } from './lib/bundle';

const BUDGETS = join(__dirname, 'budgets.json');
const KB = 1024;

interface Budgets {
  note: string;
  updated: string;
  /**
   * Bytes of the minified bundle (source map not counted), by function folder or layer file (`layer` is
   * index.js, `layer-auth` auth.js, `layer-secrets` secrets.js).
   */
  bytes: Record<string, number>;
}

const roundUp = (bytes: number, step: number) => Math.ceil(bytes / step) * step;
const kb = (bytes: number) => `${(bytes / KB).toFixed(1)} KB`;

async function main(): Promise<void> {
  const update = process.argv.includes('--update');
  const out = mkdtempSync(join(tmpdir(), 'classroom-budgets-'));
  try {
    const { layerFiles, functions } = await bundleAll(out);
    const sizes = new Map<string, number>(
      [...Object.values(layerFiles), ...functions].map((f) => [f.name, f.bytes] as const),
    );
    if (update) {
      const budgets: Budgets = {
        note: 'Size budgets of the bundles (minified .js files, as sam build makes them; source maps not counted). Set to 2x the measured size, rounded up to 5 KB (functions) or 100 KB (the layer files: layer = index.js, layer-auth = auth.js, layer-secrets = secrets.js). Checked by npm run bench:budgets; update with tsx bench/budgets.ts --update.',
        updated: new Date().toISOString().slice(0, 10),
        bytes: Object.fromEntries(
          [...sizes].map(([name, bytes]) => [
            name,
            roundUp(2 * bytes, name.startsWith('layer') ? 100 * KB : 5 * KB),
          ]),
        ),
      };
      writeFileSync(BUDGETS, `${JSON.stringify(budgets, null, 2)}\n`);
      console.log(`wrote ${BUDGETS}`);
    }
    const budgets = JSON.parse(readFileSync(BUDGETS, 'utf8')) as Budgets;
    let failures = 0;
    console.log(`${'bundle'.padEnd(14)} ${'size'.padStart(10)} ${'budget'.padStart(10)}  use`);
    for (const [name, bytes] of sizes) {
      const budget = budgets.bytes[name];
      const over = budget === undefined || bytes > budget;
      if (over) failures++;
      const use = budget
        ? `${((100 * bytes) / budget).toFixed(0)}%`
        : 'no budget: add one (tsx bench/budgets.ts --update)';
      console.log(
        `${name.padEnd(14)} ${kb(bytes).padStart(10)} ${(budget ? kb(budget) : '-').padStart(10)}  ${use}${over ? '  OVER' : ''}`,
      );
    }
    if (failures > 0) {
      console.error(`\n${failures} bundle(s) over budget or without one (bench/budgets.json)`);
      process.exitCode = 1;
    } else {
      console.log('\nall bundles within budget');
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
