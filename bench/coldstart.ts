/**
 * Cold start: bytes of each bundled function and of the layer, and the time a fresh `node` process takes
 * to load and initialise each handler module (`require` of the bundle, with the bundled layer on the
 * module path as /opt/nodejs/node_modules is on Lambda), median of a few fresh processes. Each function
 * loads with its template environment (parameter defaults; what only AWS knows, a placeholder), as some
 * settings are read at load (the publish function's redelivery window).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTemplate } from '../local/template';
import { type BundleResult, bundleAll, layerModules, ROOT } from './lib/bundle';
import type { Figures } from './lib/results';
import { median } from './lib/stats';

/**
 * Runs in the fresh process: what a Lambda function's configuration would hold (its template environment,
 * passed as JSON in argv[5], over placeholders for what only a deployed stack knows), then the timed require.
 */
const MEASURE = `
const Module = require('node:module');
Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  JWT_SECRET: 'placeholder-for-load-check',
  MANAGEMENT_ENDPOINT: 'https://example.invalid/prod',
  REDIS_HOST: 'redis.invalid',
});
for (const [key, value] of Object.entries(JSON.parse(process.argv[5] || '{}'))) {
  if (value !== '') process.env[key] = value;
}
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.NODE_PATH = process.argv[2];
Module._initPaths();
const start = process.hrtime.bigint();
const mod = require(process.argv[3]);
const ms = Number(process.hrtime.bigint() - start) / 1e6;
if (process.argv[4] === 'handler' && typeof mod.handler !== 'function') throw new Error('no handler export');
process.stdout.write(JSON.stringify({ ms }));
`;

/**
 * Each function's template environment by logical id (NODE_OPTIONS left out: it acts only when the process
 * starts). Empty without a template.
 */
function templateEnvironments(): Map<string, Record<string, string>> {
  const path = `${ROOT}/template.yaml`;
  const envs = new Map<string, Record<string, string>>();
  if (!existsSync(path)) return envs;
  for (const [id, fn] of loadTemplate(path).functions) {
    const { NODE_OPTIONS: _, ...environment } = fn.environment;
    envs.set(id, environment);
  }
  return envs;
}

function loadMs(
  script: string,
  nodePath: string,
  file: string,
  kind: 'handler' | 'module',
  env: Record<string, string> = {},
): number {
  const child = spawnSync(process.execPath, [script, nodePath, file, kind, JSON.stringify(env)], {
    encoding: 'utf8',
  });
  if (child.status !== 0) throw new Error(`loading ${file} failed: ${child.stderr}`);
  return (JSON.parse(child.stdout) as { ms: number }).ms;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export async function runColdStart(figures: Figures, runs: number): Promise<BundleResult[]> {
  const out = mkdtempSync(join(tmpdir(), 'classroom-bench-bundle-'));
  try {
    const { layer, functions } = await bundleAll(out);
    const script = join(out, 'measure.js');
    writeFileSync(script, MEASURE);
    // The layer's modules first (as /opt/nodejs/node_modules); the project's node_modules stand for the
    // AWS SDK v3 that the Lambda Node.js runtime provides to functions that keep @aws-sdk/* external.
    const nodePath = [layerModules(out), join(ROOT, 'node_modules')].join(':');
    const layerFile = join(layerModules(out), '@classroom', 'shared', 'index.js');
    const environments = templateEnvironments();
    const measure = (file: string, kind: 'handler' | 'module', env?: Record<string, string>) => {
      loadMs(script, nodePath, file, kind, env); // one unmeasured run warms the OS file cache
      return median(Array.from({ length: runs }, () => loadMs(script, nodePath, file, kind, env)));
    };
    figures.add(
      'bundle_bytes_layer',
      layer.bytes,
      'bytes',
      `layer bundle (gzip ${kb(layer.gzipBytes)}, source map ${kb(layer.mapBytes)} not counted)`,
    );
    figures.add(
      'coldstart_load_ms_layer',
      measure(layerFile, 'module'),
      'ms',
      `require of the layer alone, median of ${runs} fresh node processes`,
    );
    for (const fn of functions) {
      figures.add(`bundle_bytes_${fn.name}`, fn.bytes, 'bytes', `${fn.logicalId} (gzip ${kb(fn.gzipBytes)})`);
    }
    for (const fn of functions) {
      figures.add(
        `coldstart_load_ms_${fn.name}`,
        measure(fn.file, 'handler', environments.get(fn.logicalId)),
        'ms',
        `require of ${fn.logicalId} incl. the layer, median of ${runs}`,
      );
    }
    return [layer, ...functions];
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
