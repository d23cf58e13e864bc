/**
 * `sam build && sam deploy` of template.yaml, unchanged, to a LocalStack-compatible emulator on this machine, then
 * the integration suite against the deployed stack (SPEC §8, §9):
 *
 *   npm run deploy:emulator                  ministack (pinned in requirements-emulator.txt, in .venv/ministack)
 *                                            and a redis-server for its ElastiCache, on free 127.0.0.1 ports;
 *                                            reused when this script started them earlier and they still run
 *   EMULATOR_ENDPOINT=http://127.0.0.1:4566 npm run deploy:emulator
 *                                            an emulator that is already running (ministack, LocalStack)
 *   EMULATOR=localstack npm run deploy:emulator
 *                                            LocalStack from testcontainers (a container runtime and
 *                                            LOCALSTACK_AUTH_TOKEN needed; says why it is skipped otherwise)
 *   npm run deploy:emulator -- --no-test     deploy and print the URLs, no suite
 *   npm run deploy:emulator -- --store dynamodb
 *                                            the Store=DynamoDB configuration (ClassroomTable on the emulator's
 *                                            own DynamoDB, no cache, no VPC; stack <name>-dynamodb), then the
 *                                            suite on that store (jest project integration-dynamodb)
 *   npm run emulator:down                    stops what deploy:emulator started, nothing else
 *
 * A second deploy:emulator updates the stack in place. The deploy parameters are samconfig.toml's `emulator`
 * environment, plus the emulator's default VPC and subnets and the ManagementEndpoint, which names the API id:
 * on the first deploy it is known only once the API exists, so the stack is then updated once with it.
 * State (pids, ports, endpoint) is in .aws-sam/emulator/state.json, logs beside it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CloudFormationClient,
  DeleteStackCommand,
  DescribeStacksCommand,
  type Stack,
} from '@aws-sdk/client-cloudformation';
import { DescribeTimeToLiveCommand, DynamoDBClient, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseCfnYaml } from '../local/cfn-yaml';
import { freePort } from '../test/support/redis-server';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ROOT = join(__dirname, '..');
const DIR = join(ROOT, '.aws-sam', 'emulator');
const STATE_FILE = join(DIR, 'state.json');
const RESULTS_FILE = join(DIR, 'integration-results.json');
const MINISTACK = join(ROOT, '.venv', 'ministack', 'bin', 'ministack');
const PYTHON = join(ROOT, '.venv', 'bin', 'python');
const CONFIG_ENV = 'emulator';
const REGION = 'us-east-1';
/** Pinned LocalStack image with the WebSocket API and ElastiCache (its paid edition; override LOCALSTACK_PRO_IMAGE). */
const LOCALSTACK_PRO_IMAGE = process.env.LOCALSTACK_PRO_IMAGE ?? 'localstack/localstack-pro:4.4.0';

interface Started {
  pid: number;
  port: number;
  log: string;
  /** Scratch directory of the process (removed by emulator:down). */
  tmpDir?: string;
}

export interface EmulatorState {
  /** The emulator's endpoint (AWS_ENDPOINT_URL of the deploy). */
  endpoint: string;
  region: string;
  /** The stack deployed last (the integration suite's INTEGRATION_TARGET=emulator default). */
  stackName: string;
  /** Its store (default redis). */
  store?: Store;
  /** What this script started (emulator:down stops these and nothing else). */
  ministack?: Started;
  redis?: Started;
}

// ---- small helpers ----------------------------------------------------------------------------------

function log(line: string): void {
  console.log(`[emulator] ${line}`);
}

function readState(): EmulatorState | undefined {
  if (!existsSync(STATE_FILE)) return undefined;
  return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as EmulatorState;
}

function writeState(state: EmulatorState): void {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
}

