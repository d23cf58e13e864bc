/**
 * A room's counter and log read straight from Redis, for the drills' own checks: the HASH
 * `room:{R}:state` (epoch, seq, bytes of the log) and the ZSET `room:{R}:log`.
 */
import type { Cluster, default as Redis } from 'ioredis';

export interface RoomState {
  /** undefined when the room has no state. */
  epoch?: number;
  /** The last assigned seq (0 when the room has no counter). */
  seq: number;
  /** The stored log's byte count as the state keeps it. */
  bytes?: number;
  /** The stored messages' seqs, in order. */
  stored: number[];
  /** Sum of the stored messages' lengths (bytes). */
  storedBytes: number;
}

/** `redis`: the room's Redis, or a cluster client (the room's keys share one slot). */
export async function roomState(redis: Redis | Cluster, room: string): Promise<RoomState> {
  const prefix = `room:{${room}}:`;
  const out: RoomState = { seq: 0, stored: [], storedBytes: 0 };
  const [epoch, seq, bytes] = await redis.hmget(`${prefix}state`, 'epoch', 'seq', 'bytes');
  if (epoch !== null) out.epoch = Number(epoch);
  out.seq = Number(seq ?? 0);
  if (bytes !== null) out.bytes = Number(bytes);
  const log = await redis.zrange(`${prefix}log`, 0, -1, 'WITHSCORES');
  for (let i = 0; i < log.length; i += 2) {
    out.stored.push(Number(log[i + 1]));
    out.storedBytes += Buffer.byteLength(log[i] as string);
  }
  return out;
}

/** Stored seqs are contiguous and end at the counter (no seq taken without its message). */
export function gapFree(state: RoomState): boolean {
  if (state.stored.length === 0) return true;
  const first = state.stored[0] as number;
  return state.stored.every((s, i) => s === first + i) && state.stored[state.stored.length - 1] === state.seq;
}
