/** `presence`: a snapshot of the members now connected, one entry per user. */
import { Action, callerOf, type Member, parseBody, reply, roomStore, route } from '@classroom/shared';

export const handler = route(Action.Presence, async (event) => {
  const caller = callerOf(event);
  const body = parseBody(event.body);
  if (!body.ok) return reply({ ...body.error, action: Action.Presence });
  const store = await roomStore();
  const byUser = new Map<string, Member>();
  for (const member of (await store.listMembers(caller.classRoomId)).values())
    byUser.set(member.userId, member);
  const members = [...byUser.values()].sort((a, b) => a.userId.localeCompare(b.userId));
  return reply({ type: 'presence', event: 'snapshot', members });
});
