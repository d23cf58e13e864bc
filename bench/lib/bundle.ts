/**
 * Bundles every function and the shared layer the way `sam build` does, for the cold-start figures and
 * the size budgets. Function settings come from each function's `Metadata.BuildProperties` in
 * template.yaml (SAM's esbuild builder: bundle, platform node, cjs, with the template's Minify, Target,
 * Sourcemap, External, EntryPoints); the layer's from its Makefile (bundle, minify, platform node,
 * target node22, cjs; three files: index.js, auth.js with ./secrets external, secrets.js). Without a
 * template the documented defaults are used.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { parseCfnYaml } from '../../local/cfn-yaml';

export const ROOT = resolve(__dirname, '..', '..');

export interface BundleSpec {
  /** Function folder name (e.g. `send-message`), or `layer`. */
  name: string;
  logicalId: string;
  entry: string;
  minify: boolean;
  target: string;
  sourcemap: boolean;
  external: string[];
  memoryMb?: number;
}

export interface BundleResult extends BundleSpec {
  file: string;
  bytes: number;
  gzipBytes: number;
  mapBytes: number;
}

const DEFAULTS = {
  minify: true,
  target: 'node22',
  sourcemap: true,
  external: ['@classroom/shared', '@aws-sdk/*'],
};

type Props = Record<string, unknown>;

/** The functions to bundle: from template.yaml when it exists, else every functions/<dir>/index.ts. */
export function functionSpecs(): BundleSpec[] {
  const templatePath = join(ROOT, 'template.yaml');
  if (!existsSync(templatePath)) {
    return readdirSync(join(ROOT, 'functions'))
      .filter((dir) => existsSync(join(ROOT, 'functions', dir, 'index.ts')))
      .sort()
      .map((dir) => ({
        name: dir,
        logicalId: dir,
        entry: join(ROOT, 'functions', dir, 'index.ts'),
        ...DEFAULTS,
      }));
  }
  const template = parseCfnYaml(readFileSync(templatePath, 'utf8')) as {
    Globals?: { Function?: Props };
    Resources?: Record<string, { Type?: string; Properties?: Props; Metadata?: Props }>;
  };
  const globalMemory = template.Globals?.Function?.MemorySize;
  const specs: BundleSpec[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type !== 'AWS::Serverless::Function') continue;
    const codeUri = String(resource.Properties?.CodeUri ?? '').replace(/\/+$/, '');
    const props = (resource.Metadata?.BuildProperties ?? {}) as Props;
    const entries = (props.EntryPoints as string[] | undefined) ?? ['index.ts'];
    const memory = resource.Properties?.MemorySize ?? globalMemory;
    specs.push({
      name: codeUri.split('/').pop() ?? logicalId,
      logicalId,
      entry: join(ROOT, codeUri, entries[0] as string),
      minify: props.Minify === undefined ? DEFAULTS.minify : Boolean(props.Minify),
      target: String(props.Target ?? DEFAULTS.target),
      sourcemap: props.Sourcemap === undefined ? DEFAULTS.sourcemap : Boolean(props.Sourcemap),
      external: (props.External as string[] | undefined) ?? DEFAULTS.external,
      memoryMb: typeof memory === 'number' ? memory : undefined,
    });
  }
  return specs.sort((a, b) => a.name.localeCompare(b.name));
}

const layerSpec = (name: string, source: string, external: string[] = []): BundleSpec => ({
  name,
  logicalId: 'SharedLayer',
  entry: join(ROOT, 'layers', 'shared', 'src', source),
  minify: true,
  target: 'node22',
  sourcemap: true,
  external,
});

/** The layer's files, as layers/shared/Makefile builds them (file name in the layer → its bundle). */
export const LAYER_FILES = {
  /** `@classroom/shared`: the whole layer. */
  'index.js': layerSpec('layer', 'index.ts'),
  /** `@classroom/shared/auth`: what the authorizer uses; Secrets Manager's reader stays in secrets.js. */
  'auth.js': layerSpec('layer-auth', 'auth-entry.ts', ['./secrets']),
  'secrets.js': layerSpec('layer-secrets', 'secrets.ts'),
} as const;
export type LayerFile = keyof typeof LAYER_FILES;

/** The layer's package.json, as the Makefile writes it: its two entries. */
const LAYER_PACKAGE = {
  name: '@classroom/shared',
  version: '0.1.0',
  main: 'index.js',
  exports: { '.': './index.js', './auth': './auth.js' },
};

async function bundle(spec: BundleSpec, outfile: string): Promise<BundleResult> {
  await build({
    entryPoints: [spec.entry],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    minify: spec.minify,
    target: spec.target,
    sourcemap: spec.sourcemap,
    external: spec.external,
    legalComments: spec.logicalId === 'SharedLayer' ? 'none' : undefined,
    logLevel: 'silent',
  });
  const code = readFileSync(outfile);
  const map = `${outfile}.map`;
  return {
    ...spec,
    file: outfile,
    bytes: code.length,
    gzipBytes: gzipSync(code).length,
    mapBytes: existsSync(map) ? statSync(map).size : 0,
  };
}

/**
 * Bundles the layer's files to OUT/layer/nodejs/node_modules/@classroom/shared and each function to OUT/<name>.
 * `layer` is the whole layer (index.js); `layerFiles` has every file of the layer, index.js included.
 */
export async function bundleAll(outDir: string): Promise<{
  layer: BundleResult;
  layerFiles: Record<LayerFile, BundleResult>;
  functions: BundleResult[];
}> {
  const layerDir = join(outDir, 'layer', 'nodejs', 'node_modules', '@classroom', 'shared');
  mkdirSync(layerDir, { recursive: true });
  writeFileSync(join(layerDir, 'package.json'), `${JSON.stringify(LAYER_PACKAGE)}\n`);
  const layerFiles = {} as Record<LayerFile, BundleResult>;
  for (const [file, spec] of Object.entries(LAYER_FILES) as [LayerFile, BundleSpec][]) {
    layerFiles[file] = await bundle(spec, join(layerDir, file));
  }
  const functions: BundleResult[] = [];
  for (const spec of functionSpecs()) functions.push(await bundle(spec, join(outDir, spec.name, 'index.js')));
  return { layer: layerFiles['index.js'], layerFiles, functions };
}

/** Where the bundled layer's modules are (what /opt/nodejs/node_modules is on Lambda). */
export const layerModules = (outDir: string) => join(outDir, 'layer', 'nodejs', 'node_modules');
