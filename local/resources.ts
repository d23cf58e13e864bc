/**
 * The template's other resources on a local AWS endpoint (moto, LocalStack, ministack…): before the gateway
 * serves, its DynamoDB tables (`AWS::DynamoDB::Table`, `AWS::Serverless::SimpleTable`), SQS queues and Secrets
 * Manager secrets are created there with the real AWS SDK v3 clients (an existing one is reused), so that
 * `!Ref`/`!GetAtt` of them resolve to the created names, ARNs and URLs and the functions, given the endpoint
 * as `AWS_ENDPOINT_URL`, find them. The endpoint is `AWS_ENDPOINT_URL`, a given URL, or a moto server started
 * from a Python venv (`.venv/bin/moto_server`). Every other resource the functions refer to is listed at start
 * with what it means for them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { request } from 'node:http';
import { delimiter, join, resolve as resolvePath } from 'node:path';
import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type LocalSecondaryIndex,
  type Projection,
  type ProvisionedThroughput,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { freePort, stopChild } from './redis-server';
import { createSqsClient, LocalQueues } from './sqs-source';
import type { FunctionDef, ProvidedValues, SecretDef, TableDef, TemplateModel } from './template';

/** A resource created (or found) on the endpoint. */
export interface ProvidedResource extends ProvidedValues {
  logicalId: string;
  type: string;
  /** One line for the start-up log: what was created, reused or left out. */
  detail: string;
}

export interface AwsEndpoint {
  endpoint: string;
  /** How it came to be (`AWS_ENDPOINT_URL`, `moto started from …`). */
  origin: string;
  /** Stops what was started for it (a moto server); nothing for a given endpoint. */
  stop(): Promise<void>;
}

/** The resource types created on the endpoint. */
export const PROVIDED_TYPES = new Set([
  'AWS::DynamoDB::Table',
  'AWS::Serverless::SimpleTable',
  'AWS::SQS::Queue',
  'AWS::SecretsManager::Secret',
]);

/** Types the gateway itself serves or runs. */
const EMULATED_TYPES = new Set([
  'AWS::Serverless::Function',
  'AWS::Lambda::Function',
  'AWS::Serverless::LayerVersion',
  'AWS::Lambda::LayerVersion',
  'AWS::Lambda::EventSourceMapping',
]);

/** Types with no local effect on how the functions run (permissions, logs, monitoring, networking). */
const NO_LOCAL_EFFECT = [
  /^AWS::IAM::/,
  /^AWS::Logs::/,
  /^AWS::CloudWatch::/,
  /^AWS::EC2::/,
  /^AWS::ApplicationAutoScaling::/,
  /^AWS::Lambda::(Permission|Version|Alias|EventInvokeConfig)$/,
  /^AWS::ApiGateway::Account$/,
  /^AWS::SQS::QueuePolicy$/,
  /^AWS::SNS::TopicPolicy$/,
];

function credentials(): { accessKeyId: string; secretAccessKey: string } | undefined {
  return process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE
    ? undefined
    : { accessKeyId: 'local', secretAccessKey: 'local' };
}

// ---- the endpoint -------------------------------------------------------------------------------------------

