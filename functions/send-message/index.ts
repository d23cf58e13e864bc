/**
 * `sendMessage`: validate, then one Redis round trip (rate limit, dedupe, epoch, seq, store, trim,
 * recipients, and the replicas' confirmation), then fan-out to every other member and an `ack` to the
 * sender (as the route response). Nothing is delivered or acknowledged before the write is confirmed.
 */
import {
  Action,
  broadcasterFor,
  callerOf,
  count,
  ErrorCode,
  errorFrame,
  fanout,
  fitsInFrame,
  Metric,
  messageParts,
  noReply,
  parseBody,
  parseSendMessage,
  reply,
  roomStore,
  route,
} from '@classroom/shared';

export const handler = route(Action.SendMessage, async (event, context) => {
  const caller = callerOf(event);
  const body = parseBody(event.body);
  if (!body.ok) return reply({ ...body.error, action: Action.SendMessage });
  const request = parseSendMessage(body.value);
  if (!request.ok) return reply(request.error);
  const { clientMsgId } = request.value;
  const fail = (code: ErrorCode, message: string) =>
    reply(errorFrame(code, message, { action: Action.SendMessage, clientMsgId }));

  if (request.value.classRoomId !== undefined && request.value.classRoomId !== caller.classRoomId) {
    return fail(ErrorCode.Forbidden, 'You can only send to the classroom you are connected to');
  }
  const parts = messageParts({
    classRoomId: caller.classRoomId,
    from: caller.member,
    kind: request.value.kind,
    data: request.value.data,
  });
  if (!fitsInFrame(parts)) return fail(ErrorCode.TooLarge, 'Message too large to deliver (limit 128 KB)');

  const store = await roomStore();
  const result = await store.append({
    roomId: caller.classRoomId,
    id: parts.id,
    head: parts.head,
    tail: parts.tail,
    transient: request.value.transient,
    senderConnectionId: caller.connectionId,
    dedupe: clientMsgId ? { scope: caller.member.userId, key: clientMsgId } : undefined,
    rateLimited: true,
  });
  const { epoch, seq, id } = result;
  switch (result.status) {
    case 'rate_limited':
      count(Metric.MessagesRateLimited);
      return fail(ErrorCode.RateLimited, 'Too many messages, slow down');
    case 'not_member':
      return fail(ErrorCode.Forbidden, 'This connection is no longer in the classroom');
    case 'unavailable':
      count(Metric.MessagesUnavailable);
      return fail(ErrorCode.Unavailable, 'Not accepted: could not be stored durably in time, please resend');
    case 'duplicate':
      return reply({ type: 'ack', clientMsgId: clientMsgId as string, epoch, seq, id });
  }
  count(Metric.MessagesAccepted);
  const frame = request.value.transient ? parts.withoutSeq(epoch) : result.frame;
  const recipients = result.recipients.filter((connectionId) => connectionId !== caller.connectionId);
  if (frame) await fanout(store, broadcasterFor(event, context), caller.classRoomId, recipients, frame);
  if (!clientMsgId) return noReply;
  return reply(
    request.value.transient
      ? { type: 'ack', clientMsgId, epoch, id }
      : { type: 'ack', clientMsgId, epoch, seq, id },
  );
});
