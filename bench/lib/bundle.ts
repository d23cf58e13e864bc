/**
 * Bundles every function and the shared layer the way `sam build` does, for the cold-start figures and
 * the size budgets. Function settings come from each function's `Metadata.BuildProperties` in
 * template.yaml (SAM's esbuild builder: bundle, platform node, cjs, with the template's Minify, Target,
 * Sourcemap, External, EntryPoints); the layer's from its Makefile (bundle, minify, platform node,
 * target node22, cjs, no externals). Without a template the documented defaults are used.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
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

export const LAYER_SPEC: BundleSpec = {
  name: 'layer',
  logicalId: 'SharedLayer',
  entry: join(ROOT, 'layers', 'shared', 'src', 'index.ts'),
  minify: true,
  target: 'node22',
  sourcemap: true,
  external: [],
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
    legalComments: spec.name === 'layer' ? 'none' : undefined,
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

/** Bundles the layer to OUT/layer/nodejs/node_modules/@classroom/shared and each function to OUT/<name>. */
export async function bundleAll(outDir: string): Promise<{ layer: BundleResult; functions: BundleResult[] }> {
  const layerDir = join(outDir, 'layer', 'nodejs', 'node_modules', '@classroom', 'shared');
  mkdirSync(layerDir, { recursive: true });
  const layer = await bundle(LAYER_SPEC, join(layerDir, 'index.js'));
  const functions: BundleResult[] = [];
  for (const spec of functionSpecs()) functions.push(await bundle(spec, join(outDir, spec.name, 'index.js')));
  return { layer, functions };
}

/** Where the bundled layer's modules are (what /opt/nodejs/node_modules is on Lambda). */
export const layerModules = (outDir: string) => join(outDir, 'layer', 'nodejs', 'node_modules');