/** Whether `pid` is alive and is the program we started (a recycled pid is someone else's). */
function isOurs(started: Started | undefined, program: string): boolean {
  if (!started) return false;
  try {
    process.kill(started.pid, 0);
    return readFileSync(`/proc/${started.pid}/cmdline`, 'utf8').includes(program);
  } catch {
    return false;
  }
}

/** The store the deployment runs on: ElastiCache (Redis; the template's default) or DynamoDB (Store=DynamoDB). */
export type Store = 'redis' | 'dynamodb';

/** `--store dynamodb` / `--store=dynamodb` (or `elasticache`, `redis`): the store to deploy. */
export function parseStore(flags: string[]): Store {
  const at = flags.findIndex((flag) => flag === '--store' || flag.startsWith('--store='));
  if (at < 0) return 'redis';
  const flag = flags[at] as string;
  const value = (
    flag.includes('=') ? flag.slice(flag.indexOf('=') + 1) : (flags[at + 1] ?? '')
  ).toLowerCase();
  if (value === 'dynamodb') return 'dynamodb';
  if (value === 'elasticache' || value === 'redis') return 'redis';
  throw new Error(`--store must be dynamodb or elasticache, not "${value}"`);
}

/** The stack of a store: samconfig's name (or EMULATOR_STACK_NAME), with `-dynamodb` for the DynamoDB one. */
function stackName(store: Store = 'redis'): string {
  const base = process.env.EMULATOR_STACK_NAME ?? samconfigValue('stack_name') ?? 'classroom-realtime';
  return store === 'dynamodb' && !process.env.EMULATOR_STACK_NAME ? `${base}-dynamodb` : base;
}

/** The AWS environment of every call to the emulator: its endpoint and dummy credentials, never a real profile. */
function awsEnv(endpoint: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('AWS_ENDPOINT_URL_') || key === 'AWS_PROFILE' || key === 'AWS_SESSION_TOKEN')
      delete env[key];
  }
  return {
    ...env,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    SAM_CLI_TELEMETRY: '0',
  };
}

function clientConfig(endpoint: string) {
  return { endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
}

/** Runs a command with inherited output; throws on a non-zero exit. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const result = spawnSync(command, args, { cwd: ROOT, env, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
  }
}

// ---- samconfig.toml's emulator environment ----------------------------------------------------------

function samconfigSection(name: string): string {
  const text = readFileSync(join(ROOT, 'samconfig.toml'), 'utf8');
  const start = text.indexOf(`[${CONFIG_ENV}.${name}.parameters]`);
  if (start < 0) return '';
  const rest = text.slice(start).split('\n').slice(1);
  const end = rest.findIndex((line) => line.startsWith('['));
  return (end < 0 ? rest : rest.slice(0, end)).join('\n');
}

function samconfigValue(key: string): string | undefined {
  const match = new RegExp(`^${key}\\s*=\\s*"([^"]*)"`, 'm').exec(samconfigSection('global'));
  return match?.[1];
}

/** `parameter_overrides` of [emulator.deploy.parameters], as a map. */
function samconfigParameters(): Map<string, string> {
  const block = /parameter_overrides\s*=\s*\[([^\]]*)\]/.exec(samconfigSection('deploy'))?.[1] ?? '';
  const parameters = new Map<string, string>();
  for (const [, pair] of block.matchAll(/"([^"]+)"/g)) {
    const at = (pair as string).indexOf('=');
    parameters.set((pair as string).slice(0, at), (pair as string).slice(at + 1));
  }
  return parameters;
}

// ---- processes we start -----------------------------------------------------------------------------

