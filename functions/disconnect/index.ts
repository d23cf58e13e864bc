/** `$disconnect` (best effort on AWS): remove the connection; announce `leave` when the user has none left. */
import {
  broadcasterFor,
  callerOf,
  count,
  fanout,
  flushMetrics,
  logger,
  Metric,
  presenceFrame,
  roomStore,
  type WebSocketEvent,
} from '@classroom/shared';
import type { APIGatewayProxyResult, Context } from 'aws-lambda';

export async function handler(event: WebSocketEvent, context: Context): Promise<APIGatewayProxyResult> {
  try {
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
  } catch (error) {
    count(Metric.HandlerErrors);
    logger.error('disconnect failed', { error: error as Error });
    return { statusCode: 500, body: '' };
  } finally {
    flushMetrics();
  }
}
