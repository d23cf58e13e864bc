/**
 * Delivery integrity with epochs, for the drills where a room's store can lose writes or restart its
 * sequence (unplanned failover, eviction). Everything is keyed by (epoch, seq), never by seq alone:
 *
 * - the acknowledged messages (`Traffic.acks`: clientMsgId, epoch, seq, id);
 * - what each member holds, per epoch (`DrillMember.logs`), after it resumed at the end;
 * - the store's view of each room: one `resume` from 0 at the end (`DrillMember.history`), i.e. the
 *   current epoch's stored messages as the server answers them.
 *
 * Figures:
 * - lost: acknowledged messages not in the store's final history under their (epoch, seq, id), or
 *   missing (or held with another id) at some member of their room; `lostPairs` counts the members;
 * - duplicated: one message (by id, or by the drill's clientMsgId) held by a member under two
 *   different (epoch, seq), so the app would show it twice even with dedupe by seq;
 * - seqConflicts: an (epoch, seq) with two different ids anywhere (acks, members, store);
 * - cursors: members whose final cursor is not the room's (epoch, lastSeq), or whose history of the
 *   current epoch differs from the store's;
 * - storeGaps: rooms whose stored seqs are not contiguous up to lastSeq (a seq taken without its message).
 */
import type { DrillMember, HistorySnapshot } from './member';
import type { AckRecord } from './traffic';

export interface IntegrityFigures {
  acknowledged: number;
  /** Acknowledged messages lost (from the store or for at least one member). */
  lost: number;
  /** Acknowledged messages absent from the store's final history (same epoch, seq and id). */
  lostFromStore: number;
  /** (acknowledged message, member of its room) pairs the member does not hold with that id. */
  lostPairs: number;
  duplicated: number;
  seqConflicts: number;
  /** Members whose cursor is not the room's (epoch, lastSeq). */
  cursorsBehind: number;
  /** Members whose history of the room's current epoch differs from the store's. */
  historyMismatch: number;
  /** Rooms whose stored seqs have a gap, or whose lastSeq is not the highest stored seq. */
  storeGaps: number;
  /** Rooms whose final history could not be read. */
  unreadRooms: number;
  /** Stored messages whose clientMsgId was never acknowledged. */
  storedUnacked: number;
  /** Distinct epochs seen per room (acks, members, store), the highest over rooms. */
  maxEpochsPerRoom: number;
  /** Rooms that went through more than one epoch. */
  roomsWithNewEpoch: number;
  /** Members' cursor moves to another epoch, summed. */
  epochResets: number;
  /** Members whose final cursor is on the store's current epoch. */
  membersOnStoreEpoch: number;
  members: number;
  examples: string[];
}

export type Snapshots = Map<string, HistorySnapshot | undefined>;

const key = (epoch: number | undefined, seq: number) => `${epoch ?? '-'}:${seq}`;

/** Reads each room's final history through one of its members (a `resume` from 0). */
export async function snapshotRooms(members: DrillMember[]): Promise<Snapshots> {
  const out: Snapshots = new Map();
  for (const m of members) {
    if (out.get(m.room)) continue;
    if (!m.isOpen) await m.reconnect().catch(() => undefined);
    out.set(m.room, await m.history().catch(() => undefined));
  }
  return out;
}

