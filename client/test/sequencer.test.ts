import fc from 'fast-check';
import { Sequencer } from '../src/sequencer';

const frame = (seq: number) => ({ seq, text: `m${seq}` });

describe('Class: Sequencer', () => {
  describe('Method: push', () => {
    it('delivers frames in order at once', () => {
      // Prepare
      const sequencer = new Sequencer<ReturnType<typeof frame>>();

      // Act
      const delivered = [1, 2, 3].flatMap((seq) => sequencer.push(frame(seq)).deliver.map((f) => f.seq));

      // Assess
      expect(delivered).toEqual([1, 2, 3]);
      expect(sequencer.lastSeq).toBe(3);
      expect(sequencer.hasGap).toBe(false);
    });

    it('drops duplicates, of delivered and of waiting frames', () => {
      // Prepare
      const sequencer = new Sequencer<ReturnType<typeof frame>>();
      sequencer.push(frame(1));
      sequencer.push(frame(3));

      // Act
      const again1 = sequencer.push(frame(1));
      const again3 = sequencer.push(frame(3));

      // Assess
      expect(again1).toEqual({ deliver: [], duplicate: true });
      expect(again3).toEqual({ deliver: [], duplicate: true });
      expect(sequencer.buffered).toBe(1);
    });

    it('holds frames behind a gap and releases them in order when it is filled', () => {
      // Prepare
      const sequencer = new Sequencer<ReturnType<typeof frame>>(10);

      // Act
      const early = [13, 12].map((seq) => sequencer.push(frame(seq)).deliver);
      const gapBefore = sequencer.hasGap;
      const first = sequencer.firstBuffered;
      const filled = sequencer.push(frame(11)).deliver.map((f) => f.seq);

      // Assess
      expect(early).toEqual([[], []]);
      expect(gapBefore).toBe(true);
      expect(first).toBe(12);
      expect(filled).toEqual([11, 12, 13]);
      expect(sequencer.hasGap).toBe(false);
    });

    it('drops frames without an integer seq', () => {
      // Prepare
      const sequencer = new Sequencer<{ seq: number }>();

      // Act
      const result = sequencer.push({ seq: Number.NaN });

      // Assess
      expect(result.duplicate).toBe(true);
      expect(sequencer.lastSeq).toBe(0);
    });

    it('delivers any shuffled, duplicated stream exactly once each and in order', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 60 }),
          fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 60 }),
          fc.integer(),
          (count, extra, seed) => {
            // Prepare: every seq once, some again, in a random order
            const seqs = Array.from({ length: count }, (_, i) => i + 1).concat(
              extra.filter((s) => s <= count),
            );
            let state = seed >>> 0;
            const random = () => {
              state = (state * 1_664_525 + 1_013_904_223) >>> 0;
              return state / 2 ** 32;
            };
            for (let i = seqs.length - 1; i > 0; i--) {
              const j = Math.floor(random() * (i + 1));
              [seqs[i], seqs[j]] = [seqs[j] as number, seqs[i] as number];
            }
            const sequencer = new Sequencer<ReturnType<typeof frame>>();

            // Act
            const delivered = seqs.flatMap((seq) => sequencer.push(frame(seq)).deliver.map((f) => f.seq));

            // Assess
            expect(delivered).toEqual(Array.from({ length: count }, (_, i) => i + 1));
          },
        ),
      );
    });
  });

  describe('Method: skipTo', () => {
    it('declares missing seqs lost and delivers what waited behind them', () => {
      // Prepare
      const sequencer = new Sequencer<ReturnType<typeof frame>>();
      sequencer.push(frame(1));
      sequencer.push(frame(4));
      sequencer.push(frame(6));
      sequencer.push(frame(7));

      // Act
      const delivered = sequencer.skipTo(5).map((f) => f.seq);

      // Assess
      expect(delivered).toEqual([4, 6, 7]);
      expect(sequencer.lastSeq).toBe(7);
    });
  });

  describe('Method: reset', () => {
    it('starts over and forgets waiting frames', () => {
      // Prepare
      const sequencer = new Sequencer<ReturnType<typeof frame>>(40);
      sequencer.push(frame(42));

      // Act
      sequencer.reset();
      const delivered = sequencer.push(frame(1)).deliver.map((f) => f.seq);

      // Assess
      expect(delivered).toEqual([1]);
      expect(sequencer.buffered).toBe(0);
    });
  });
});
