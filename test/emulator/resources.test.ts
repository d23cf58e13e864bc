/**
 * The template's other resources on a real moto server started from the project's venv (`aws: 'moto'`,
 * `.venv/bin/moto_server`): DynamoDB tables (key schema, GSI, LSI, TTL, billing mode), a SimpleTable, SQS
 * queues (FIFO, redrive), secrets (generated from a template, given), created before serving and seen through
 * DescribeTable/DescribeTimeToLive/GetQueueAttributes/GetSecretValue; `!Ref`/`!GetAtt` of them resolved in the
 * function's environment with AWS_ENDPOINT_URL; a function using them through the SDK with no endpoint in its
 * code; what is not provided listed at start; a second start reusing what exists; the stage of the template
 * (`Prod`, as the AWS samples' chat app has it).
 */
import { join } from 'node:path';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Gateway } from '../../local/gateway';
import { findMotoServer, generatePassword } from '../../local/resources';
import { connect } from './support/clients';

const TEMPLATE = join(__dirname, 'fixtures', 'resources', 'template.yaml');
const ROOT = join(__dirname, '..', '..');
const moto = findMotoServer([ROOT]);
const skipReason = moto
  ? undefined
  : `no moto_server (${join(ROOT, '.venv', 'bin', 'moto_server')}, MOTO_SERVER or PATH): bash scripts/venv.sh installs it`;
if (skipReason) console.warn(`test/emulator/resources.test.ts skipped: ${skipReason}`);

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

describe('Function: generatePassword (GenerateSecretString)', () => {
  it('has the length, excludes what is excluded and includes each included type', () => {
    for (let i = 0; i < 50; i++) {
      const password = generatePassword({
        PasswordLength: 12,
        ExcludePunctuation: true,
        ExcludeCharacters: 'abc',
      });
      expect(password).toMatch(/^[d-zA-Z0-9]{12}$/);
      expect(password).toMatch(/[a-z]/);
      expect(password).toMatch(/[A-Z]/);
      expect(password).toMatch(/[0-9]/);
    }
    expect(generatePassword({})).toHaveLength(32);
    expect(
      generatePassword({ ExcludeLowercase: true, ExcludeUppercase: true, ExcludePunctuation: true }),
    ).toMatch(/^[0-9]{32}$/);
  });
});

