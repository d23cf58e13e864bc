/**
 * Third-party fixture `dynamodb-chat` (test/fixtures/third-party/dynamodb-chat), the shape of the AWS samples'
 * chat app: `.mjs` handlers (a top-level `await` on a DynamoDB client), only the runtime's SDK
 * (`@aws-sdk/client-dynamodb`, `@aws-sdk/client-apigatewaymanagementapi`; `@aws-sdk/lib-dynamodb` in
 * whoisonline), the connections table (`connectionId` key, TTL) named by `!Ref`, `StageName: Prod`, the
 * management endpoint built from `requestContext.domainName` + `stage`, a broadcast that deletes connections
 * answered 410. Run as a user runs it: `AWS_ENDPOINT_URL=<moto> npm run emulator -- --template …` (the emulator
 * creates the table there); skipped, saying why, without a moto server.
 */
import { join } from 'node:path';
import {
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { type AwsEndpoint, findMotoServer, startMotoServer } from '../../../local/resources';
import { type Cli, Conformance, copyApp, open, ROOT, runCli, type Socket, until } from './support';

const moto = findMotoServer([ROOT]);
const skipReason = moto
  ? undefined
  : `no moto_server (${join(ROOT, '.venv', 'bin', 'moto_server')}, MOTO_SERVER or PATH): bash scripts/venv.sh installs it`;
if (skipReason) console.warn(`test/emulator/third-party/dynamodb-chat.test.ts skipped: ${skipReason}`);

const TABLE = 'chat_room_connections';
const conformance = new Conformance('dynamodb-chat');

(skipReason ? describe.skip : describe)(
  'third-party app: dynamodb-chat (ESM, DynamoDB on moto, Prod)',
  () => {
    const app = copyApp('dynamodb-chat');
    let aws: AwsEndpoint;
    let dynamodb: DynamoDBClient;
    let cli: Cli;
    let url: string;

    const names = async (): Promise<string[]> =>
      ((await dynamodb.send(new ScanCommand({ TableName: TABLE }))).Items ?? []).map(
        (item) => item.name?.S as string,
      );
    const connectionIds = async (): Promise<string[]> =>
      ((await dynamodb.send(new ScanCommand({ TableName: TABLE }))).Items ?? [])
        .map((item) => item.connectionId?.S as string)
        .sort();

    beforeAll(async () => {
      aws = await startMotoServer(moto as string);
      dynamodb = new DynamoDBClient({
        endpoint: aws.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      });
      // As a user runs it: AWS_ENDPOINT_URL=… npm run emulator -- --template …/template.yaml --port 0
      cli = runCli(['--template', app.template, '--port', '0'], { AWS_ENDPOINT_URL: aws.endpoint });
      url = await cli.ready(20_000);
    }, 40_000);
    afterAll(async () => {
      const code = await cli?.stop();
      dynamodb?.destroy();
      await aws?.stop();
      app.remove();
      expect(code).toBe(0);
    });

    it('creates the connections table on AWS_ENDPOINT_URL before serving /Prod, and says so', async () => {
      const path = new URL(url).pathname;
      conformance.record('stage-from-template', path === '/Prod' ? 'the StageName' : path);
      expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/Prod$/);
      const output = cli.output();
      expect(output).toContain(`resources: on ${aws.endpoint} (AWS_ENDPOINT_URL)`);
      expect(output).toMatch(
        /resources: AWS::DynamoDB::Table ConnectionsTable: table chat_room_connections \(created\)[^\n]*TTL on expiresAt/,
      );
      expect(output).toContain('stage Prod: the StageName of Stage (AWS::ApiGatewayV2::Stage of ChatSocket)');
      const table = (await dynamodb.send(new DescribeTableCommand({ TableName: TABLE }))).Table;
      expect(table?.KeySchema).toEqual([{ AttributeName: 'connectionId', KeyType: 'HASH' }]);
      const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: TABLE }));
      expect(ttl.TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
    });

    it('connect (ESM, top-level await, the runtime’s client-dynamodb), broadcast to every connection, disconnect', async () => {
      const people = ['ada', 'bo', 'cy'];
      const sockets: Socket[] = [];
      for (const name of people) sockets.push(await open(`${url}?name=${name}`));
      const ids = await until(async () => {
        const found = await connectionIds();
        return found.length === 3 ? found : undefined;
      }, 'three connection items');
      conformance.record('esm-top-level-await', 'loads');
      conformance.record('runtime-sdk-client', 'resolves');
      const item = (
        await dynamodb.send(
          new GetItemCommand({ TableName: TABLE, Key: { connectionId: { S: ids[0] as string } } }),
        )
      ).Item;
      // The TTL attribute the handler learnt at init (top-level await of DescribeTimeToLive), about 2 h ahead.
      expect(Number(item?.expiresAt?.N) - Date.now() / 1000).toBeGreaterThan(7000);

      (sockets[1] as Socket).send({ action: 'sendmessage', data: 'hello room' });
      const received = await Promise.all(
        sockets.map((s) => s.next(8000).catch((error: Error) => `nothing: ${error.message}`)),
      );
      conformance.record(
        'management-post-domain-name',
        received.every((frame) => frame === '{"from":"bo","text":"hello room"}')
          ? 'delivered'
          : received.join(' | ').slice(0, 160),
      );
      expect(received.map((frame) => JSON.parse(frame))).toEqual(
        people.map(() => ({ from: 'bo', text: 'hello room' })),
      );
      await until(
        () => /sendmessage SendMessageFunction \S+ 200 \d+ms/.test(cli.output()),
        'the sendmessage line',
      );

      await (sockets[2] as Socket).close();
      const left = await until(async () => {
        const found = await connectionIds();
        return found.length === 2 ? found : undefined;
      }, '$disconnect deleting the item').catch(() => undefined);
      expect(left).toHaveLength(2);
      for (const socket of sockets.slice(0, 2)) await socket.close();
    });

    it('a stale connection (410 GoneException from the management API) is deleted during a broadcast', async () => {
      const socket = await open(`${url}?name=dee`);
      await until(async () => (await names()).includes('dee'), 'dee’s item');
      const stale = 'ZZZstaleZZZ0001=';
      await dynamodb.send(
        new PutItemCommand({ TableName: TABLE, Item: { connectionId: { S: stale }, name: { S: 'ghost' } } }),
      );
      socket.send({ action: 'sendmessage', data: 'anyone?' });
      expect(JSON.parse(await socket.next(8000))).toEqual({ from: 'dee', text: 'anyone?' });
      const cleaned = await until(
        async () => !(await connectionIds()).includes(stale),
        'the stale item deleted',
      ).catch(() => false);
      conformance.record('management-post-gone', cleaned ? '410 GoneException' : 'not 410');
      expect(cleaned).toBe(true);
      expect(cli.output()).toContain(`Found stale connection, deleting ${stale}`);
      await socket.close();
    });

    // The Lambda Node.js runtime ships @aws-sdk/lib-dynamodb (DynamoDBDocumentClient): the emulator provides it too.
    it('resolves @aws-sdk/lib-dynamodb from the runtime SDK: whoisonline answers the names online', async () => {
      const socket = await open(`${url}?name=eve`);
      try {
        socket.send({ action: 'whoisonline' });
        const frame = await socket.next(8000);
        const cannotFind = /Cannot find (module|package) '@aws-sdk\/lib-dynamodb'/.test(cli.output());
        conformance.record(
          'runtime-sdk-lib-dynamodb',
          cannotFind ? 'Cannot find module (init error)' : 'resolves',
        );
        if (cannotFind) {
          // A function whose init fails: what the caller of its route gets.
          const answer = JSON.parse(frame) as { message?: string };
          conformance.record('route-init-error', `{"message": "${answer.message}", …} frame`);
          console.warn(
            'dynamodb-chat whoisonline: the emulator does not provide @aws-sdk/lib-dynamodb, which the Lambda Node.js runtime ships',
          );
        }
        expect(JSON.parse(frame)).toEqual({ online: ['eve'] });
      } finally {
        await socket.close();
      }
    });
  },
);
