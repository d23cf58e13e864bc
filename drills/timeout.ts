/**
 * Drill 5: a handler cut off mid-broadcast. SendMessageFunction runs with a 1 s timeout (set on the
 * template model the emulator serves; the deployed template keeps its 10 s), and from time to time the
 * next post to a few connections is held for 2.5 s, so the broadcast of whatever message reaches them
 * outlives the function: the Lambda times out after the message was stored with its seq, the sender gets
 * API Gateway's "Internal server error" instead of an ack and resends the same clientMsgId (the dedupe
 * answers with the original seq, nothing is broadcast twice), and the members that missed the message
 * see the gap at the next one and recover it with `resume`.
 *
 * Long form: `npm run drill:timeout -- --duration 60`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { numberArg, parseArgs, runMain } from './support/args';
import { RedisNode } from './support/redis-node';
import { report, trafficColumns } from './support/report';
import { type DrillStack, setFunctionTimeout, startDrillStack } from './support/stack';
import { Traffic, type TrafficFigures } from './support/traffic';

export interface TimeoutOptions {
  rooms: number;
  membersPerRoom: number;
  intervalMs: number;
  durationMs: number;
  /** Every this often, the next post to `victims` connections is held for `holdMs`. */
  everyMs: number;
  victims: number;
  holdMs: number;
}

export const TIMEOUT_SHORT: TimeoutOptions = {
  rooms: 2,
  membersPerRoom: 5,
  intervalMs: 300,
  durationMs: 7000,
  everyMs: 1500,
  victims: 2,
  holdMs: 2500,
};

export interface TimeoutResult {
  figures: TrafficFigures;
  /** SendMessageFunction invocations cut off by the timeout. */
  cutOff: number;
  heldPosts: number;
  line: string;
}

export async function runTimeoutDrill(options: TimeoutOptions): Promise<TimeoutResult> {
  const node = await RedisNode.start();
  const armed = new Set<string>();
  let heldPosts = 0;
  let stack: DrillStack | undefined;
  let traffic: Traffic | undefined;
  try {
    const s = await startDrillStack({
      redisUrl: node.url,
      faults: (request) => {
        if (request.method !== 'POST' || !armed.delete(request.connectionId)) return undefined;
        heldPosts++;
        return { kind: 'slow', ms: options.holdMs };
      },
    });
    stack = s;
    setFunctionTimeout(s.gateway, 'SendMessageFunction', 1);
    const rooms = Array.from({ length: options.rooms }, (_, i) => `timeout-${i}`);
    const t = await Traffic.start({
      rooms,
      membersPerRoom: options.membersPerRoom,
      intervalMs: options.intervalMs,
      urlFor: (identity, room) => s.memberUrl(identity, room),
    });
    traffic = t;
    const until = Date.now() + options.durationMs;
    while (Date.now() < until) {
      await sleep(options.everyMs);
      const ids = s.gateway.connectionIds().sort(() => Math.random() - 0.5);
      for (const id of ids.slice(0, options.victims)) armed.add(id);
    }
    armed.clear();
    await t.stop();
    const figures = await t.reconcile(options.holdMs);
    const line = report(
      'timeout',
      {
        ...trafficColumns(figures),
        cut_off: s.counts.timeouts,
        held_posts: heldPosts,
        function_timeout_s: 1,
      },
      { ...options },
    );
    return { figures, cutOff: s.counts.timeouts, heldPosts, line };
  } finally {
    await traffic?.closeAll();
    await stack?.stop();
    await node.stop();
  }
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const result = await runTimeoutDrill({
      ...TIMEOUT_SHORT,
      rooms: numberArg(args, 'rooms', 4),
      membersPerRoom: numberArg(args, 'members', 6),
      durationMs: numberArg(args, 'duration', 60) * 1000,
    });
    return result.figures.lost === 0 && result.figures.duplicated === 0;
  });
}