function spawnDetached(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
): ChildProcess {
  const out = openSync(logFile, 'a');
  // Its own process group: emulator:down stops it with everything it spawned (ministack's Node workers).
  const child = spawn(command, args, { cwd: DIR, env, detached: true, stdio: ['ignore', out, out] });
  child.unref();
  return child;
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, child: ChildProcess, logFile: string) {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}):\n${tail(logFile)}`);
    if (Date.now() > deadline) throw new Error(`${what} did not come up within 60 s:\n${tail(logFile)}`);
    await sleep(200);
  }
}

function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function emulatorAnswers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/_ministack/health`, { signal: AbortSignal.timeout(2000) });
    if (response.ok) return true;
    return (await fetch(`${endpoint}/_localstack/health`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

async function startRedis(): Promise<Started> {
  const port = await freePort();
  const logFile = join(DIR, 'redis.log');
  const child = spawnDetached(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', DIR],
    process.env,
    logFile,
  );
  await waitFor('redis-server', () => redisAnswers(port), child, logFile);
  return { pid: child.pid as number, port, log: logFile };
}

async function startMinistack(redisPort: number): Promise<Started> {
  const port = await freePort();
  const logFile = join(DIR, 'ministack.log');
  // Its scratch space (the functions' code and layers, unpacked): outside the project, so that a function
  // resolves nothing from the project's node_modules, as on Lambda.
  const tmpDir = mkdtempSync(join(tmpdir(), 'classroom-ministack-'));
  // A clean environment: ministack passes its own to every function it runs, under the template's variables.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    TMPDIR: tmpDir,
    STATE_DIR: join(tmpDir, 'state'),
    GATEWAY_PORT: String(port),
    BIND_HOST: '127.0.0.1',
    // Its ElastiCache answers with this endpoint when it cannot start a Redis container.
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(redisPort),
    // Listeners on other ports (0.0.0.0) this stack does not use.
    IOT_MTLS_ENABLED: '0',
    SFTP_ENABLED: '0',
    LAMBDA_EXECUTOR: 'local',
    LOG_LEVEL: process.env.MINISTACK_LOG_LEVEL ?? 'INFO',
  };
  const child = spawnDetached(MINISTACK, [], env, logFile);
  await waitFor('ministack', () => emulatorAnswers(`http://127.0.0.1:${port}`), child, logFile);
  return { pid: child.pid as number, port, log: logFile, tmpDir };
}

/** Stops a process this script started, with its process group (ministack's function workers). */
async function stopStarted(started: Started | undefined, program: string): Promise<void> {
  if (!started) return;
  if (isOurs(started, program)) {
    signalGroup(started.pid, 'SIGTERM');
    for (let i = 0; i < 50 && isOurs(started, program); i++) await sleep(100);
    // The workers of a function outlive a ministack that exits on SIGTERM: end the rest of the group.
    signalGroup(started.pid, 'SIGKILL');
    log(`stopped ${program} (pid ${started.pid}, port ${started.port})`);
  } else {
    log(`${program} (pid ${started.pid}) was no longer running`);
  }
  if (started.tmpDir) {
    // Function workers left behind (their code is unpacked under the scratch directory).
    killRunningFrom(started.tmpDir);
    rmSync(started.tmpDir, { recursive: true, force: true });
  }
}

/** SIGKILLs the processes whose command line names a path under `dir` (only ever our scratch directory). */
function killRunningFrom(dir: string): void {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${dir}/`))
        process.kill(Number(entry), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Signals the process group `pgid` (one this script created with a detached spawn); no-op when it is gone. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // no such process group
  }
}

/** The emulator to deploy to: EMULATOR_ENDPOINT, or ministack and redis-server started here (or earlier). */
async function ensureEmulator(store: Store): Promise<EmulatorState> {
  mkdirSync(DIR, { recursive: true });
  const previous = readState();
  const external = process.env.EMULATOR_ENDPOINT?.replace(/\/$/, '');
  if (external) {
    if (!(await emulatorAnswers(external))) throw new Error(`EMULATOR_ENDPOINT ${external} does not answer`);
    log(`using the emulator at ${external} (EMULATOR_ENDPOINT)`);
    const state: EmulatorState = { endpoint: external, region: REGION, stackName: stackName(store), store };
    // Keep what we started earlier on record, so emulator:down still stops it.
    writeState({ ...state, ministack: previous?.ministack, redis: previous?.redis });
    return state;
  }
  if (
    previous &&
    isOurs(previous.ministack, 'ministack') &&
    isOurs(previous.redis, 'redis-server') &&
    (await emulatorAnswers(previous.endpoint))
  ) {
    log(`reusing ministack at ${previous.endpoint} (pid ${previous.ministack?.pid}) and its redis-server`);
    return { ...previous, stackName: stackName(store), store };
  }
  if (previous) {
    await stopStarted(previous.ministack, 'ministack');
    await stopStarted(previous.redis, 'redis-server');
  }
  run('bash', ['scripts/venv.sh', 'emulator']);
  if (!existsSync(MINISTACK)) throw new Error(`${MINISTACK} is missing after bash scripts/venv.sh emulator`);
  const redis = await startRedis();
  let ministack: Started;
  try {
    ministack = await startMinistack(redis.port);
  } catch (error) {
    await stopStarted(redis, 'redis-server');
    throw error;
  }
  const state: EmulatorState = {
    endpoint: `http://127.0.0.1:${ministack.port}`,
    region: REGION,
    stackName: stackName(store),
    store,
    ministack,
    redis,
  };
  writeState(state);
  log(`started redis-server on 127.0.0.1:${redis.port} (pid ${redis.pid}), logs ${redis.log}`);
  log(`started ministack on ${state.endpoint} (pid ${ministack.pid}), logs ${ministack.log}`);
  return state;
}

