/**
 * `resume`: the room's stored messages after `afterSeq` (of `epoch`), in order, read from the store one
 * bounded page at a time, each page one `history` frame under 128 KB. A single page is the route
 * response; more are posted in order to this connection, the next page read before the current one is
 * sent (so the last one can say `done`), never more than two pages in memory.
 */
import {
  Action,
  broadcasterFor,
  callerOf,
  count,
  type HistoryPage,
  historyFrame,
  historyPageBytes,
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
  const roomId = caller.classRoomId;
  const maxBytes = historyPageBytes(roomId);
  const first = await store.historyPage(roomId, { ...request.value, maxBytes });
  // `complete` is about the start of what was asked: the first page of each epoch says it.
  const frameOf = (page: HistoryPage, done: boolean) =>
    historyFrame(
      {
        classRoomId: roomId,
        epoch: page.epoch,
        lastSeq: page.lastSeq,
        done,
        complete: page.epoch === first.epoch ? first.complete : page.complete,
      },
      page.messages,
    );
  if (!first.more) return { statusCode: 200, body: frameOf(first, true) };

  const broadcaster = broadcasterFor(event, context);
  let page: HistoryPage | undefined = first;
  while (page) {
    const next: HistoryPage | undefined = page.more
      ? await store.historyPage(roomId, { afterSeq: page.nextAfterSeq, epoch: page.epoch, maxBytes })
      : undefined;
    const outcome = await broadcaster.sendSequence(caller.connectionId, [frameOf(page, next === undefined)]);
    if (outcome !== 'delivered') {
      count(Metric.FailedDeliveries);
      break;
    }
    page = next;
  }
  return noReply;
});
