/**
 * `$connect`: store the member and announce `join` to the room when it is the user's first connection.
 * While it runs, API Gateway answers 410 to posts to this connection; the member is marked as connecting
 * so that such a 410 (from another member's broadcast) does not prune it, and unmarked at the end.
 */
import {
  broadcasterFor,
  callerOf,
  connectionHandler,
  fanout,
  presenceFrame,
  roomStore,
} from '@classroom/shared';

export const handler = connectionHandler('$connect', async (event, context) => {
  const caller = callerOf(event);
  const store = await roomStore();
  const { others, firstForUser } = await store.addMember(
    caller.classRoomId,
    caller.connectionId,
    caller.member,
  );
  if (firstForUser && others.length > 0) {
    // The new socket is not open yet (a post to it would get 410), so only the others hear the join.
    await fanout(
      store,
      broadcasterFor(event, context),
      caller.classRoomId,
      others,
      presenceFrame('join', caller.member),
    );
  }
  // From here a 410 for this connection means it is gone (before, that it was still connecting).
  await store.joined(caller.classRoomId, caller.connectionId);
  return { statusCode: 200, body: '' };
});
