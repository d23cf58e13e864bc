/** `$default`: frames whose `action` matches no route, and frames that are not JSON objects. */
import { ErrorCode, errorFrame, parseBody, reply, route } from '@classroom/shared';

export const handler = route('$default', async (event) => {
  const body = parseBody(event.body);
  if (!body.ok) return reply(body.error);
  const { action } = body.value;
  if (typeof action !== 'string') {
    return reply(errorFrame(ErrorCode.BadRequest, 'Frame needs a string "action"'));
  }
  const safeAction = action.length <= 64 ? action : undefined;
  return reply(errorFrame(ErrorCode.UnknownAction, 'Unknown action', { action: safeAction }));
});
