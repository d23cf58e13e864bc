/** SPEC §7: the idle timeout (shortened to 1 s here) closes the socket with 1001 and runs $disconnect, so the others see `leave`. */
import { sleep, type TestClient, withTimeout } from './support/client';
import { presenceFrame } from './support/frames';
import { describeTarget, member, uniqueRoom } from './support/target';

const IDLE_MS = 1000;

describeTarget(
  'idle timeout',
  {
    requires: { emulator: 'a 1 s idle timeout (the gateway option idleTimeoutMs; 10 min on AWS)' },
    options: { idleTimeoutMs: IDLE_MS },
  },
  (ctx) => {
    const alice = member('alice');
    const bob = member('bob');
    const open: TestClient[] = [];
    afterAll(async () => {
      await Promise.all(open.map((c) => c.close()));
    });

    it('closes an idle socket with 1001 and runs $disconnect (the others see leave)', async () => {
      const room = uniqueRoom('idle');
      const a = await ctx.target.connect(alice, room);
      const b = await ctx.target.connect(bob, room);
      open.push(a, b);
      const started = Date.now();
      // Bob keeps his socket busy; Alice stays silent.
      let pinging = true;
      const keepAlive = (async () => {
        while (pinging && b.isOpen) {
          await b.request({ action: 'ping' }, 'pong');
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
