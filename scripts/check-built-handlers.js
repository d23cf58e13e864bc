#!/usr/bin/env node
// After `sam build`: load every built function as Lambda would, with the built layer's node_modules on the
// module path (/opt/nodejs/node_modules on AWS), and check that it exports a handler. Loading connects to
// nothing: clients are created on first use. Exits non-zero when any function fails to load.
const { existsSync, readdirSync } = require('node:fs');
const { join, resolve } = require('node:path');
const Module = require('node:module');

const build = resolve(process.argv[2] ?? '.aws-sam/build');
const layerModules = join(build, 'SharedLayer', 'nodejs', 'node_modules');
if (!existsSync(layerModules)) {
  console.error(`no built layer at ${layerModules}: run sam build first`);
  process.exit(1);
}
// What a Lambda function's configuration would hold; values that need AWS are placeholders.
Object.assign(process.env, {
  AWS_REGION: 'us-east-1',
  JWT_SECRET: 'placeholder-for-load-check',
  MANAGEMENT_ENDPOINT: 'https://example.invalid/prod',
  REDIS_HOST: 'redis.invalid',
  POWERTOOLS_METRICS_DISABLED: 'true',
});
process.env.NODE_PATH = layerModules;
Module._initPaths();

let failures = 0;
for (const name of readdirSync(build).sort()) {
  const entry = join(build, name, 'index.js');
  if (name === 'SharedLayer' || !existsSync(entry)) continue;
  try {
    const mod = require(entry);
    if (typeof mod.handler !== 'function') throw new Error('exports no handler function');
    console.log(`ok    ${name}`);
  } catch (error) {
    failures++;
    console.log(`FAIL  ${name}: ${error instanceof Error ? error.message : error}`);
  }
}
if (failures > 0) {
  console.error(`${failures} built function(s) failed to load`);
  process.exit(1);
}
