#!/usr/bin/env node
// After `sam build`: load every built function as Lambda would, with the built layer's node_modules on the
// module path (what /opt/nodejs/node_modules is on AWS), and check that it exports a handler function. Each
// line names the layer files the function loaded: the authorizer loads the auth entry (auth.js, with
// secrets.js when it reads its secret from Secrets Manager), never the whole layer (index.js).
// Loading must connect to nothing (clients are created on first use): a function that leaves a socket, a
// server or a timer behind after its module loaded fails too. One line per function; exit 1 on any failure.
//   node scripts/check-built-handlers.js [.aws-sam/build]

const { existsSync, readdirSync } = require('node:fs');
const { join, relative, resolve } = require('node:path');
const Module = require('node:module');

const build = resolve(process.argv[2] ?? '.aws-sam/build');
const layerModules = join(build, 'SharedLayer', 'nodejs', 'node_modules');
const layerPackage = join(layerModules, '@classroom', 'shared');
if (!existsSync(layerPackage)) {
  console.error(`no built layer at ${layerModules}/@classroom/shared: run sam build first`);
  process.exit(1);
}

/** A template parameter's Default, read from template.yaml (the publish window has no second copy). */
function parameterDefault(name) {
  const template = require('node:fs').readFileSync(resolve(__dirname, '..', 'template.yaml'), 'utf8');
  const match = new RegExp(`\\n  ${name}:\\n(?:    .*\\n)*?    Default: "?([^"\\n]+)"?\\n`).exec(template);
  if (!match) throw new Error(`template.yaml has no Default for the parameter ${name}`);
  return match[1];
}

// What a function's configuration holds on AWS; values that would need AWS are placeholders that nothing may
// contact at load time (.invalid never resolves).
Object.assign(process.env, {
  PUBLISH_VISIBILITY_TIMEOUT_SECONDS: parameterDefault('PublishVisibilityTimeoutSeconds'),
  PUBLISH_MAX_RECEIVES: parameterDefault('PublishMaxReceives'),
  AWS_REGION: 'us-east-1',
  AWS_LAMBDA_FUNCTION_NAME: 'load-check',
  NODE_OPTIONS: '',
  JWT_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:load-check-AbCdEf',
  MANAGEMENT_ENDPOINT: 'https://load-check.invalid/prod',
  REDIS_HOST: 'redis.load-check.invalid',
  REDIS_PORT: '6379',
  REDIS_TLS: 'true',
  REDIS_AUTH_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:redis-AbCdEf',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
});
// Only the layer (and Node's built-ins) may satisfy the functions' imports, as on Lambda: no project
// node_modules up the tree from .aws-sam/build.
process.env.NODE_PATH = layerModules;
Module._initPaths();
const builtIn = new Set(Module.builtinModules);
const originalResolve = Module._resolveFilename;
Module._resolveFilename = function resolveLikeLambda(request, parent, ...rest) {
  const resolved = originalResolve.call(this, request, parent, ...rest);
  if (!builtIn.has(request) && !request.startsWith('node:') && !resolved.startsWith(build)) {
    throw new Error(
      `'${request}' resolved outside the build (${resolved}): it is not in the bundle or the layer`,
    );
  }
  return resolved;
};

/** Resource kinds that keep a process alive: what a module may not leave behind at load. */
const LIVE = new Set([
  'TCPSocketWrap',
  'TCPWRAP',
  'TCPServerWrap',
  'TLSWrap',
  'PipeWrap',
  'Timeout',
  'Immediate',
]);
// stdout/stderr are created lazily on first use (a PipeWrap when piped): create them now, not inside a load.
void process.stdout.fd;
void process.stderr.fd;
const live = () => process.getActiveResourcesInfo().filter((kind) => LIVE.has(kind));

const functions = readdirSync(build, { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name !== 'SharedLayer')
  .map((entry) => entry.name)
  .sort();
if (functions.length === 0) {
  console.error(`no built functions in ${build}`);
  process.exit(1);
}

/** The layer files a loaded module reached (its graph of children), by file name. */
function layerFilesOf(mod) {
  const seen = new Set();
  const files = new Set();
  const visit = (m) => {
    if (seen.has(m)) return;
    seen.add(m);
    if (m.filename.startsWith(`${layerPackage}/`)) files.add(relative(layerPackage, m.filename));
    for (const child of m.children) visit(child);
  };
  visit(mod);
  return [...files].sort();
}

/** What a function may load of the layer, when it is restricted (the authorizer: its entry, not index.js). */
const ALLOWED_LAYER_FILES = { AuthorizerFunction: new Set(['auth.js', 'secrets.js']) };

let failures = 0;
for (const name of functions) {
  const entry = join(build, name, 'index.js');
  const before = live().length;
  const started = process.hrtime.bigint();
  try {
    if (!existsSync(entry)) throw new Error('no index.js');
    const mod = require(entry);
    if (typeof mod.handler !== 'function')
      throw new Error(`exports.handler is ${typeof mod.handler}, not a function`);
    const left = live().slice(before);
    if (left.length > 0)
      throw new Error(`left ${left.join(', ')} open at load (clients must be created lazily)`);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const files = layerFilesOf(require.cache[entry]);
    const allowed = ALLOWED_LAYER_FILES[name];
    const extra = allowed ? files.filter((file) => !allowed.has(file)) : [];
    if (extra.length > 0) throw new Error(`loaded ${extra.join(', ')} of the layer, beyond its entry`);
    console.log(`ok    ${name} (${ms.toFixed(0)} ms; layer: ${files.join(', ') || 'none'})`);
  } catch (error) {
    failures++;
    const message = error instanceof Error ? error.message : String(error);
    console.log(`FAIL  ${name}: ${message.split('\n')[0]}`);
  }
}
if (failures > 0) console.error(`${failures} of ${functions.length} built functions failed the load check`);
else console.log(`${functions.length} functions load with the layer`);
// Exit explicitly: a handle left open must not keep the check running.
process.exit(failures > 0 ? 1 : 0);