(skipReason ? describe.skip : describe)('Gateway: the template’s resources on moto (aws: "moto")', () => {
  let gateway: Gateway;
  const logs: string[] = [];
  let endpoint: string;
  let dynamodb: DynamoDBClient;

  beforeAll(async () => {
    gateway = await Gateway.start({
      templatePath: TEMPLATE,
      port: 0,
      aws: 'moto',
      logger: (line) => logs.push(line),
    });
    endpoint = gateway.awsEndpoint as string;
    dynamodb = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
  }, 60_000);
  afterAll(async () => {
    dynamodb?.destroy();
    await gateway?.close();
  });

  it('serves the template’s stage (Prod) on a moto server it started', () => {
    expect(gateway.url).toMatch(/\/Prod$/);
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(logs).toContainEqual(
      expect.stringMatching(
        /^resources: on http:\/\/127\.0\.0\.1:\d+ \(moto started from .*moto_server\); the functions get AWS_ENDPOINT_URL=/,
      ),
    );
  });

  it('creates the DynamoDB table with its key schema, GSI, billing mode and TTL', async () => {
    const table = (await dynamodb.send(new DescribeTableCommand({ TableName: 'fixture_connections' }))).Table;
    expect(table?.KeySchema).toEqual([{ AttributeName: 'connectionId', KeyType: 'HASH' }]);
    expect(table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table?.GlobalSecondaryIndexes).toEqual([
      expect.objectContaining({
        IndexName: 'byRoom',
        KeySchema: [
          { AttributeName: 'roomId', KeyType: 'HASH' },
          { AttributeName: 'joinedAt', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'ALL' },
      }),
    ]);
    const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: 'fixture_connections' }));
    expect(ttl.TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
    expect(logs).toContainEqual(
      'resources: AWS::DynamoDB::Table ConnectionsTable: table fixture_connections (created); GSI byRoom; TTL on expiresAt; StreamSpecification (NEW_IMAGE) ignored: DynamoDB stream event sources are not fed locally',
    );
  });

  it('creates a provisioned table with its LSI (named {stack}-{logicalId}) and the SimpleTable', async () => {
    const history = (await dynamodb.send(new DescribeTableCommand({ TableName: 'local-HistoryTable' })))
      .Table;
    expect(history?.ProvisionedThroughput).toMatchObject({ ReadCapacityUnits: 5, WriteCapacityUnits: 5 });
    expect(history?.LocalSecondaryIndexes).toEqual([
      expect.objectContaining({
        IndexName: 'byUser',
        KeySchema: [
          { AttributeName: 'roomId', KeyType: 'HASH' },
          { AttributeName: 'userId', KeyType: 'RANGE' },
        ],
      }),
    ]);
    const sessions = (await dynamodb.send(new DescribeTableCommand({ TableName: 'local-Sessions' }))).Table;
    expect(sessions?.KeySchema).toEqual([{ AttributeName: 'sessionId', KeyType: 'HASH' }]);
    expect(sessions?.AttributeDefinitions).toEqual([{ AttributeName: 'sessionId', AttributeType: 'S' }]);
  });

  it('creates the queues: FIFO, and one with its redrive policy to the dead-letter queue', async () => {
    const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials });
    try {
      const resources = gateway.resources;
      const fifo = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: resources.EventsQueue?.ref, AttributeNames: ['All'] }),
      );
      expect(resources.EventsQueue?.ref).toMatch(/\/EventsQueue\.fifo$/);
      expect(fifo.Attributes).toMatchObject({ FifoQueue: 'true', ContentBasedDeduplication: 'true' });
      const work = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: resources.WorkQueue?.ref, AttributeNames: ['All'] }),
      );
      expect(work.Attributes?.VisibilityTimeout).toBe('45');
      expect(JSON.parse(work.Attributes?.RedrivePolicy as string)).toEqual({
        deadLetterTargetArn: resources.DeadLetters?.attributes.Arn,
        maxReceiveCount: 4,
      });
    } finally {
      sqs.destroy();
    }
  });

  it('creates the secrets: one generated from its template and key, one given', async () => {
    const secrets = new SecretsManagerClient({ endpoint, region: 'us-east-1', credentials });
    try {
      const generated = await secrets.send(
        new GetSecretValueCommand({ SecretId: gateway.resources.ApiKeySecret?.ref }),
      );
      const value = JSON.parse(generated.SecretString as string);
      expect(value).toEqual({ user: 'app', password: expect.stringMatching(/^[A-Za-z0-9]{24}$/) });
      expect(generated.Name).toBe('local-ApiKeySecret');
      const plain = await secrets.send(new GetSecretValueCommand({ SecretId: 'fixture/plain' }));
      expect(plain.SecretString).toBe('s3cr3t');
      expect(plain.ARN).toBe(gateway.resources.PlainSecret?.ref);
    } finally {
      secrets.destroy();
    }
  });

  it('resolves !Ref/!GetAtt of them in the function’s environment, with AWS_ENDPOINT_URL', async () => {
    const client = await connect(gateway.url);
    client.send({ action: 'env' });
    const env = JSON.parse(await client.next(10_000));
    const resources = gateway.resources;
    const table = (await dynamodb.send(new DescribeTableCommand({ TableName: 'fixture_connections' }))).Table;
    expect(env).toMatchObject({
      AWS_ENDPOINT_URL: endpoint,
      TABLE: 'fixture_connections',
      TABLE_ARN: table?.TableArn,
      HISTORY: 'local-HistoryTable',
      SESSIONS: 'local-Sessions',
      EVENTS_URL: resources.EventsQueue?.ref,
      WORK_URL: resources.WorkQueue?.ref,
      WORK_ARN: resources.WorkQueue?.attributes.Arn,
      WORK_NAME: 'WorkQueue',
      API_KEY_ARN: resources.ApiKeySecret?.ref,
      PLAIN_ARN: resources.PlainSecret?.ref,
      REDIS_HOST: '',
    });
    expect(env.WORK_URL).toContain(endpoint.replace(/^http:\/\//, ''));
    expect(env.API_KEY_ARN).toMatch(/^arn:aws:secretsmanager:us-east-1:\d+:secret:local-ApiKeySecret-/);
    client.ws.close();
  });

  it('lets the function use them through the SDK with no endpoint in its code', async () => {
    const client = await connect(gateway.url);
    client.send({ action: 'use' });
    const used = JSON.parse(await client.next(15_000));
    expect(used).toEqual({ roomId: 'r1', secret: 's3cr3t', messageId: expect.any(String) });
    const items = await dynamodb.send(
      new GetItemCommand({
        TableName: 'fixture_connections',
        Key: { connectionId: { S: gateway.connectionIds()[0] as string } },
      }),
    );
    expect(items.Item?.roomId?.S).toBe('r1');
    client.ws.close();
  });

  it('lists at start what it does not provide, with what that means for the functions', () => {
    expect(logs).toContainEqual(
      "resources: AWS::ElastiCache::ReplicationGroup Cache: not provided; REDIS_HOST resolves to '' (AwsFunction) — set it with --env REDIS_HOST=… (envOverrides) if the functions need the cache",
    );
    // A log group has no local effect: not listed.
    expect(logs.join('\n')).not.toContain('LogGroup');
  });

  it('reuses what exists on a second start (same secret, same value)', async () => {
    const again: string[] = [];
    const second = await Gateway.start({
      templatePath: TEMPLATE,
      port: 0,
      aws: endpoint,
      logger: (line) => again.push(line),
    });
    try {
      expect(second.resources.ApiKeySecret?.ref).toBe(gateway.resources.ApiKeySecret?.ref);
      expect(second.resources.WorkQueue?.ref).toBe(gateway.resources.WorkQueue?.ref);
      expect(again).toContainEqual(
        expect.stringMatching(
          /^resources: AWS::DynamoDB::Table ConnectionsTable: table fixture_connections \(exists, reused/,
        ),
      );
      expect(again).toContainEqual(
        'resources: AWS::SecretsManager::Secret ApiKeySecret: secret local-ApiKeySecret (exists, reused with its value)',
      );
    } finally {
      await second.close();
    }
  }, 30_000);
});