/** Where a moto server can be found: `MOTO_SERVER`, `.venv/bin/moto_server` under these dirs, then PATH. */
export function findMotoServer(dirs: string[]): string | undefined {
  const candidates = [
    ...(process.env.MOTO_SERVER ? [process.env.MOTO_SERVER] : []),
    ...dirs.map((dir) => join(dir, '.venv', 'bin', 'moto_server')),
    ...(process.env.PATH ?? '').split(delimiter).map((dir) => join(dir, 'moto_server')),
  ];
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function answers(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${endpoint}/moto-api/`, { method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/**
 * Starts `moto_server` on a free 127.0.0.1 port; resolves once it answers. `args` go before moto_server's own
 * (`path` may be a Python running a script that wraps moto's server, as local/dynamodb.ts does).
 */
export async function startMotoServer(
  path: string,
  timeoutMs = 30_000,
  args: string[] = [],
): Promise<AwsEndpoint> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(path, [...args, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  // Not left behind when this process exits without stopping it.
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const stop = async () => {
    process.off('exit', kill);
    await stopChild(child);
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await answers(endpoint))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(
        `moto_server (${path}) did not start on ${endpoint}: ${output.trim() || `exit ${child.exitCode}`}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { endpoint, origin: `moto started from ${path}`, stop };
}

/**
 * The endpoint for an `aws` option: a URL is used as it is, `moto` starts a moto server (looked up from the
 * template's directory, the working directory and this repository), false or undefined means none.
 */
export async function awsEndpoint(
  option: string | false | undefined,
  lookIn: string[],
  origin = 'aws option',
): Promise<AwsEndpoint | undefined> {
  if (!option) return undefined;
  if (option !== 'moto') {
    if (!/^https?:\/\//.test(option))
      throw new Error(`aws: expected "moto" or an http(s) URL, got "${option}"`);
    return { endpoint: option.replace(/\/$/, ''), origin, stop: async () => {} };
  }
  const dirs = [...new Set([...lookIn, process.cwd(), resolvePath(__dirname, '..')])];
  const path = findMotoServer(dirs);
  if (!path)
    throw new Error(
      `aws moto: no moto_server in ${dirs.map((d) => join(d, '.venv', 'bin')).join(', ')} or PATH ` +
        '(python3 -m venv .venv && .venv/bin/pip install "moto[server]", or set MOTO_SERVER)',
    );
  return startMotoServer(path);
}

// ---- creating the resources -----------------------------------------------------------------------------------

export interface ProvideOptions {
  endpoint: string;
  log: (line: string) => void;
}

/** Creates (or finds) every table, queue and secret of the template on the endpoint, by logical id. */
export async function provideResources(
  template: TemplateModel,
  options: ProvideOptions,
): Promise<Record<string, ProvidedResource>> {
  const settings = { endpoint: options.endpoint, region: template.region, credentials: credentials() };
  const out: Record<string, ProvidedResource> = {};
  if (template.tables.size > 0) {
    const dynamodb = new DynamoDBClient(settings);
    try {
      for (const def of template.tables.values()) out[def.logicalId] = await provideTable(dynamodb, def);
    } finally {
      dynamodb.destroy();
    }
  }
  if (template.queues.size > 0) {
    const sqs = createSqsClient({ endpoint: options.endpoint, region: template.region });
    try {
      const queues = new LocalQueues(sqs, template.queues);
      for (const def of template.queues.values()) {
        const url = await queues.url(def.logicalId);
        const arn = (await queues.arn(url)) ?? def.arn;
        const fifo = String(def.properties.FifoQueue) === 'true' ? ', FIFO' : '';
        const redrive = def.properties.RedrivePolicy ? ', with its redrive policy' : '';
        out[def.logicalId] = {
          logicalId: def.logicalId,
          type: 'AWS::SQS::Queue',
          ref: url,
          attributes: { Arn: arn, QueueUrl: url, QueueName: def.name },
          detail: `queue ${url}${fifo}${redrive}`,
        };
      }
    } finally {
      sqs.destroy();
    }
  }
  if (template.secrets.size > 0) {
    const secrets = new SecretsManagerClient(settings);
    try {
      for (const def of template.secrets.values()) out[def.logicalId] = await provideSecret(secrets, def);
    } finally {
      secrets.destroy();
    }
  }
  return out;
}

const num = (value: unknown) => (value === undefined ? undefined : Number(value));

function throughput(value: unknown): ProvisionedThroughput | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const p = value as Record<string, unknown>;
  return { ReadCapacityUnits: num(p.ReadCapacityUnits), WriteCapacityUnits: num(p.WriteCapacityUnits) };
}

function list<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

/** CreateTable's input for an `AWS::DynamoDB::Table` or `AWS::Serverless::SimpleTable`, and what was left out. */
export function createTableInput(def: TableDef): { input: CreateTableCommandInput; notes: string[] } {
  const p = def.properties;
  const notes: string[] = [];
  if (def.type === 'AWS::Serverless::SimpleTable') {
    const key = (p.PrimaryKey ?? {}) as Record<string, unknown>;
    const name = String(key.Name ?? 'id');
    const type = { String: 'S', Number: 'N', Binary: 'B' }[String(key.Type ?? 'String')] ?? 'S';
    const provisioned = throughput(p.ProvisionedThroughput);
    return {
      input: {
        TableName: def.name,
        KeySchema: [{ AttributeName: name, KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: name, AttributeType: type as 'S' }],
        BillingMode: provisioned ? 'PROVISIONED' : 'PAY_PER_REQUEST',
        ...(provisioned ? { ProvisionedThroughput: provisioned } : {}),
      },
      notes,
    };
  }
  const provisioned = throughput(p.ProvisionedThroughput);
  const billing = String(p.BillingMode ?? (provisioned ? 'PROVISIONED' : 'PAY_PER_REQUEST'));
  if (p.BillingMode === undefined && !provisioned)
    notes.push('no BillingMode nor ProvisionedThroughput: on-demand');
  const index = (raw: Record<string, unknown>) => ({
    IndexName: String(raw.IndexName),
    KeySchema: list<KeySchemaElement>(raw.KeySchema),
    Projection: (raw.Projection ?? { ProjectionType: 'ALL' }) as Projection,
  });
  const gsis = list<Record<string, unknown>>(p.GlobalSecondaryIndexes).map(
    (raw): GlobalSecondaryIndex => ({
      ...index(raw),
      ...(billing === 'PROVISIONED'
        ? { ProvisionedThroughput: throughput(raw.ProvisionedThroughput) ?? provisioned }
        : {}),
    }),
  );
  const lsis = list<Record<string, unknown>>(p.LocalSecondaryIndexes).map(
    (raw): LocalSecondaryIndex => index(raw),
  );
  const stream = p.StreamSpecification as Record<string, unknown> | undefined;
  if (stream)
    notes.push(
      `StreamSpecification (${String(stream.StreamViewType)}) ignored: DynamoDB stream event sources are not fed locally`,
    );
  for (const ignored of [
    'SSESpecification',
    'PointInTimeRecoverySpecification',
    'KinesisStreamSpecification',
    'ContributorInsightsSpecification',
    'ImportSourceSpecification',
    'ResourcePolicy',
  ]) {
    if (p[ignored] !== undefined) notes.push(`${ignored} ignored`);
  }
  return {
    input: {
      TableName: def.name,
      KeySchema: list<KeySchemaElement>(p.KeySchema),
      AttributeDefinitions: list<AttributeDefinition>(p.AttributeDefinitions),
      BillingMode: billing as 'PROVISIONED',
      ...(billing === 'PROVISIONED' ? { ProvisionedThroughput: provisioned } : {}),
      ...(gsis.length > 0 ? { GlobalSecondaryIndexes: gsis } : {}),
      ...(lsis.length > 0 ? { LocalSecondaryIndexes: lsis } : {}),
      ...(p.TableClass !== undefined ? { TableClass: String(p.TableClass) as 'STANDARD' } : {}),
    },
    notes,
  };
}

async function provideTable(client: DynamoDBClient, def: TableDef): Promise<ProvidedResource> {
  const { input, notes } = createTableInput(def);
  let state = 'created';
  try {
    await client.send(new CreateTableCommand(input));
  } catch (error) {
    if ((error as Error).name !== 'ResourceInUseException') {
      throw new Error(
        `${def.type} ${def.logicalId}: CreateTable ${def.name} failed: ${(error as Error).message}`,
      );
    }
    state = 'exists, reused (its key schema is not compared)';
  }
  let table = (await client.send(new DescribeTableCommand({ TableName: def.name }))).Table;
  for (let i = 0; table?.TableStatus !== 'ACTIVE' && i < 100; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    table = (await client.send(new DescribeTableCommand({ TableName: def.name }))).Table;
  }
  const ttl = def.properties.TimeToLiveSpecification as Record<string, unknown> | undefined;
  const ttlEnabled = ttl && String(ttl.Enabled) === 'true' && typeof ttl.AttributeName === 'string';
  if (ttlEnabled) {
    const current = (await client.send(new DescribeTimeToLiveCommand({ TableName: def.name })))
      .TimeToLiveDescription;
    if (!(current?.TimeToLiveStatus === 'ENABLED' && current.AttributeName === ttl.AttributeName)) {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: def.name,
          TimeToLiveSpecification: { AttributeName: ttl.AttributeName as string, Enabled: true },
        }),
      );
    }
  }
  const parts = [
    `table ${def.name} (${state})`,
    ...(input.GlobalSecondaryIndexes ?? []).map((g) => `GSI ${g.IndexName}`),
    ...(input.LocalSecondaryIndexes ?? []).map((l) => `LSI ${l.IndexName}`),
    ...(ttlEnabled ? [`TTL on ${String(ttl.AttributeName)}`] : []),
    ...notes,
  ];
  const arn = table?.TableArn ?? '';
  return {
    logicalId: def.logicalId,
    type: def.type,
    ref: def.name,
    // Streams are not created: StreamArn stays unresolved.
    attributes: { Arn: arn },
    detail: parts.join('; '),
  };
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = LOWER.toUpperCase();
const DIGITS = '0123456789';
const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';

