/** SPEC §4/§5: with ROOM_HISTORY_LIMIT 5 (template parameter RoomHistoryLimit), a resume from before the kept history gets the last 5 and `complete: false`. */
import type { Frame } from './support/client';
import { anEpoch, chat, messageFrame } from './support/frames';
import { connector, describeTarget, member, uniqueRoom } from './support/target';

describeTarget(
  'history limit',
  {
    requires: { emulator: 'the template parameter RoomHistoryLimit=5 (ROOM_HISTORY_LIMIT)' },
    options: { parameterOverrides: { RoomHistoryLimit: '5' } },
  },
  (ctx) => {
    const alice = member('alice');
    const bob = member('bob');
    const connect = connector(ctx, 'all');

    it('a history that no longer reaches back answers the kept messages with complete: false', async () => {
      const room = uniqueRoom('limit');
      const a = await connect(alice, room);
      const sent: Frame[] = [];
      for (let n = 1; n <= 8; n++) {
        const ack = await a.request(chat(`m${n}`, `h-${n}`), 'ack');
        expect(ack.seq).toBe(n);
        sent.push(messageFrame(room, alice, { seq: n, id: ack.id, kind: 'chat', data: { text: `m${n}` } }));
      }
      const b = await connect(bob, room);
      expect(await b.request({ action: 'resume', afterSeq: 1 }, 'history')).toEqual({
        type: 'history',
        classRoomId: room,
        epoch: anEpoch,
        messages: sent.slice(3),
        lastSeq: 8,
        done: true,
        complete: false,
      });
      // From seq 4 on, the kept history does reach back: complete.
      expect(await b.request({ action: 'resume', afterSeq: 3 }, 'history')).toEqual({
        type: 'history',
        classRoomId: room,
        epoch: anEpoch,
        messages: sent.slice(3),
        lastSeq: 8,
        done: true,
        complete: true,
      });
    });
  },
);
