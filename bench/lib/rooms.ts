/** What the benchmarks share to set up rooms and the handlers' environment. */
import { connectionId, type TestCaller, wsEvent } from '../../test/support/events';

/** The text of every bench chat message (81 characters, a chat line). */
export const BENCH_TEXT = 'The quick brown fox jumps over the lazy dog, again and again, for the benchmark.';

/** A sendMessage event from `caller`: a chat of `text` with `clientMsgId`. */
export function chatEvent(caller: TestCaller, clientMsgId: string, text = BENCH_TEXT) {
  return wsEvent(
    caller,
    'sendMessage',
    JSON.stringify({ action: 'sendMessage', kind: 'chat', data: { text }, clientMsgId }),
  );
}

/** The message a chat of `text` from `caller` becomes (what the store step's `messageParts` takes). */
export function chatMessage(caller: TestCaller, text = BENCH_TEXT) {
  return {
    classRoomId: caller.classRoomId,
    from: { userId: caller.userId, name: caller.name ?? caller.userId, role: caller.role ?? 'student' },
    kind: 'chat',
    data: { text },
  };
}

/** The environment every bench sets for the handlers beside its own (AWS client, quiet Powertools). */
export const BENCH_HANDLER_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  POWERTOOLS_METRICS_DISABLED: 'true',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
};

/** A maker of room members: member 0 is the teacher; user ids `${userPrefix}1`, `${userPrefix}2`, … */
export function memberMaker(userPrefix: string): (roomId: string, i: number) => TestCaller {
  let uid = 0;
  return (roomId, i) => ({
    connectionId: connectionId(),
    userId: `${userPrefix}${++uid}`,
    name: `User ${i}`,
    role: i === 0 ? 'teacher' : 'student',
    classRoomId: roomId,
  });
}

/** The store steps of $connect a room is seeded with (`joined` where the store has it). */
export interface SeedStore {
  addMember(
    roomId: string,
    connectionId: string,
    member: { userId: string; name: string; role: 'teacher' | 'student' },
  ): Promise<unknown>;
  joined?(roomId: string, connectionId: string): Promise<unknown>;
}

/** `size` members of `roomId` stored as $connect leaves them: the member stored, then its socket open. */
export async function seedRoom(
  store: SeedStore,
  roomId: string,
  size: number,
  member: (roomId: string, i: number) => TestCaller,
): Promise<TestCaller[]> {
  const members = Array.from({ length: size }, (_, i) => member(roomId, i));
  await Promise.all(
    members.map(async (m) => {
      await store.addMember(roomId, m.connectionId, {
        userId: m.userId,
        name: m.name ?? m.userId,
        role: m.role ?? 'student',
      });
      await store.joined?.(roomId, m.connectionId);
    }),
  );
  return members;
}