/** A password as Secrets Manager's `GenerateSecretString` makes it (length 32 and every type by default). */
export function generatePassword(spec: Record<string, unknown>): string {
  const flag = (name: string) => String(spec[name]) === 'true';
  const exclude = new Set(String(spec.ExcludeCharacters ?? ''));
  const groups = [
    flag('ExcludeLowercase') ? '' : LOWER,
    flag('ExcludeUppercase') ? '' : UPPER,
    flag('ExcludeNumbers') ? '' : DIGITS,
    flag('ExcludePunctuation') ? '' : PUNCTUATION,
    flag('IncludeSpace') ? ' ' : '',
  ]
    .map((group) => [...group].filter((c) => !exclude.has(c)).join(''))
    .filter(Boolean);
  if (groups.length === 0) throw new Error('GenerateSecretString excludes every character');
  const length = Number(spec.PasswordLength ?? 32);
  const all = groups.join('');
  const pick = (chars: string) => chars[randomInt(chars.length)] as string;
  const chars = Array.from({ length }, () => pick(all));
  if (spec.RequireEachIncludedType === undefined || flag('RequireEachIncludedType')) {
    // One of each type at distinct random positions (a partial Fisher-Yates shuffle picks them).
    const positions = [...Array(length).keys()];
    for (let i = 0; i < Math.min(groups.length, length); i++) {
      const j = i + randomInt(length - i);
      [positions[i], positions[j]] = [positions[j] as number, positions[i] as number];
      chars[positions[i] as number] = pick(groups[i] as string);
    }
  }
  return chars.join('');
}