// ---- the stack --------------------------------------------------------------------------------------

async function describeStack(cfn: CloudFormationClient, name: string): Promise<Stack | undefined> {
  try {
    return (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
  } catch (error) {
    if (/does not exist/.test(String((error as Error).message))) return undefined;
    throw error;
  }
}

function outputsOf(stack: Stack | undefined): Record<string, string> {
  return Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
}

/** The emulator's @connections endpoint of an API: its execute-api path, as ministack and LocalStack serve it. */
export function executeApiUrl(endpoint: string, apiId: string, stage: string, scheme = 'http'): string {
  const base = endpoint.replace(/^https?:/, `${scheme}:`).replace(/\/$/, '');
  return `${base}/_aws/execute-api/${apiId}/${stage}`;
}

/** The emulator's default VPC and two of its subnets (ExistingSubnets mode), read with boto3 from .venv. */
function defaultNetwork(endpoint: string): { vpcId: string; subnetIds: string[] } {
  const script = [
    'import boto3, json',
    "ec2 = boto3.client('ec2')",
    "vpcs = ec2.describe_vpcs(Filters=[{'Name': 'isDefault', 'Values': ['true']}])['Vpcs'] or ec2.describe_vpcs()['Vpcs']",
    "vpc = vpcs[0]['VpcId']",
    "subnets = ec2.describe_subnets(Filters=[{'Name': 'vpc-id', 'Values': [vpc]}])['Subnets']",
    "print(json.dumps({'vpcId': vpc, 'subnetIds': sorted(s['SubnetId'] for s in subnets)[:2]}))",
  ].join('\n');
  const result = spawnSync(PYTHON, ['-c', script], { env: awsEnv(endpoint), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`reading the emulator's default VPC failed: ${result.stderr}`);
  const network = JSON.parse(result.stdout) as { vpcId: string; subnetIds: string[] };
  if (network.subnetIds.length < 2) throw new Error(`the emulator's default VPC has fewer than 2 subnets`);
  return network;
}

function samDeploy(endpoint: string, stackName: string, parameters: Map<string, string>): void {
  const overrides = [...parameters].map(([key, value]) => `${key}=${value}`);
  run(
    'bash',
    [
      'scripts/sam.sh',
      'deploy',
      '--config-env',
      CONFIG_ENV,
      '--stack-name',
      stackName,
      '--region',
      REGION,
      '--parameter-overrides',
      ...overrides,
    ],
    awsEnv(endpoint),
  );
}

interface Deployed {
  state: EmulatorState;
  outputs: Record<string, string>;
  buildSeconds: number;
  deploySeconds: number;
}

async function deploy(state: EmulatorState): Promise<Deployed> {
  const cfn = new CloudFormationClient(clientConfig(state.endpoint));
  try {
    const buildStarted = Date.now();
    log('sam build (samconfig.toml environment "emulator", into .aws-sam/emulator/build)');
    run('bash', ['scripts/sam.sh', 'build', '--config-env', CONFIG_ENV], awsEnv(state.endpoint));
    const buildSeconds = (Date.now() - buildStarted) / 1000;

    const deployStarted = Date.now();
    let stack = await describeStack(cfn, state.stackName);
    if (
      stack &&
      /^(ROLLBACK_COMPLETE|ROLLBACK_FAILED|DELETE_FAILED|CREATE_FAILED)$/.test(stack.StackStatus ?? '')
    ) {
      log(`stack ${state.stackName} is ${stack.StackStatus} (a failed first deploy): deleting it first`);
      await cfn.send(new DeleteStackCommand({ StackName: state.stackName }));
      for (let i = 0; i < 120 && (await describeStack(cfn, state.stackName)); i++) await sleep(500);
      stack = undefined;
    }
    const parameters = samconfigParameters();
    if (state.store === 'dynamodb') {
      // No VPC, no cache: the network and cache parameters are ignored.
      parameters.set('Store', 'DynamoDB');
    } else {
      const network = defaultNetwork(state.endpoint);
      parameters.set('ExistingVpcId', network.vpcId);
      parameters.set('ExistingSubnetIds', network.subnetIds.join(','));
    }
    const stage = parameters.get('StageName') ?? 'emulator';
    const apiId = outputsOf(stack).WebSocketApiId;
    // Unknown before the API exists: the template's default (empty) until the update below.
    if (apiId) parameters.set('ManagementEndpoint', executeApiUrl(state.endpoint, apiId, stage));
    log(`sam deploy of stack ${state.stackName} to ${state.endpoint} (${stack ? 'update' : 'create'})`);
    samDeploy(state.endpoint, state.stackName, parameters);
    let outputs = outputsOf(await describeStack(cfn, state.stackName));
    const expected = executeApiUrl(state.endpoint, outputs.WebSocketApiId ?? '', outputs.StageName ?? stage);
    if (outputs.ManagementEndpoint !== expected) {
      log(`the management endpoint names the API id (${outputs.WebSocketApiId}): updating the stack with it`);
      parameters.set('ManagementEndpoint', expected);
      samDeploy(state.endpoint, state.stackName, parameters);
      outputs = outputsOf(await describeStack(cfn, state.stackName));
      if (outputs.ManagementEndpoint !== expected)
        throw new Error(`ManagementEndpoint output is ${outputs.ManagementEndpoint}, not ${expected}`);
    }
    if (outputs.TableName) await ensureTableTtl(state.endpoint, outputs.TableName);
    return { state, outputs, buildSeconds, deploySeconds: (Date.now() - deployStarted) / 1000 };
  } finally {
    cfn.destroy();
  }
}

/**
 * ministack's CloudFormation creates AWS::DynamoDB::Table without its TimeToLiveSpecification (1.5.33: the
 * table's DescribeTimeToLive says DISABLED after the deploy); CloudFormation on AWS enables it. Enabled here as
 * the template says, and said so. (The store treats an item past its expiresAt as absent either way: TTL
 * deletion is lazy on AWS too.)
 */
async function ensureTableTtl(endpoint: string, tableName: string): Promise<void> {
  const template = parseCfnYaml(readFileSync(join(ROOT, 'template.yaml'), 'utf8')) as {
    Resources: Record<string, { Properties?: { TimeToLiveSpecification?: { AttributeName?: string } } }>;
  };
  const attribute = template.Resources.ClassroomTable?.Properties?.TimeToLiveSpecification?.AttributeName;
  if (!attribute) return;
  const dynamodb = new DynamoDBClient(clientConfig(endpoint));
  try {
    const ttl = (await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName })))
      .TimeToLiveDescription;
    if (ttl?.TimeToLiveStatus === 'ENABLED' && ttl.AttributeName === attribute) return;
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
      }),
    );
    log(
      `the emulator created ${tableName} without its TimeToLiveSpecification (TTL ${ttl?.TimeToLiveStatus ?? 'unknown'}): enabled TTL on ${attribute} as the template says`,
    );
  } finally {
    dynamodb.destroy();
  }
}

