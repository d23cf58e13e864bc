/** `$disconnect` (best effort on AWS): remove the connection; announce `leave` when the user has none left. */
import {
  broadcasterFor,
  callerOf,
  connectionHandler,
  fanout,
  logger,
  presenceFrame,
  roomStore,
} from '@classroom/shared';

export const handler = connectionHandler('$disconnect', async (event, context) => {
  const caller = callerOf(event);
  const store = await roomStore();
  const { remaining, goneMembers } = await store.removeMembers(caller.classRoomId, [caller.connectionId]);
  logger.info('disconnected', {
    statusCode: event.requestContext.disconnectStatusCode,
    reason: event.requestContext.disconnectReason,
  });
  if (goneMembers.length > 0 && remaining.length > 0) {
    const broadcaster = broadcasterFor(event, context);
    for (const member of goneMembers) {
      await fanout(store, broadcaster, caller.classRoomId, remaining, presenceFrame('leave', member), {
        announceLeaves: false,
      });
    }
  }
  return { statusCode: 200, body: '' };
});