/** The secret's value: `SecretString`, else generated from `GenerateSecretString` (template and key included). */
export function secretValue(def: SecretDef): string | undefined {
  const p = def.properties;
  if (typeof p.SecretString === 'string') return p.SecretString;
  const spec = p.GenerateSecretString as Record<string, unknown> | undefined;
  if (!spec) return undefined;
  const password = generatePassword(spec);
  if (typeof spec.SecretStringTemplate === 'string' && typeof spec.GenerateStringKey === 'string') {
    const value = JSON.parse(spec.SecretStringTemplate) as Record<string, unknown>;
    value[spec.GenerateStringKey] = password;
    return JSON.stringify(value);
  }
  return password;
}

async function provideSecret(client: SecretsManagerClient, def: SecretDef): Promise<ProvidedResource> {
  let arn: string | undefined;
  let state = 'created';
  const value = secretValue(def);
  try {
    arn = (
      await client.send(
        new CreateSecretCommand({
          Name: def.name,
          ...(value === undefined ? {} : { SecretString: value }),
          ...(typeof def.properties.Description === 'string'
            ? { Description: def.properties.Description }
            : {}),
        }),
      )
    ).ARN;
  } catch (error) {
    if ((error as Error).name !== 'ResourceExistsException') {
      throw new Error(
        `AWS::SecretsManager::Secret ${def.logicalId}: CreateSecret ${def.name} failed: ${(error as Error).message}`,
      );
    }
    state = 'exists, reused with its value';
  }
  arn ??= (await client.send(new DescribeSecretCommand({ SecretId: def.name }))).ARN;
  const how =
    state !== 'created'
      ? ''
      : typeof def.properties.SecretString === 'string'
        ? ', SecretString'
        : value === undefined
          ? ', no value'
          : ', value generated from GenerateSecretString';
  return {
    logicalId: def.logicalId,
    type: 'AWS::SecretsManager::Secret',
    ref: arn as string,
    attributes: { Id: arn as string },
    detail: `secret ${def.name} (${state}${how})`,
  };
}

