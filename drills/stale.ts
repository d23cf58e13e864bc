/**
 * Drill 4: connections that leave without a clean `$disconnect`, and what is left in Redis after everyone
 * has left. With ROOM_TTL_SECONDS and CONNECTION_TTL_SECONDS at 60 (the layer's minimum), the gateway's
 * idle timeout at 4 s and Redis behind a TCP proxy that can cut it off:
 *
 * - joining together: members who join at the same moment all stay members (each one's 410 while the
 *   other was still in `$connect` must not prune it);
 * - half-open: a connection whose client vanished (410 to every post, socket still open at the gateway) is
 *   pruned on the next broadcast, and the idle timeout closes it later;
 * - dropped: a client that drops TCP without a close frame gets `$disconnect` (1006) and is removed;
 * - missed `$disconnect`: members close while Redis is unreachable (their `$disconnect` fails, as a lost one
 *   on AWS); the next broadcast's 410 prunes them;
 * - nobody left to prune: a whole room leaves with every `$disconnect` missed; every key it leaves has a
 *   TTL of at most 60 s (the long form waits and sees them expire: `--wait-expiry`);
 * - after everyone leaves cleanly, no member, info or joining key remains; only the history (state, log:
 *   ROOM_TTL) and the short-TTL rate-limit and dedupe entries.
 *
 * Long form: `npm run drill:stale -- --wait-expiry`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs, runMain } from './support/args';
import { DrillMember } from './support/member';
import { RedisNode, waitFor } from './support/redis-node';
import { report } from './support/report';
import { type DrillStack, startDrillStack } from './support/stack';
import { TcpProxy } from './support/tcp-proxy';

export const TTL_SECONDS = 60;

export interface KeyState {
  key: string;
  /** Milliseconds to live (-1: none). */
  pttl: number;
}

export interface StaleResult {
  joinedTogether: { joined: number; members: number };
  halfOpen: { vanished: number; pruned: number; idleClosed: number };
  dropped: { dropped: number; removed: number };
  missedDisconnect: { missed: number; leftAfterMiss: number; prunedAfter: number };
  abandoned: { keys: KeyState[]; maxMemberExpiryMs: number; expiredMs?: number };
  afterClean: { keys: KeyState[] };
  line: string;
}

