/**
 * One store's side of bench/dynamodb.ts, in a child process of its own (the handlers read `STORE` once per
 * process): the real handlers (send-message, connect, disconnect, resume, presence, publish) on the store
 * the environment selects, posting to the parent's management endpoint (which answers at once).
 *
 * - latency: sendMessage to rooms of 30 (29 recipients), handler time per message, after a warm-up; each
 *   member waits at least 1/rate between its own messages (the rate limiter never answers).
 * - capacity (DynamoDB only): the request units of every DynamoDB call an operation makes, computed from item
 *   sizes (bench/lib/dynamodb-units.ts: moto reports constants) by a middleware on the handlers' own client,
 *   summed per operation and averaged: sendMessage to a room of 30, $connect to a room of 29, $disconnect
 *   from a room of 30, resume of 100 and of 20 messages, presence of a room of 30, a server publish (SQS
 *   record) to a room of 30.
 *
 * Input: argv[2] JSON (WorkerInput); output: one IPC message (WorkerOutput).
 */
import {
  type BatchWriteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import type { APIGatewayProxyResult, SQSEvent } from 'aws-lambda';
import { connectionId, lambdaContext, sqsRecord, type TestCaller, wsEvent } from '../test/support/events';
import type { Route } from '../test/support/harness';
import { type Item, itemSize, readUnits, writeUnits } from './lib/dynamodb-units';

export interface WorkerInput {
  store: 'redis' | 'dynamodb';
  /** Timed sendMessage samples (0: no latency part). */
  samples: number;
  warm: number;
  rooms: number;
  /** Measure request units per operation (DynamoDB). */
  capacity: boolean;
  /** Only the sendMessage units in a room at its history limit (ROOM_HISTORY_LIMIT set small by the parent). */
  atLimitOnly?: boolean;
}

export interface OperationUnits {
  wcu: number;
  rcu: number;
  calls: number;
  /** What moto's ConsumedCapacity said (constants), for the record. */
  motoReported: number;
  count: number;
}

export interface WorkerOutput {
  store: string;
  sendMs: number[];
  /** Timed sends answered `unavailable` (a store call timed out: moto on a busy machine); their time is kept. */
  unavailable: number;
  units: Record<string, OperationUnits>;
  /** Mean bytes of the stored items by kind (DynamoDB item size rules): `msg`, `conn`, `state`, `dd`. */
  itemBytes?: Record<string, number>;
  error?: string;
}

const TEXT = 'The quick brown fox jumps over the lazy dog, again and again, for the benchmark.';
export const ROOM_SIZE = 30;

interface Meter {
  wcu: number;
  rcu: number;
  calls: number;
  motoReported: number;
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '{}') as WorkerInput;
  const shared = await import('@classroom/shared');
  const load = async (dir: string) => (await import(`../functions/${dir}/index`)).handler as Route;
  const h = {
    send: await load('send-message'),
    connect: await load('connect'),
    disconnect: await load('disconnect'),
    resume: await load('resume'),
    presence: await load('presence'),
    publish: (await import('../functions/publish/index')).handler as unknown as (
      event: SQSEvent,
      context: ReturnType<typeof lambdaContext>,
    ) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>,
  };
  const settings = shared.roomSettings();
  const minGapMs = Math.ceil(1000 / settings.ratePerSecond) + 5;
  const endpoint = process.env.MANAGEMENT_ENDPOINT as string;
  const postCount = async () => Number(await (await fetch(`${endpoint}/_count`)).text());

  // ---- the capacity meter on the handlers' own DynamoDB client
  let meter: Meter | undefined;
  let partitionBytes: ((roomId: string) => Promise<Record<string, number>>) | undefined;
  if (input.store === 'dynamodb') {
    const raw = new DynamoDBClient({}); // same endpoint (AWS_ENDPOINT_URL_DYNAMODB), no middleware
    const table = process.env.TABLE_NAME as string;
    const sizeOf = async (Key: Item | undefined) =>
      Key
        ? itemSize((await raw.send(new GetItemCommand({ TableName: table, Key, ConsistentRead: true }))).Item)
        : 0;
    const keyOf = (item: Item | undefined): Item | undefined =>
      item?.pk && item.sk ? { pk: item.pk, sk: item.sk } : undefined;
    const readAll = async (query: QueryCommandInput) => {
      const { ProjectionExpression, FilterExpression, Select, ...rest } = query;
      const names = { ...(rest.ExpressionAttributeNames ?? {}) };
      const output = await raw.send(
        new QueryCommand({
          ...rest,
          ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
          ReturnConsumedCapacity: 'NONE',
        }),
      );
      return (output.Items ?? []).reduce((s, item) => s + itemSize(item), 0);
    };
    partitionBytes = async (roomId) => {
      const sizes = new Map<string, number[]>();
      let start: Item | undefined;
      do {
        const page = await raw.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': { S: `room#${roomId}` } },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of page.Items ?? []) {
          const kind = (item.sk?.S ?? '').split('#')[0] as string;
          sizes.set(kind, [...(sizes.get(kind) ?? []), itemSize(item)]);
        }
        start = page.LastEvaluatedKey;
      } while (start);
      return Object.fromEntries(
        [...sizes].map(([kind, list]) => [kind, list.reduce((a, b) => a + b, 0) / list.length]),
      );
    };
    const motoUnits = (output: unknown) => {
      const consumed = (output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      const list = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as {
        CapacityUnits?: number;
      }[];
      return list.reduce((s, c) => s + (c.CapacityUnits ?? 0), 0);
    };
    shared.getDynamo().middlewareStack.add(
      (next, context) => async (args) => {
        const m = meter;
        if (!m) return next(args);
        const command = (context as { commandName?: string }).commandName ?? '';
        // biome-ignore lint/suspicious/noExplicitAny: the command inputs differ by command
        const request = args.input as any;
        m.calls++;
        const conditionFailed = (error: unknown) =>
          error instanceof Error && error.name === 'ConditionalCheckFailedException';
        if (command === 'PutItemCommand' || command === 'UpdateItemCommand') {
          const key = command === 'PutItemCommand' ? keyOf(request.Item) : request.Key;
          const before = await sizeOf(key);
          try {
            const result = await next(args);
            const after = command === 'PutItemCommand' ? itemSize(request.Item) : await sizeOf(key);
            m.wcu += writeUnits(before, after);
            m.motoReported += motoUnits(result.output);
            return result;
          } catch (error) {
            if (conditionFailed(error)) m.wcu += writeUnits(before, 0);
            throw error;
          }
        }
        if (command === 'DeleteItemCommand') {
          const before = await sizeOf(request.Key);
          try {
            const result = await next(args);
            m.motoReported += motoUnits(result.output);
            m.wcu += writeUnits(before, 0);
            return result;
          } catch (error) {
            if (conditionFailed(error)) m.wcu += writeUnits(before, 0);
            throw error;
          }
        }
        if (command === 'BatchWriteItemCommand') {
          const requests = Object.values(
            (request as BatchWriteItemCommand['input']).RequestItems ?? {},
          ).flat();
          let units = 0;
          for (const r of requests) {
            if (r.PutRequest?.Item)
              units += writeUnits(await sizeOf(keyOf(r.PutRequest.Item)), itemSize(r.PutRequest.Item));
            else if (r.DeleteRequest?.Key) units += writeUnits(await sizeOf(r.DeleteRequest.Key), 0);
          }
          const result = await next(args);
          m.wcu += units;
          m.motoReported += motoUnits(result.output);
          return result;
        }
        const result = await next(args);
        m.motoReported += motoUnits(result.output);
        if (command === 'GetItemCommand') {
          const item = (result.output as { Item?: Item }).Item;
          const bytes = request.ProjectionExpression ? await sizeOf(request.Key) : itemSize(item);
          m.rcu += readUnits(bytes, request.ConsistentRead === true);
        } else if (command === 'QueryCommand') {
          const items = (result.output as { Items?: Item[] }).Items ?? [];
          const bytes =
            request.ProjectionExpression || request.FilterExpression || request.Select
              ? await readAll(request)
              : items.reduce((s, item) => s + itemSize(item), 0);
          m.rcu += readUnits(bytes, request.ConsistentRead === true);
        }
        return result;
      },
      { step: 'initialize', name: 'benchCapacityMeter' },
    );
  }

  const units: Record<string, OperationUnits> = {};
  /** Runs `fn` metered and adds its units to `name` (capacity runs only). */
  const metered = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    if (!input.capacity) return fn();
    meter = { wcu: 0, rcu: 0, calls: 0, motoReported: 0 };
    try {
      return await fn();
    } finally {
      const u = units[name] ?? { wcu: 0, rcu: 0, calls: 0, motoReported: 0, count: 0 };
      units[name] = u;
      u.wcu += meter.wcu;
      u.rcu += meter.rcu;
      u.calls += meter.calls;
      u.motoReported += meter.motoReported;
      u.count++;
      meter = undefined;
    }
  };

  // ---- rooms, joined through the real $connect
  let uid = 0;
  let roomCounter = 0;
  const member = (roomId: string, i: number): TestCaller => ({
    connectionId: connectionId(),
    userId: `u${++uid}`,
    name: `User ${uid}`,
    role: i === 0 ? 'teacher' : 'student',
    classRoomId: roomId,
  });
  const expectOk = (what: string, result: APIGatewayProxyResult | undefined) => {
    if (result?.statusCode !== 200) throw new Error(`${what} answered ${JSON.stringify(result)}`);
  };
  const connect = async (c: TestCaller) =>
    expectOk('$connect', await h.connect(wsEvent(c, '$connect'), lambdaContext('connect')));
  const disconnect = async (c: TestCaller) =>
    expectOk(
      '$disconnect',
      await h.disconnect(
        wsEvent(c, '$disconnect', undefined, { disconnectStatusCode: 1000, disconnectReason: 'bye' }),
        lambdaContext('disconnect'),
      ),
    );
  const makeRoom = async (size: number): Promise<TestCaller[]> => {
    const roomId = `bench-${input.store}-${process.pid}-${++roomCounter}`;
    const members = Array.from({ length: size }, (_, i) => member(roomId, i));
    for (const m of members) await connect(m);
    return members;
  };

  // ---- sendMessage through the handler
  const lastSent = new Map<string, number>();
  let unavailable = 0;
  let msg = 0;
  const send = async (caller: TestCaller, recipients: number, timed = false): Promise<number> => {
    const wait = (lastSent.get(caller.connectionId) ?? 0) + minGapMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const body = JSON.stringify({
      action: 'sendMessage',
      kind: 'chat',
      data: { text: TEXT },
      clientMsgId: `c${++msg}`,
    });
    const event = wsEvent(caller, 'sendMessage', body);
    const context = lambdaContext('sendMessage', 30_000);
    const before = timed ? await postCount() : 0;
    const t0 = process.hrtime.bigint();
    const result = await h.send(event, context);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    lastSent.set(caller.connectionId, Date.now());
    const frame = JSON.parse(result?.body || '{}') as { type?: string; code?: string };
    if (timed && frame.type === 'error' && frame.code === 'unavailable') {
      unavailable++;
      return ms;
    }
    if (frame.type !== 'ack') throw new Error(`sendMessage answered ${result?.body}`);
    if (timed) {
      const got = (await postCount()) - before;
      if (got !== recipients) throw new Error(`expected ${recipients} posts, got ${got}`);
    }
    return ms;
  };

  const sendMs: number[] = [];
  let itemBytes: Record<string, number> | undefined;
  if (input.samples > 0) {
    const rooms: TestCaller[][] = [];
    for (let r = 0; r < input.rooms; r++) rooms.push(await makeRoom(ROOM_SIZE));
    const all = rooms.flat();
    const pick = (i: number) => all[(i * 7) % all.length] as TestCaller; // rooms and members in turn
    for (let i = 0; i < input.warm; i++) await send(pick(i), ROOM_SIZE - 1);
    for (let i = 0; i < input.samples; i++)
      sendMs.push(await send(pick(i + input.warm), ROOM_SIZE - 1, true));
  }

  if (input.capacity && input.atLimitOnly) {
    // A room at its history limit: every message now also trims the oldest ones.
    const room = await makeRoom(ROOM_SIZE);
    for (let i = 0; i < settings.historyLimit + 10; i++) await send(room[i % ROOM_SIZE] as TestCaller, 0);
    for (let i = 0; i < 20; i++)
      await metered('send_room30_at_limit', () => send(room[i % ROOM_SIZE] as TestCaller, 0));
  } else if (input.capacity) {
    const room = await makeRoom(ROOM_SIZE);
    for (let i = 0; i < 2; i++) await send(room[i] as TestCaller, 0); // the room's state exists
    for (let i = 0; i < 10; i++)
      await metered('send_room30', () => send(room[(i + 2) % ROOM_SIZE] as TestCaller, 0));

    itemBytes = await partitionBytes?.(room[0]?.classRoomId as string);

    // $connect to a room of 29, then $disconnect from the room of 30 (announced to the 29).
    const small = await makeRoom(ROOM_SIZE - 1);
    for (let i = 0; i < 5; i++) {
      const joiner = member(small[0]?.classRoomId as string, 100 + i);
      await metered('connect', () => connect(joiner));
      await metered('disconnect', () => disconnect(joiner));
    }

    const listener = room[1] as TestCaller;
    for (let i = 0; i < 5; i++)
      await metered('presence_room30', async () =>
        expectOk(
          'presence',
          await h.presence(wsEvent(listener, 'presence', '{"action":"presence"}'), lambdaContext()),
        ),
      );

    // History: 110 messages in a room of 2, then resume of the last 100 and of the last 20.
    const pair = await makeRoom(2);
    const writer = pair[0] as TestCaller;
    for (let i = 0; i < 110; i++) await send(writer, 1);
    const reader = pair[1] as TestCaller;
    const all = await h.resume(
      wsEvent(reader, 'resume', JSON.stringify({ action: 'resume', afterSeq: 0 })),
      lambdaContext('resume'),
    );
    const lastSeq = (JSON.parse(all?.body || '{}') as { lastSeq?: number }).lastSeq ?? Number.NaN;
    if (!(lastSeq >= 110)) throw new Error(`resume: no lastSeq in ${all?.body?.slice(0, 200)}`);
    const resume = async (count: number) => {
      const result = await h.resume(
        wsEvent(reader, 'resume', JSON.stringify({ action: 'resume', afterSeq: lastSeq - count })),
        lambdaContext('resume'),
      );
      const frame = JSON.parse(result?.body || '{}') as { type?: string; messages?: unknown[] };
      if (frame.type !== 'history' || frame.messages?.length !== count)
        throw new Error(
          `resume of ${count}: got ${frame.type} with ${frame.messages?.length} messages (${result?.body?.slice(0, 200)})`,
        );
    };
    for (let i = 0; i < 5; i++) {
      await metered('resume_100', () => resume(100));
      await metered('resume_20', () => resume(20));
    }

    // Server publish (one SQS record) to the room of 30.
    for (let i = 0; i < 5; i++) {
      const before = await postCount();
      const result = await metered('publish_room30', () =>
        h.publish(
          {
            Records: [sqsRecord({ classRoomId: listener.classRoomId, kind: 'notice', data: { text: TEXT } })],
          },
          lambdaContext('publish'),
        ),
      );
      if (result.batchItemFailures.length > 0) throw new Error('publish: the record failed');
      if ((await postCount()) - before !== ROOM_SIZE) throw new Error('publish: wrong number of posts');
    }
  }

  const output: WorkerOutput = { store: input.store, sendMs, unavailable, units, itemBytes };
  process.send?.(output);
}

main()
  .catch((error: unknown) => {
    process.send?.({
      store: '',
      sendMs: [],
      unavailable: 0,
      units: {},
      error: String((error as Error)?.stack ?? error),
    });
  })
  .finally(() => {
    // Keep-alive sockets and the SDK clients would hold the process open.
    setTimeout(() => process.exit(0), 50);
  });