async function jwtSecret(endpoint: string, secretId: string): Promise<string> {
  const sm = new SecretsManagerClient(clientConfig(endpoint));
  try {
    return (await sm.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString ?? '';
  } finally {
    sm.destroy();
  }
}

async function printDeployed({ state, outputs, buildSeconds, deploySeconds }: Deployed): Promise<void> {
  const wsUrl = executeApiUrl(state.endpoint, outputs.WebSocketApiId ?? '', outputs.StageName ?? '', 'ws');
  const secret = await jwtSecret(state.endpoint, outputs.JwtSecretArn ?? '');
  const quoted = `'${secret.replace(/'/g, "'\\''")}'`;
  const lines = [
    '',
    `Deployed stack ${state.stackName} to ${state.endpoint} (sam build ${buildSeconds.toFixed(1)} s, sam deploy ${deploySeconds.toFixed(1)} s)`,
    `  WebSocket URL        ${wsUrl}`,
    `  management endpoint  ${outputs.ManagementEndpoint}`,
    `  publish queue        ${outputs.PublishQueueUrl}`,
    outputs.TableName
      ? `  store                DynamoDB, table ${outputs.TableName} (Store=DynamoDB)`
      : `  store                ElastiCache (Redis), replication group ${outputs.ReplicationGroupId}`,
    `  token                JWT_SECRET=${quoted} npm run token -- --user alice --name Alice --role teacher --rooms room1`,
    `  client               JWT_SECRET=${quoted} npm run client -- --url ${wsUrl} --room room1 --user alice --role teacher`,
    outputs.TableName
      ? `  suite                INTEGRATION_TARGET=emulator TEST_DYNAMODB_ENDPOINT=${state.endpoint} TEST_TABLE_NAME=${outputs.TableName} npx jest --selectProjects integration-dynamodb`
      : `  suite                INTEGRATION_TARGET=emulator npm run test:integration`,
    `  stop                 npm run emulator:down`,
    '',
  ];
  console.log(lines.join('\n'));
}

// ---- the suite --------------------------------------------------------------------------------------

interface JestResults {
  numFailedTests: number;
  testResults: { assertionResults: { fullName: string; title: string; status: string }[] }[];
}

/** Runs the integration suite against the deployed stack; returns jest's exit code. */
function runSuite({ state, outputs }: Pick<Deployed, 'state' | 'outputs'>): number {
  // The DynamoDB stack: the suite's DynamoDB project, its table the stack's own on the emulator (its global
  // setup then starts no DynamoDB of its own).
  const dynamodb = state.store === 'dynamodb';
  const project = dynamodb ? 'integration-dynamodb' : 'integration';
  log(`integration suite against the deployed stack (INTEGRATION_TARGET=emulator, jest project ${project})`);
  rmSync(RESULTS_FILE, { force: true });
  const result = spawnSync(
    join(ROOT, 'node_modules', '.bin', 'jest'),
    ['--selectProjects', project, '--json', '--outputFile', RESULTS_FILE],
    {
      cwd: ROOT,
      stdio: 'inherit',
      env: {
        ...process.env,
        INTEGRATION_TARGET: 'emulator',
        EMULATOR_ENDPOINT: state.endpoint,
        EMULATOR_STACK_NAME: state.stackName,
        ...(dynamodb
          ? {
              TEST_STORE: 'dynamodb',
              TEST_DYNAMODB_ENDPOINT: state.endpoint,
              TEST_TABLE_NAME: outputs.TableName ?? '',
            }
          : {}),
      },
    },
  );
  if (existsSync(RESULTS_FILE)) {
    const results = JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as JestResults;
    const tests = results.testResults.flatMap((file) => file.assertionResults);
    const skipped = tests.filter((t) => t.title.startsWith('skipped: '));
    const passed = tests.filter((t) => t.status === 'passed').length - skipped.length;
    const failed = tests.filter((t) => t.status === 'failed').length;
    console.log('\nSkipped on the emulator deployment, with the reason:');
    for (const t of skipped) console.log(`  ${t.fullName}`);
    console.log(`emulator: ${passed} passed, ${failed} failed, ${skipped.length} skipped`);
  }
  return result.status ?? 1;
}

// ---- LocalStack -------------------------------------------------------------------------------------

/** Why the LocalStack deployment cannot run here, or undefined. */
async function localstackUnavailable(): Promise<string | undefined> {
  // Imported lazily: only this path probes for a container runtime.
  const { containerRuntimeUnavailable } = await import('../integration/support/containers');
  const runtime = containerRuntimeUnavailable();
  if (runtime) return runtime;
  if (!process.env.LOCALSTACK_AUTH_TOKEN)
    return "LOCALSTACK_AUTH_TOKEN is not set (the WebSocket API and ElastiCache are in LocalStack's paid edition)";
  return undefined;
}

async function localstack(test: boolean, store: Store): Promise<number> {
  const reason = await localstackUnavailable();
  if (reason) {
    log(`LocalStack deployment: skipped: ${reason}`);
    return 0;
  }
  const { LocalstackContainer } = await import('@testcontainers/localstack');
  log(`starting ${LOCALSTACK_PRO_IMAGE} (testcontainers)`);
  const container = await new LocalstackContainer(LOCALSTACK_PRO_IMAGE)
    .withEnvironment({ LOCALSTACK_AUTH_TOKEN: process.env.LOCALSTACK_AUTH_TOKEN ?? '' })
    // Its Lambda runs each function in a container of its own.
    .withBindMounts([{ source: '/var/run/docker.sock', target: '/var/run/docker.sock' }])
    .start();
  try {
    const state: EmulatorState = {
      endpoint: container.getConnectionUri(),
      region: REGION,
      stackName: stackName(store),
      store,
    };
    const deployed = await deploy(state);
    await printDeployed(deployed);
    return test ? runSuite(deployed) : 0;
  } finally {
    await container.stop();
  }
}

// ---- commands ---------------------------------------------------------------------------------------

async function deployCommand(test: boolean, store: Store): Promise<number> {
  if (process.env.EMULATOR === 'localstack') return localstack(test, store);
  const started = Date.now();
  const state = await ensureEmulator(store);
  const deployed = await deploy(state);
  // The suite's default target is the stack deployed last.
  writeState({ ...(readState() ?? state), stackName: state.stackName, store });
  await printDeployed(deployed);
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return test ? runSuite(deployed) : 0;
}

async function downCommand(): Promise<number> {
  const state = readState();
  if (!state) {
    log('nothing to stop (no .aws-sam/emulator/state.json)');
    return 0;
  }
  await stopStarted(state.ministack, 'ministack');
  await stopStarted(state.redis, 'redis-server');
  rmSync(STATE_FILE, { force: true });
  return 0;
}

async function main(): Promise<number> {
  const [command, ...flags] = process.argv.slice(2);
  if (command === 'deploy') return deployCommand(!flags.includes('--no-test'), parseStore(flags));
  if (command === 'down') return downCommand();
  console.error('usage: tsx scripts/emulator.ts deploy [--no-test] [--store dynamodb|elasticache] | down');
  return 2;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`[emulator] ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
