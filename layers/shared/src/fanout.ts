/**
 * Delivery to a room with its bookkeeping: the failed-deliveries metric, pruning of connections that
 * answered 410, and a `leave` announcement for users whose last connection turned out to be gone.
 */
import type { Broadcaster, BroadcastResult } from './broadcaster';
import type { ClassroomStore } from './classroom-store';
import { count, logger, Metric } from './observability';
import type { Member, ServerFrame } from './protocol';

export interface FanoutOptions {
  /** Announce `leave` for users whose last connection was pruned (not done for the announcement itself). */
  announceLeaves?: boolean;
}

export async function fanout(
  store: ClassroomStore,
  broadcaster: Broadcaster,
  roomId: string,
  connectionIds: readonly string[],
  frame: string,
  { announceLeaves = true }: FanoutOptions = {},
): Promise<BroadcastResult> {
  const result = await broadcaster.send(connectionIds, frame);
  if (result.failed.length > 0) {
    count(Metric.FailedDeliveries, result.failed.length);
    logger.warn('deliveries failed after retries', { roomId, failed: result.failed.length });
  }
  if (result.gone.length > 0) {
    // A 410 from a connection still in its $connect is not stale: removeMembers keeps those.
    const { remaining, goneMembers, removed } = await store.removeMembers(roomId, result.gone, {
      stale: true,
    });
    logger.info('pruned stale connections', { roomId, pruned: removed, gone: result.gone.length });
    if (announceLeaves && goneMembers.length > 0 && remaining.length > 0) {
      for (const member of goneMembers) {
        await fanout(store, broadcaster, roomId, remaining, presenceFrame('leave', member), {
          announceLeaves: false,
        });
      }
    }
  }
  return result;
}

export function presenceFrame(event: 'join' | 'leave', member: Member): string {
  const frame: ServerFrame = { type: 'presence', event, member };
  return JSON.stringify(frame);
}
