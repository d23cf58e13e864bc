/** SPEC §7: the idle timeout (shortened to 2 s here) closes the socket with 1001 and runs $disconnect, so the others see `leave`. */
import { sleep, withTimeout } from './support/client';
import { presenceFrame } from './support/frames';
import { connector, describeTarget, member, uniqueRoom } from './support/target';

const IDLE_MS = 2000;

describeTarget(
  'idle timeout',
  {
    requires: { emulator: 'a 2 s idle timeout (the gateway option idleTimeoutMs; 10 min on AWS)' },
    options: { idleTimeoutMs: IDLE_MS },
  },
  (ctx) => {
    const alice = member('alice');
    const bob = member('bob');
    const connect = connector(ctx, 'all');

    it('closes an idle socket with 1001 and runs $disconnect (the others see leave)', async () => {
      const room = uniqueRoom('idle');
      const a = await connect(alice, room);
      const b = await connect(bob, room);
      const started = Date.now();
      // Bob keeps his socket busy (a ping every quarter of the timeout, not waiting for the pongs: a slow
      // answer on a busy machine must not leave his socket idle); Alice stays silent.
      let pinging = true;
      const keepAlive = (async () => {
        while (pinging && b.isOpen) {
          b.send({ action: 'ping' });
          await sleep(IDLE_MS / 4);
        }
      })();
      try {
        const closed = await withTimeout(a.closed, IDLE_MS * 4, 'the idle close');
        expect(closed).toEqual({ code: 1001, reason: 'Going away' });
        expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS - 100);
        expect(await b.nextOfType('presence', { event: 'leave' })).toEqual(presenceFrame('leave', alice));
        expect(b.isOpen).toBe(true);
      } finally {
        pinging = false;
        await keepAlive;
      }
    });
  },
);
