/**
 * The layer's auth entry (`@classroom/shared/auth`, auth.js) is what the authorizer loads on every cold
 * start: its import graph, bundled as the layer's Makefile bundles it, holds the token verification and the
 * logger, and none of the Redis, management API, batch or AWS SDK code the other functions load.
 */
import { build, type Metafile } from 'esbuild';
import { LAYER_FILES } from '../../bench/lib/bundle';

async function inputsOf(spec: (typeof LAYER_FILES)[keyof typeof LAYER_FILES]): Promise<string[]> {
  const result = await build({
    entryPoints: [spec.entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: spec.target,
    external: [...spec.external],
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  return Object.keys((result.metafile as Metafile).inputs);
}

describe('Layer entry: @classroom/shared/auth', () => {
  let inputs: string[];
  beforeAll(async () => {
    inputs = await inputsOf(LAYER_FILES['auth.js']);
  });

  it.each([
    ['ioredis', /node_modules\/ioredis\//],
    ['the AWS SDK', /node_modules\/@aws-sdk\//],
    ['Smithy (the SDK core)', /node_modules\/@smithy\//],
    ['Powertools batch', /node_modules\/@aws-lambda-powertools\/batch\//],
    ['Powertools parameters', /node_modules\/@aws-lambda-powertools\/parameters\//],
    ['the Redis client and the room store', /layers\/shared\/src\/(redis|room-store|lua)\.ts$/],
    [
      'the management API and the broadcaster',
      /layers\/shared\/src\/(management-api|broadcaster|fanout)\.ts$/,
    ],
    ['the secrets reader', /layers\/shared\/src\/secrets\.ts$/],
  ])('does not bundle %s', (_name, pattern) => {
    // Assess
    expect(inputs.filter((input) => pattern.test(input))).toEqual([]);
  });

  it('bundles what the authorizer uses: jose, the auth module, the handler wrapper and the logger', () => {
    // Assess
    for (const pattern of [
      /node_modules\/jose\//,
      /node_modules\/@aws-lambda-powertools\/logger\//,
      /layers\/shared\/src\/auth\.ts$/,
      /layers\/shared\/src\/handler\.ts$/,
      /layers\/shared\/src\/observability\.ts$/,
    ]) {
      expect(inputs.some((input) => pattern.test(input))).toBe(true);
    }
  });

  it('leaves the secrets reader to secrets.js, a bundle of its own', async () => {
    // Act
    const secrets = await inputsOf(LAYER_FILES['secrets.js']);
    // Assess
    expect(LAYER_FILES['auth.js'].external).toEqual(['./secrets']);
    expect(secrets.some((input) => /node_modules\/@aws-sdk\/client-secrets-manager\//.test(input))).toBe(
      true,
    );
  });
});