export async function runStaleDrill(options: { waitExpiry?: boolean } = {}): Promise<StaleResult> {
  const node = await RedisNode.start();
  const proxy = await TcpProxy.start({ host: '127.0.0.1', port: node.port });
  const vanished = new Set<string>();
  let stack: DrillStack | undefined;
  const open: DrillMember[] = [];
  try {
    const s = await startDrillStack({
      redisUrl: proxy.url,
      env: { ROOM_TTL_SECONDS: String(TTL_SECONDS), CONNECTION_TTL_SECONDS: String(TTL_SECONDS) },
      idleTimeoutMs: 4000,
      faults: (request) =>
        request.method === 'POST' && vanished.has(request.connectionId) ? '410' : undefined,
    });
    stack = s;
    const redis = node.admin;
    const members = (room: string) => redis.zrange(`room:{${room}}:members`, 0, -1);
    const join = async (room: string, n: number, prefix: string) => {
      const joined: { member: DrillMember; id: string }[] = [];
      for (let i = 0; i < n; i++) {
        const before = new Set(s.gateway.connectionIds());
        const member = new DrillMember(
          { userId: `${prefix}${i}`, name: `${prefix} ${i}`, role: i === 0 ? 'teacher' : 'student' },
          room,
          (id, r) => s.memberUrl(id, r),
        );
        await member.connect();
        open.push(member);
        const id = s.gateway.connectionIds().find((c) => !before.has(c)) as string;
        joined.push({ member, id });
      }
      return joined;
    };
    const say = async (member: DrillMember, text: string) => {
      const outcome = await member.sendOnce(`${member.identity.userId}-${text}`, { text });
      if (!outcome.ok) throw new Error(`${member.identity.userId}: send failed (${outcome.reason})`);
    };
    const disconnectLogged = (id: string) =>
      s.logs.some((l) => l.startsWith(`$disconnect DisconnectFunction ${id} `));
    const roomKeys = async (room: string): Promise<KeyState[]> => {
      const keys = (await redis.keys(`room:{${room}}:*`)).sort();
      const states = await Promise.all(
        keys.map(async (key) => ({ key: key.replace(`room:{${room}}:`, ''), pttl: await redis.pttl(key) })),
      );
      // PTTL -2: the key expired between KEYS and PTTL (a rate-limit bucket does 3 s after a send).
      return states.filter((k) => k.pttl !== -2);
    };

    // Joining together.
    const together = Array.from(
      { length: 8 },
      (_, i) =>
        new DrillMember({ userId: `t${i}`, name: `T${i}`, role: 'student' }, 'stale-together', (id, r) =>
          s.memberUrl(id, r),
        ),
    );
    await Promise.all(together.map((m) => m.connect()));
    open.push(...together);
    await sleep(200);
    const joinedTogether = { joined: together.length, members: (await members('stale-together')).length };

    // Half-open.
    const a = await join('stale-halfopen', 4, 'a');
    for (const m of a.slice(2)) vanished.add(m.id);
    await say((a[0] as { member: DrillMember }).member, 'anyone?');
    await sleep(200);
    const aLeft = await members('stale-halfopen');
    const halfOpen = {
      vanished: 2,
      pruned: a.slice(2).filter((m) => !aLeft.includes(m.id)).length,
      idleClosed: 0,
    };

    // Dropped without a close frame.
    const b = await join('stale-dropped', 4, 'b');
    for (const m of b.slice(2)) m.member.terminate();
    await waitFor(
      () => b.slice(2).every((m) => disconnectLogged(m.id)),
      '$disconnect of the dropped',
      30_000,
    );
    const bLeft = await members('stale-dropped');
    const dropped = { dropped: 2, removed: b.slice(2).filter((m) => !bLeft.includes(m.id)).length };

    // Missed $disconnect: Redis unreachable while two members close.
    const c = await join('stale-missed', 4, 'c');
    proxy.block();
    await Promise.all(c.slice(2).map((m) => m.member.close()));
    await waitFor(() => c.slice(2).every((m) => disconnectLogged(m.id)), '$disconnect attempts', 30_000);
    proxy.unblock();
    const cAfterMiss = await members('stale-missed');
    const leftAfterMiss = c.slice(2).filter((m) => cAfterMiss.includes(m.id)).length;
    // The next broadcast (retried while the functions reconnect to Redis) posts to them: 410, pruned.
    await waitFor(
      async () => (await (c[0] as { member: DrillMember }).member.sendOnce(`c0-next-${Date.now()}`)).ok,
      'a send after Redis returned',
      30_000,
      200,
    );
    await sleep(200);
    const cLeft = await members('stale-missed');
    const missedDisconnect = {
      missed: 2,
      leftAfterMiss,
      prunedAfter: c.slice(2).filter((m) => !cLeft.includes(m.id)).length,
    };

    // Nobody left to prune: a whole room leaves with every $disconnect missed.
    const d = await join('stale-abandoned', 3, 'd');
    await say((d[0] as { member: DrillMember }).member, 'bye');
    proxy.block();
    await Promise.all(d.map((m) => m.member.close()));
    await waitFor(() => d.every((m) => disconnectLogged(m.id)), '$disconnect attempts', 30_000);
    proxy.unblock();
    const abandonedKeys = await roomKeys('stale-abandoned');
    const scores = (await redis.zrange('room:{stale-abandoned}:members', 0, -1, 'WITHSCORES'))
      .filter((_, i) => i % 2 === 1)
      .map(Number);
    const maxMemberExpiryMs = Math.max(0, ...scores.map((score) => score - Date.now()));

    // The vanished half-open sockets are closed by the idle timeout.
    await waitFor(
      () => a.slice(2).every((m) => !m.member.isOpen),
      'idle timeout of the half-open',
      30_000,
      100,
    );
    halfOpen.idleClosed = a.slice(2).filter((m) => !m.member.isOpen).length;

    // Everyone else leaves cleanly; the keys are read once each $disconnect has run (on a busy machine
    // that takes longer than the sockets' closing).
    const leaving = s.gateway.connectionIds();
    await Promise.all(open.map((m) => m.close()));
    await waitFor(() => s.gateway.connectionIds().length === 0, 'all connections closed', 30_000);
    await waitFor(() => leaving.every(disconnectLogged), '$disconnect of everyone leaving', 30_000);
    await sleep(300);
    const cleanRooms = ['stale-together', 'stale-halfopen', 'stale-dropped', 'stale-missed'];
    const afterClean: KeyState[] = [];
    for (const room of cleanRooms) {
      for (const k of await roomKeys(room)) afterClean.push({ key: `${room}:${k.key}`, pttl: k.pttl });
    }

    let expiredMs: number | undefined;
    if (options.waitExpiry) {
      const started = Date.now();
      await waitFor(
        async () => (await redis.keys('room:{stale-*')).length === 0,
        'every key of the drill rooms expired',
        (TTL_SECONDS + 15) * 1000,
        500,
      );
      expiredMs = Date.now() - started;
    }
    const kinds = (keys: KeyState[]) =>
      [...new Set(keys.map((k) => k.key.replace(/^stale-[a-z]+:/, '').replace(/^(rl|dedupe):.*$/, '$1')))]
        .sort()
        .join('+') || 'none';
    const line = report('stale', {
      joined_together: `${joinedTogether.members}/${joinedTogether.joined}`,
      half_open_pruned: `${halfOpen.pruned}/${halfOpen.vanished}`,
      half_open_idle_closed: halfOpen.idleClosed,
      dropped_removed: `${dropped.removed}/${dropped.dropped}`,
      missed_disconnect_left: leftAfterMiss,
      missed_then_pruned: `${missedDisconnect.prunedAfter}/${missedDisconnect.missed}`,
      abandoned_keys: kinds(abandonedKeys),
      abandoned_max_ttl_s: Math.ceil(Math.max(maxMemberExpiryMs, ...abandonedKeys.map((k) => k.pttl)) / 1000),
      abandoned_expired_s:
        expiredMs === undefined ? 'not waited (--wait-expiry)' : Math.round(expiredMs / 1000),
      clean_rooms_keys: kinds(afterClean),
      clean_max_ttl_s: Math.ceil(Math.max(0, ...afterClean.map((k) => k.pttl)) / 1000),
      keys_without_ttl: [...abandonedKeys, ...afterClean].filter((k) => k.pttl < 0).length,
    });
    return {
      joinedTogether,
      halfOpen,
      dropped,
      missedDisconnect,
      abandoned: { keys: abandonedKeys, maxMemberExpiryMs, expiredMs },
      afterClean: { keys: afterClean },
      line,
    };
  } finally {
    await Promise.all(open.map((m) => m.close()));
    await stack?.stop();
    await proxy.close();
    await node.stop();
  }
}

if (require.main === module) {
  runMain(async () => {
    const args = parseArgs();
    const result = await runStaleDrill({ waitExpiry: args.has('wait-expiry') });
    return result.abandoned.expiredMs !== undefined || !args.has('wait-expiry');
  });
}