// ---- the start-up report --------------------------------------------------------------------------------------

/** Variables of the functions that refer to a resource, with each one's effective value. */
function variablesReferring(
  logicalId: string,
  functions: Map<string, FunctionDef>,
  environments: Map<string, Record<string, string>>,
): Map<string, { value: string; given: boolean; functions: string[] }> {
  const out = new Map<string, { value: string; given: boolean; functions: string[] }>();
  for (const def of functions.values()) {
    for (const [name, ids] of Object.entries(def.environmentRefs)) {
      if (!ids.includes(logicalId)) continue;
      const value = environments.get(def.logicalId)?.[name] ?? def.environment[name] ?? '';
      // Overridden (envOverrides, functionEnv, --env): not the template's value.
      const given = value !== (def.environment[name] ?? '');
      const entry = out.get(name) ?? { value, given, functions: [] };
      entry.functions.push(def.logicalId);
      out.set(name, entry);
    }
  }
  return out;
}

/**
 * The start-up lines about the template's resources: what was created on the endpoint, and every resource
 * that is not provided with what it means for the functions that refer to it.
 */
export function describeResources(
  template: TemplateModel,
  provided: Record<string, ProvidedResource>,
  endpoint: AwsEndpoint | undefined,
  environments: Map<string, Record<string, string>>,
): string[] {
  const lines: string[] = [];
  const unreferenced = new Map<string, string[]>();
  for (const [logicalId, type] of template.resourceTypes) {
    const given = provided[logicalId];
    if (given) {
      lines.push(`${type} ${logicalId}: ${given.detail}`);
      continue;
    }
    if (EMULATED_TYPES.has(type) || type.startsWith('AWS::ApiGatewayV2::')) continue;
    if (NO_LOCAL_EFFECT.some((pattern) => pattern.test(type))) continue;
    const variables = variablesReferring(logicalId, template.functions, environments);
    const why =
      PROVIDED_TYPES.has(type) && !endpoint
        ? 'not created (no AWS endpoint: set AWS_ENDPOINT_URL, or --aws moto to start one)'
        : 'not provided';
    if (variables.size === 0) {
      unreferenced.set(why, [...(unreferenced.get(why) ?? []), `${type} ${logicalId}`]);
      continue;
    }
    const who = (functions: string[]) =>
      functions.length === template.functions.size && functions.length > 1
        ? 'every function'
        : functions.join(', ');
    const described = [...variables].map(
      ([name, v]) =>
        `${name} ${v.given ? 'is' : 'resolves to'} '${v.value}' (${who(v.functions)}${v.given ? ', given' : ''})`,
    );
    const names = [...variables].filter(([, v]) => !v.given).map(([name]) => name);
    const fix =
      (PROVIDED_TYPES.has(type) && !endpoint) || names.length === 0
        ? ''
        : ` — set ${names.length === 1 ? 'it' : 'them'} with --env ${names[0]}=… (envOverrides) if the functions need ${type.startsWith('AWS::ElastiCache') ? 'the cache' : 'it'}`;
    lines.push(`${type} ${logicalId}: ${why}; ${described.join(', ')}${fix}`);
  }
  for (const [why, resources] of unreferenced) {
    lines.push(`${why}, and no function's environment refers to them: ${resources.join(', ')}`);
  }
  if (endpoint)
    lines.unshift(
      `on ${endpoint.endpoint} (${endpoint.origin}); the functions get AWS_ENDPOINT_URL=${endpoint.endpoint}`,
    );
  return lines;
}
