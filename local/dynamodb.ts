/**
 * A local DynamoDB for the `Store=DynamoDB` configuration of template.yaml: the endpoint is
 * `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`, else a moto server started from the project's venv
 * (`.venv/bin/moto_server`, `MOTO_SERVER`) on a free loopback port. The moto it starts applies one DynamoDB
 * request at a time (local/moto-atomic.py, moto's own server under a lock): moto's threaded server otherwise loses
 * concurrent updates of one item, which DynamoDB applies atomically. The tables are the template's own
 * `AWS::DynamoDB::Table` resources of that configuration, created through local/resources.ts (the same code the
 * gateway uses): there is no second schema here.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  type AwsEndpoint,
  awsEndpoint,
  findMotoServer,
  provideResources,
  startMotoServer,
} from './resources';
import { loadTemplate } from './template';

export const TEMPLATE_PATH = join(__dirname, '..', 'template.yaml');

/** The template parameter values of the DynamoDB configuration. */
export const DYNAMODB_PARAMETERS: Readonly<Record<string, string>> = { Store: 'DynamoDB' };

/** The table the store uses (SPEC §8, issue 17: one table, logical id ClassroomTable). */
export const TABLE_LOGICAL_ID = 'ClassroomTable';

export interface LocalDynamoDBOptions {
  /** Template to read (default: this project's template.yaml). */
  templatePath?: string;
  /** More parameter values (win over `Store=DynamoDB`). */
  parameterOverrides?: Record<string, string>;
  /**
   * Names the tables `{stackName}-{logicalId}` when the template sets no `TableName` (default `local`): a distinct
   * one per test run keeps runs apart on a shared endpoint.
   */
  stackName?: string;
  region?: string;
  /** An endpoint URL to use, or `moto` to start one; default: the environment, then moto. */
  endpoint?: string;
  log?: (line: string) => void;
}

export interface LocalDynamoDB {
  endpoint: string;
  /** Where the endpoint came from (`AWS_ENDPOINT_URL_DYNAMODB`, `moto started from …`). */
  origin: string;
  /** A moto server was started for it (it serves SQS and Secrets Manager too); false for a given endpoint. */
  started: boolean;
  region: string;
  /** The physical name of ClassroomTable. */
  tableName: string;
  /** Every table of the configuration, physical name by logical id. */
  tableNames: Record<string, string>;
  /** One line per table (what was created, TTL, what was left out locally). */
  details: string[];
  /** The variables a function (or a test) needs to reach it: `AWS_ENDPOINT_URL_DYNAMODB`, `TABLE_NAME`. */
  env: Record<string, string>;
  /** Stops the moto server when one was started; leaves a given endpoint and its tables alone. */
  stop(): Promise<void>;
}

/** The endpoint the environment names: `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`. */
export function environmentEndpoint(
  env: NodeJS.ProcessEnv = process.env,
): { url: string; origin: string } | undefined {
  if (env.AWS_ENDPOINT_URL_DYNAMODB)
    return { url: env.AWS_ENDPOINT_URL_DYNAMODB, origin: 'AWS_ENDPOINT_URL_DYNAMODB' };
  if (env.AWS_ENDPOINT_URL) return { url: env.AWS_ENDPOINT_URL, origin: 'AWS_ENDPOINT_URL' };
  return undefined;
}

/** Reaches (or starts) the endpoint and creates the template's tables of the DynamoDB configuration there. */
export async function startLocalDynamoDB(options: LocalDynamoDBOptions = {}): Promise<LocalDynamoDB> {
  const templatePath = options.templatePath ?? TEMPLATE_PATH;
  const region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const parameterOverrides = { ...DYNAMODB_PARAMETERS, ...options.parameterOverrides };
  const model = loadTemplate(templatePath, {
    parameterOverrides,
    region,
    stackName: options.stackName ?? 'local',
  });
  if (model.tables.size === 0)
    throw new Error(
      `${templatePath}: no AWS::DynamoDB::Table with ${Object.entries(parameterOverrides)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}`,
    );
  const given = options.endpoint
    ? { url: options.endpoint, origin: 'the endpoint option' }
    : environmentEndpoint();
  const aws: AwsEndpoint = given
    ? ((await awsEndpoint(given.url, [model.dir], given.origin)) as AwsEndpoint)
    : await startAtomicMoto(model.dir);
  try {
    // Only the tables: the configuration's queues and secrets are the gateway's business.
    const provided = await provideResources(
      { ...model, queues: new Map(), secrets: new Map() },
      { endpoint: aws.endpoint, log: options.log ?? (() => {}) },
    );
    const tableNames: Record<string, string> = {};
    for (const def of model.tables.values())
      tableNames[def.logicalId] = provided[def.logicalId]?.ref ?? def.name;
    const tableName = tableNames[TABLE_LOGICAL_ID];
    if (!tableName)
      throw new Error(
        `${templatePath}: no ${TABLE_LOGICAL_ID} with Store=DynamoDB (tables: ${Object.keys(tableNames).join(', ')})`,
      );
    const details = Object.values(provided).map((p) => `${p.type} ${p.logicalId}: ${p.detail}`);
    for (const line of details) options.log?.(line);
    return {
      endpoint: aws.endpoint,
      origin: aws.origin,
      started: !given,
      region,
      tableName,
      tableNames,
      details,
      env: { AWS_ENDPOINT_URL_DYNAMODB: aws.endpoint, TABLE_NAME: tableName, STORE: 'dynamodb' },
      stop: () => aws.stop(),
    };
  } catch (error) {
    await aws.stop();
    throw error;
  }
}

export const MOTO_ATOMIC = join(__dirname, 'moto-atomic.py');

/**
 * A moto server applying one DynamoDB request at a time: local/moto-atomic.py run by the Python of the venv that
 * has moto_server. `MOTO_SERVER` (a server of the user's choice) is started as it is.
 */
async function startAtomicMoto(templateDir: string): Promise<AwsEndpoint> {
  if (process.env.MOTO_SERVER) return (await awsEndpoint('moto', [templateDir])) as AwsEndpoint;
  const moto = findMotoServer([templateDir, process.cwd(), join(__dirname, '..')]);
  const python = moto && join(dirname(moto), 'python');
  if (!python || !existsSync(python)) return (await awsEndpoint('moto', [templateDir])) as AwsEndpoint;
  const started = await startMotoServer(python, 30_000, [MOTO_ATOMIC]);
  return {
    ...started,
    origin: `moto started from ${python} ${MOTO_ATOMIC} (one DynamoDB request at a time)`,
  };
}
