/**
 * Cold start: bytes of each bundled function and of the layer, and the time a fresh `node` process takes
 * to load and initialise each handler module (`require` of the bundle, with the bundled layer on the
 * module path as /opt/nodejs/node_modules is on Lambda), median of a few fresh processes. Each function
 * loads with its template environment (parameter defaults; what only AWS knows, a placeholder), as some
 * settings are read at load (the publish function's redelivery window).
 *
 * The authorizer's load, before and after it had an entry of its own in the layer, same run: the whole layer
 * (index.js, what it loaded before) and the auth entry (auth.js, what it loads now) against `jose` alone
 * (all of jose, bundled the same way: the floor of a function that verifies JWTs), loaded in turn. The
 * ratios are of CPU time (the process's user + system time during the require), which a busy machine
 * disturbs far less than wall time (a process waiting for a core); the target: the auth entry within
 * AUTH_TARGET_RATIO x jose alone.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { loadTemplate } from '../local/template';
import { type BundleResult, bundleAll, LAYER_FILES, layerModules, ROOT } from './lib/bundle';
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
  if (value === null) delete process.env[key];
  else if (value !== '') process.env[key] = value;
}
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.NODE_PATH = process.argv[2];
Module._initPaths();
const start = process.hrtime.bigint();
const cpu = process.cpuUsage();
const mod = require(process.argv[3]);
const used = process.cpuUsage(cpu);
const ms = Number(process.hrtime.bigint() - start) / 1e6;
if (process.argv[4] === 'handler' && typeof mod.handler !== 'function') throw new Error('no handler export');
process.stdout.write(JSON.stringify({ ms, cpuMs: (used.user + used.system) / 1000 }));
`;

/** One load in a fresh process: wall time and CPU time of the require. */
interface LoadTime {
  ms: number;
  cpuMs: number;
}

/**
 * The auth entry loads within this many times jose alone, in CPU time (`coldstart_auth_target_pass`): it adds
 * the Powertools logger and metrics to the part of jose it uses (1.4-1.7x measured on a busy 2-core machine);
 * the whole layer is 9-12x.
 */
export const AUTH_TARGET_RATIO = 2;

