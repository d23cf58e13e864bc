/** `resume`: the room's stored messages after `afterSeq`, in order, in `history` frames under 128 KB. */
import {
  Action,
  broadcasterFor,
  callerOf,
  count,
  historyFrames,
  Metric,
  noReply,
  parseBody,
  parseResume,
  reply,
  roomStore,
  route,
} from '@classroom/shared';

export const handler = route(Action.Resume, async (event, context) => {
  const caller = callerOf(event);
  const body = parseBody(event.body);
  if (!body.ok) return reply({ ...body.error, action: Action.Resume });
  const request = parseResume(body.value);
  if (!request.ok) return reply(request.error);

  const store = await roomStore();
  const history = await store.history(caller.classRoomId, request.value.afterSeq);
  const frames = historyFrames(caller.classRoomId, history.messages, history.lastSeq, history.complete);
  if (frames.length === 1) return { statusCode: 200, body: frames[0] as string };
  // Several pages: posted in order to this connection; the route response stays empty.
  const outcome = await broadcasterFor(event, context).sendSequence(caller.connectionId, frames);
  if (outcome !== 'delivered') count(Metric.FailedDeliveries);
  return noReply;
});
