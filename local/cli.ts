/**
 * Command line of the local WebSocket gateway: `tsx local/cli.ts --template template.yaml …`.
 * Run with --help for the options.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Gateway, type GatewayAddress } from './gateway';

const HELP = `Local API Gateway WebSocket emulator for a SAM template.

Usage: tsx local/cli.ts [options]

  --template <path>        SAM/CloudFormation template (default: template.yaml)
  --port <n>               port on 127.0.0.1 (default: $PORT or 3001; 0 = any free port)
  --host <addr>            loopback address to bind: 127.0.0.1 (default), ::1 or localhost
  --stage <name>           stage in the URL (default: the StageName of the API's AWS::ApiGatewayV2::Stage,
                           else local)
  --api <logicalId>        the WebSocket API to serve when the template has several
  --api-id <id>            requestContext.apiId (default: random)
  --region <name>          AWS::Region (default: $AWS_REGION or us-east-1)
  --account-id <id>        AWS::AccountId (default: 123456789012)
  --stack-name <name>      AWS::StackName (default: local)
  --param <Key=Value>      template parameter override (repeatable)
  --parameter-overrides <"K=V K2=V2">  several overrides at once, as sam does
  --env-vars <file>        JSON as for 'sam local': {"Parameters": {..all functions..}, "<FunctionId>": {..}}
  --env <KEY=VALUE>        variable for every function (repeatable; wins over --env-vars Parameters)
                           In values, {{managementEndpoint}}, {{url}} and {{port}} are replaced by the
                           gateway's, e.g. --env MANAGEMENT_ENDPOINT={{managementEndpoint}}
  --no-dummy-credentials   do not set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY=local when none are set
  --idle-timeout <s>       idle connection timeout in seconds (default: 600)
  --hard-timeout <s>       maximum connection duration in seconds (default: 7200)
  --max-frame-bytes <n>    frame limit (default: 32768)
  --max-message-bytes <n>  message limit (default: 131072)
  --integration-timeout <ms>  integration timeout when the template sets none (default: 29000)
  --watch                  reload handlers when files under CodeUri/ContentUri change
  --preload                load every function at start (fail fast on import errors)
  --aws <moto|url>         create the template's DynamoDB tables, SQS queues and Secrets Manager secrets
                           on this AWS endpoint before serving, and give it to the functions as
                           AWS_ENDPOINT_URL; "moto" starts a moto server from .venv/bin/moto_server
                           (default: $AWS_ENDPOINT_URL; none when unset)
  --no-aws                 do not create them, even with AWS_ENDPOINT_URL set
  --sqs-endpoint <url>     SQS-compatible endpoint feeding the SQS event sources
                           (default: $SQS_ENDPOINT, else the --aws endpoint)
  --queue-url <Id=URL>     use this queue URL for a queue logical id instead of creating it (repeatable)
  --sqs-wait <s>           long-poll wait in seconds (default: 20)
  -h, --help               this text

WebSocket API:  ws://127.0.0.1:PORT/STAGE
Management API: http://127.0.0.1:PORT/STAGE/@connections/{connectionId}  (POST, GET, DELETE)
`;

function pairs(values: string[] | undefined, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values ?? []) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new Error(`${what}: expected KEY=VALUE, got "${value}"`);
    out[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return out;
}

function number(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`${what}: expected a non-negative number, got "${value}"`);
  return n;
}

function fill(env: Record<string, string>, address: GatewayAddress): Record<string, string> {
  const values: Record<string, string> = {
    managementEndpoint: address.managementEndpoint,
    url: address.url,
    port: String(address.port),
  };
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      v.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => values[name] ?? whole),
    ]),
  );
}

function stringMap(value: unknown, what: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${what} must be an object`);
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      template: { type: 'string', default: 'template.yaml' },
      port: { type: 'string' },
      host: { type: 'string' },
      stage: { type: 'string' },
      api: { type: 'string' },
      'api-id': { type: 'string' },
      region: { type: 'string' },
      'account-id': { type: 'string' },
      'stack-name': { type: 'string' },
      param: { type: 'string', multiple: true },
      'parameter-overrides': { type: 'string' },
      'env-vars': { type: 'string' },
      env: { type: 'string', multiple: true },
      'no-dummy-credentials': { type: 'boolean' },
      'idle-timeout': { type: 'string' },
      'hard-timeout': { type: 'string' },
      'max-frame-bytes': { type: 'string' },
      'max-message-bytes': { type: 'string' },
      'integration-timeout': { type: 'string' },
      watch: { type: 'boolean' },
      preload: { type: 'boolean' },
      aws: { type: 'string' },
      'no-aws': { type: 'boolean' },
      'sqs-endpoint': { type: 'string' },
      'queue-url': { type: 'string', multiple: true },
      'sqs-wait': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }

  const parameterOverrides = {
    ...pairs(values['parameter-overrides']?.split(/\s+/).filter(Boolean), '--parameter-overrides'),
    ...pairs(values.param, '--param'),
  };
  let shared: Record<string, string> = {};
  const functionEnv: Record<string, Record<string, string>> = {};
  if (values['env-vars']) {
    const file = JSON.parse(readFileSync(values['env-vars'], 'utf8')) as Record<string, unknown>;
    for (const [key, value] of Object.entries(file)) {
      if (key === 'Parameters') shared = stringMap(value, `${values['env-vars']}: Parameters`);
      else functionEnv[key] = stringMap(value, `${values['env-vars']}: ${key}`);
    }
  }
  shared = { ...shared, ...pairs(values.env, '--env') };
  const idle = number(values['idle-timeout'], '--idle-timeout');
  const hard = number(values['hard-timeout'], '--hard-timeout');

  const gateway = await Gateway.start({
    templatePath: values.template as string,
    port: number(values.port ?? process.env.PORT, '--port') ?? 3001,
    host: values.host,
    // The template's stage unless given (the AWS samples serve /Prod).
    stage: values.stage,
    apiLogicalId: values.api,
    apiId: values['api-id'],
    region: values.region ?? process.env.AWS_REGION,
    accountId: values['account-id'],
    stackName: values['stack-name'],
    parameterOverrides,
    envOverrides: (address) => fill(shared, address),
    functionEnv: (address) =>
      Object.fromEntries(Object.entries(functionEnv).map(([id, env]) => [id, fill(env, address)])),
    dummyCredentials: !values['no-dummy-credentials'],
    idleTimeoutMs: idle === undefined ? undefined : idle * 1000,
    hardTimeoutMs: hard === undefined ? undefined : hard * 1000,
    maxFrameBytes: number(values['max-frame-bytes'], '--max-frame-bytes'),
    maxMessageBytes: number(values['max-message-bytes'], '--max-message-bytes'),
    integrationTimeoutMs: number(values['integration-timeout'], '--integration-timeout'),
    watch: values.watch,
    preload: values.preload,
    aws: values['no-aws'] ? false : values.aws,
    sqsEndpoint: values['sqs-endpoint'],
    queueUrls: pairs(values['queue-url'], '--queue-url'),
    sqsWaitTimeSeconds: number(values['sqs-wait'], '--sqs-wait'),
  });
  console.log(`[gateway] ready: ${gateway.url} (management API ${gateway.managementEndpoint})`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`[gateway] ${signal}: closing connections…`);
    gateway.close().then(
      () => process.exit(0),
      (error: Error) => {
        console.error(`[gateway] close failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: Error) => {
  for (const line of error.message.split('\n')) console.error(`[gateway] ${line}`);
  process.exit(1);
});