/** Jose alone, all of it, bundled as the layer bundles it (minified, CommonJS, node22): the baseline. */
async function bundleJose(outfile: string): Promise<void> {
  await build({
    stdin: { contents: "export * from 'jose';", resolveDir: ROOT, loader: 'ts' },
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    minify: true,
    target: LAYER_FILES['auth.js'].target,
    legalComments: 'none',
    logLevel: 'silent',
  });
}

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
  env: Record<string, string | null> = {},
): LoadTime {
  const child = spawnSync(process.execPath, [script, nodePath, file, kind, JSON.stringify(env)], {
    encoding: 'utf8',
  });
  if (child.status !== 0) throw new Error(`loading ${file} failed: ${child.stderr}`);
  return JSON.parse(child.stdout) as LoadTime;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export async function runColdStart(figures: Figures, runs: number): Promise<BundleResult[]> {
  const out = mkdtempSync(join(tmpdir(), 'classroom-bench-bundle-'));
  try {
    const { layer, layerFiles, functions } = await bundleAll(out);
    const script = join(out, 'measure.js');
    writeFileSync(script, MEASURE);
    const joseFile = join(out, 'jose-alone.js');
    await bundleJose(joseFile);
    // The layer's modules first (as /opt/nodejs/node_modules); the project's node_modules stand for the
    // AWS SDK v3 that the Lambda Node.js runtime provides to functions that keep @aws-sdk/* external.
    const nodePath = [layerModules(out), join(ROOT, 'node_modules')].join(':');
    const layerFile = (file: string) => join(layerModules(out), '@classroom', 'shared', file);
    const environments = templateEnvironments();
    type Load = () => LoadTime;
    const load =
      (file: string, kind: 'handler' | 'module', env?: Record<string, string | null>): Load =>
      () =>
        loadMs(script, nodePath, file, kind, env);
    /** Median wall time of `runs` loads. */
    const measure = (once: Load) => {
      once(); // one unmeasured run warms the OS file cache
      return median(Array.from({ length: runs }, () => once().ms));
    };
    /** Medians of several loads measured in turn, run after run: a machine's load drifting weighs on all. */
    const measureInTurn = (loads: Load[]): LoadTime[] => {
      for (const once of loads) once();
      const samples = loads.map(() => [] as LoadTime[]);
      for (let run = 0; run < runs; run++) {
        for (const [i, once] of loads.entries()) samples[i]?.push(once());
      }
      return samples.map((times) => ({
        ms: median(times.map((t) => t.ms)),
        cpuMs: median(times.map((t) => t.cpuMs)),
      }));
    };
    for (const file of Object.values(layerFiles)) {
      figures.add(
        `bundle_bytes_${file.name.replace(/-/g, '_')}`,
        file.bytes,
        'bytes',
        `${file.name === 'layer' ? 'layer bundle, index.js' : `layer file ${file.file.split('/').pop()}`} (gzip ${kb(file.gzipBytes)}, source map ${kb(file.mapBytes)} not counted)`,
      );
    }
    const [layerTime, authTime, joseTime, secretsTime] = measureInTurn([
      load(layerFile('index.js'), 'module'),
      load(layerFile('auth.js'), 'module'),
      load(joseFile, 'module'),
      load(layerFile('secrets.js'), 'module'),
    ]) as [LoadTime, LoadTime, LoadTime, LoadTime];
    const loaded: [string, string, LoadTime][] = [
      [
        'layer',
        "the whole layer (index.js: the authorizer's load before it had an entry of its own)",
        layerTime,
      ],
      [
        'layer_auth',
        "the layer's auth entry (auth.js, @classroom/shared/auth: the authorizer's load now)",
        authTime,
      ],
      ['jose', 'jose alone (all of it, bundled as the layer is): the baseline', joseTime],
      [
        'layer_secrets',
        'secrets.js (the Secrets Manager reader the authorizer loads with JWT_SECRET_ARN alone)',
        secretsTime,
      ],
    ];
    for (const [key, what, time] of loaded) {
      figures.add(
        `coldstart_load_ms_${key}`,
        time.ms,
        'ms',
        `require of ${what}, median of ${runs} fresh node processes, in turn`,
      );
    }
    for (const [key, what, time] of loaded) {
      figures.add(
        `coldstart_cpu_ms_${key}`,
        time.cpuMs,
        'ms',
        `CPU time of the require of ${what}, same runs`,
      );
    }
    const ratio = (a: LoadTime, b: LoadTime) => a.cpuMs / b.cpuMs;
    figures.add(
      'coldstart_ratio_layer_jose',
      ratio(layerTime, joseTime),
      'x',
      'CPU time, whole layer / jose alone (the authorizer before)',
    );
    const authRatio = ratio(authTime, joseTime);
    figures.add(
      'coldstart_ratio_auth_jose',
      authRatio,
      'x',
      'CPU time, auth entry / jose alone (the authorizer now)',
    );
    figures.add(
      'coldstart_ratio_auth_layer',
      ratio(authTime, layerTime),
      'x',
      'CPU time, auth entry / whole layer (after / before, with JWKS_URL or JWT_SECRET)',
    );
    figures.add(
      'coldstart_ratio_auth_secrets_layer',
      (authTime.cpuMs + secretsTime.cpuMs) / layerTime.cpuMs,
      'x',
      'CPU time, auth entry + secrets.js / whole layer (after / before, with JWT_SECRET_ARN alone: the default deployment)',
    );
    figures.add(
      'coldstart_auth_target_pass',
      authRatio <= AUTH_TARGET_RATIO,
      '',
      `the auth entry loads within ${AUTH_TARGET_RATIO}x jose alone in CPU time (${authRatio.toFixed(2)}x)`,
    );
    for (const fn of functions) {
      figures.add(`bundle_bytes_${fn.name}`, fn.bytes, 'bytes', `${fn.logicalId} (gzip ${kb(fn.gzipBytes)})`);
    }
    for (const fn of functions) {
      figures.add(
        `coldstart_load_ms_${fn.name}`,
        measure(load(fn.file, 'handler', environments.get(fn.logicalId))),
        'ms',
        `require of ${fn.logicalId} incl. the layer, median of ${runs}`,
      );
    }
    const authorizer = functions.find((fn) => fn.name === 'authorizer');
    if (authorizer) {
      // As deployed by default: the HS256 secret in Secrets Manager, so the reader (secrets.js) loads at init.
      const env = {
        ...environments.get(authorizer.logicalId),
        JWT_SECRET: null,
        JWT_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:bench-AbCdEf',
      };
      figures.add(
        'coldstart_load_ms_authorizer_secret_arn',
        measure(load(authorizer.file, 'handler', env)),
        'ms',
        `require of ${authorizer.logicalId} with JWT_SECRET_ARN alone (the default deployment: auth.js and secrets.js), median of ${runs}`,
      );
    }
    return [layer, ...functions];
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