export function integrity(acks: AckRecord[], members: DrillMember[], snapshots: Snapshots): IntegrityFigures {
  const f: IntegrityFigures = {
    acknowledged: acks.length,
    lost: 0,
    lostFromStore: 0,
    lostPairs: 0,
    duplicated: 0,
    seqConflicts: 0,
    cursorsBehind: 0,
    historyMismatch: 0,
    storeGaps: 0,
    unreadRooms: 0,
    storedUnacked: 0,
    maxEpochsPerRoom: 0,
    roomsWithNewEpoch: 0,
    epochResets: 0,
    membersOnStoreEpoch: 0,
    members: members.length,
    examples: [],
  };
  const example = (text: string) => {
    if (f.examples.length < 8) f.examples.push(text);
  };
  const rooms = new Set([...members.map((m) => m.room), ...acks.map((a) => a.room)]);
  for (const room of rooms) {
    const roomAcks = acks.filter((a) => a.room === room);
    const roomMembers = members.filter((m) => m.room === room);
    const snapshot = snapshots.get(room);
    const epochs = new Set<number | undefined>(roomAcks.map((a) => a.epoch));
    // (epoch, seq) -> ids seen anywhere.
    const idsAt = new Map<string, Set<string>>();
    const see = (epoch: number | undefined, seq: number, id: string) => {
      const k = key(epoch, seq);
      const ids = idsAt.get(k) ?? new Set<string>();
      ids.add(id);
      idsAt.set(k, ids);
    };
    for (const a of roomAcks) see(a.epoch, a.seq, a.id);

    // The store.
    const stored = new Map<number, string>();
    if (!snapshot) {
      f.unreadRooms++;
      example(`${room}: history not read`);
    } else {
      epochs.add(snapshot.epoch);
      const ackedTags = new Set(roomAcks.map((a) => a.clientMsgId));
      for (const m of snapshot.messages) {
        stored.set(m.seq, m.id);
        see(snapshot.epoch, m.seq, m.id);
        if (m.tag !== undefined && !ackedTags.has(m.tag)) f.storedUnacked++;
      }
      const seqs = [...stored.keys()].sort((a, b) => a - b);
      const first = seqs[0];
      const last = seqs[seqs.length - 1];
      const gapFree =
        seqs.length === 0 || (last === snapshot.lastSeq && seqs.every((s, i) => s === (first as number) + i));
      if (!gapFree) {
        f.storeGaps++;
        example(`${room}: stored seqs ${first}..${last} (${seqs.length}), lastSeq ${snapshot.lastSeq}`);
      }
    }

    // The members.
    for (const m of roomMembers) {
      f.epochResets += m.epochResets;
      for (const log of m.logs.values()) {
        if (log.have.size > 0) epochs.add(log.epoch);
        for (const [seq, id] of log.ids) see(log.epoch, seq, id);
        // One message under two slots: by id, and by the drill's clientMsgId.
        const byId = new Map<string, number>();
        for (const id of log.ids.values()) byId.set(id, (byId.get(id) ?? 0) + 1);
        const byTag = new Map<string, number>();
        for (const tag of log.tags.values()) byTag.set(tag, (byTag.get(tag) ?? 0) + 1);
        for (const [id, n] of byId) {
          if (n > 1) {
            f.duplicated += n - 1;
            example(`${room}/${m.identity.userId}: id ${id} held ${n} times`);
          }
        }
        for (const [tag, n] of byTag) {
          // Same clientMsgId under different ids: stored twice (counted once above when the ids agree).
          const idsOfTag = new Set(
            [...log.tags].filter(([, t]) => t === tag).map(([seq]) => log.ids.get(seq) as string),
          );
          if (n > 1 && idsOfTag.size > 1) {
            f.duplicated += idsOfTag.size - 1;
            example(`${room}/${m.identity.userId}: clientMsgId ${tag} stored under ${idsOfTag.size} ids`);
          }
        }
      }
      // The same message id under two epochs.
      const epochsOfId = new Map<string, number>();
      for (const log of m.logs.values())
        for (const id of new Set(log.ids.values())) {
          epochsOfId.set(id, (epochsOfId.get(id) ?? 0) + 1);
        }
      for (const n of epochsOfId.values()) if (n > 1) f.duplicated += n - 1;

      if (snapshot) {
        if (m.epoch === snapshot.epoch) f.membersOnStoreEpoch++;
        if (m.epoch !== snapshot.epoch || m.lastContiguous !== snapshot.lastSeq) {
          f.cursorsBehind++;
          example(
            `${room}/${m.identity.userId}: cursor (${m.epoch}, ${m.lastContiguous}) vs room (${snapshot.epoch}, ${snapshot.lastSeq})`,
          );
        }
        const log = m.logs.get(snapshot.epoch);
        const first = Math.min(...stored.keys());
        let same = log !== undefined;
        if (log) {
          for (const [seq, id] of stored) if (log.ids.get(seq) !== id) same = false;
          for (const seq of log.ids.keys()) if (seq >= first && !stored.has(seq)) same = false;
        } else same = stored.size === 0;
        if (!same) f.historyMismatch++;
      }
    }

    // Acknowledged messages.
    for (const a of roomAcks) {
      let lost = false;
      if (!snapshot || snapshot.epoch !== a.epoch || stored.get(a.seq) !== a.id) {
        f.lostFromStore++;
        lost = true;
        if (snapshot) example(`${room}: acked (${a.epoch}, ${a.seq}, ${a.clientMsgId}) not in the store`);
      }
      for (const m of roomMembers) {
        if (m.logs.get(a.epoch)?.ids.get(a.seq) !== a.id) {
          f.lostPairs++;
          lost = true;
          example(`${room}/${m.identity.userId}: acked (${a.epoch}, ${a.seq}, ${a.clientMsgId}) missing`);
        }
      }
      if (lost) f.lost++;
    }

    for (const ids of idsAt.values()) if (ids.size > 1) f.seqConflicts += ids.size - 1;
    f.maxEpochsPerRoom = Math.max(f.maxEpochsPerRoom, epochs.size);
    if (epochs.size > 1) f.roomsWithNewEpoch++;
  }
  return f;
}

/**
 * The members' view held (what expectIntegrity asserts, as a verdict): nothing acknowledged lost (unless
 * keys were evicted: `evicted`), nothing duplicated, no seq given twice, every cursor caught up, every
 * member's history the store's, no gap in the stored seqs, every room read back.
 */
export function integrityHolds(f: IntegrityFigures, { evicted = false } = {}): boolean {
  return (
    (evicted || f.lost === 0) &&
    f.duplicated === 0 &&
    f.seqConflicts === 0 &&
    f.cursorsBehind === 0 &&
    f.historyMismatch === 0 &&
    f.storeGaps === 0 &&
    f.unreadRooms === 0
  );
}
