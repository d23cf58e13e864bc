/**
 * `endClass` (teacher only): delete the room's state, send `classEnded` to every connection of the room,
 * then close them. Their `$disconnect` finds the room already gone and announces nothing.
 */
import {
  Action,
  broadcasterFor,
  callerOf,
  ErrorCode,
  errorFrame,
  logger,
  noReply,
  parseBody,
  reply,
  roomStore,
  route,
  type ServerFrame,
} from '@classroom/shared';

export const handler = route(Action.EndClass, async (event, context) => {
  const caller = callerOf(event);
  const body = parseBody(event.body);
  if (!body.ok) return reply({ ...body.error, action: Action.EndClass });
  if (caller.member.role !== 'teacher') {
    return reply(
      errorFrame(ErrorCode.Forbidden, 'Only a teacher can end the class', { action: Action.EndClass }),
    );
  }
  const store = await roomStore();
  const connections = await store.endRoom(caller.classRoomId);
  const frame: ServerFrame = { type: 'classEnded', classRoomId: caller.classRoomId, by: caller.member };
  const broadcaster = broadcasterFor(event, context);
  const result = await broadcaster.send(connections, JSON.stringify(frame));
  await broadcaster.disconnect(result.delivered.concat(result.failed));
  logger.info('class ended', { classRoomId: caller.classRoomId, connections: connections.length });
  return noReply;
});
