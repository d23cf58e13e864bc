/** `ping`: answers `pong` as the route response; the frame itself resets API Gateway's idle timer. */
import { Action, reply, route } from '@classroom/shared';

export const handler = route(Action.Ping, async () => reply({ type: 'pong' }));
