import { Coalescer, mergeStrokes, type StrokeSegment } from '../src/coalescer';
import { ServerError } from '../src/errors';

const segment = (strokeId: string, points: Array<[number, number]>): StrokeSegment => ({
  strokeId,
  color: '#000',
  width: 2,
  points,
});

describe('Class: Coalescer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('sends the items of one window as one batch', async () => {
    // Prepare
    const batches: number[][] = [];
    const coalescer = new Coalescer<number>({
      windowMs: 50,
      send: async (items) => {
        batches.push(items);
      },
    });

    // Act
    for (let i = 1; i <= 10; i++) {
      coalescer.push(i);
      jest.advanceTimersByTime(4);
    }
    await jest.advanceTimersByTimeAsync(50);

    // Assess
    expect(batches).toEqual([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]);
    expect(coalescer.pending).toBe(0);
  });

  it('keeps one batch in flight and sends what gathered meanwhile afterwards, in order', async () => {
    // Prepare
    const batches: number[][] = [];
    let release: () => void = () => {};
    const coalescer = new Coalescer<number>({
      windowMs: 50,
      send: (items) => {
        batches.push(items);
        return batches.length === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
      },
    });

    // Act
    coalescer.push(1);
    await jest.advanceTimersByTimeAsync(50);
    coalescer.push(2);
    coalescer.push(3);
    await jest.advanceTimersByTimeAsync(200);
    const whileInFlight = batches.length;
    release();
    await jest.advanceTimersByTimeAsync(50);

    // Assess
    expect(whileInFlight).toBe(1);
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it('resends a batch unchanged, with the same key, after a retryable failure', async () => {
    // Prepare
    const calls: Array<{ items: number[]; key: number }> = [];
    const coalescer = new Coalescer<number>({
      windowMs: 50,
      retryDelayMs: 100,
      retryable: (error) => error instanceof ServerError && error.code === 'rate_limited',
      send: async (items, key) => {
        calls.push({ items: [...items], key });
        if (calls.length === 1) throw new ServerError('rate_limited', 'slow down');
      },
    });

    // Act
    coalescer.push(1);
    await jest.advanceTimersByTimeAsync(50);
    coalescer.push(2);
    await jest.advanceTimersByTimeAsync(100);
    await jest.advanceTimersByTimeAsync(50);

    // Assess
    expect(calls).toEqual([
      { items: [1], key: 1 },
      { items: [1], key: 1 },
      { items: [2], key: 2 },
    ]);
  });

  it('drops a batch that fails for good and reports it', async () => {
    // Prepare
    const dropped: number[][] = [];
    const coalescer = new Coalescer<number>({
      windowMs: 10,
      send: async () => {
        throw new ServerError('forbidden', 'no');
      },
      onError: (_error, items) => dropped.push(items),
    });

    // Act
    coalescer.push(7);
    const flushed = coalescer.flush();
    await jest.advanceTimersByTimeAsync(0);
    await flushed;

    // Assess
    expect(dropped).toEqual([[7]]);
    expect(coalescer.pending).toBe(0);
  });

  it('splits batches that would exceed maxBatchBytes', async () => {
    // Prepare
    const batches: string[][] = [];
    const coalescer = new Coalescer<string>({
      windowMs: 10,
      maxBatchBytes: 30,
      send: async (items) => {
        batches.push(items);
      },
    });

    // Act
    for (const item of ['aaaaaaaaaa', 'bbbbbbbbbb', 'cccccccccc']) coalescer.push(item);
    await coalescer.flush();

    // Assess
    expect(batches).toEqual([['aaaaaaaaaa', 'bbbbbbbbbb'], ['cccccccccc']]);
  });

  it('flush sends at once and resolves when everything is acknowledged', async () => {
    // Prepare
    const batches: number[][] = [];
    const coalescer = new Coalescer<number>({
      windowMs: 10_000,
      send: async (items) => {
        batches.push(items);
      },
    });
    coalescer.push(1);
    coalescer.push(2);

    // Act
    await coalescer.flush();

    // Assess
    expect(batches).toEqual([[1, 2]]);
  });
});

describe('Function: mergeStrokes', () => {
  it('joins consecutive segments of one stroke, keeping the shared point once', () => {
    // Prepare
    const items = [
      segment('a', [
        [0, 0],
        [1, 1],
      ]),
      segment('a', [
        [1, 1],
        [2, 2],
      ]),
      segment('b', [[5, 5]]),
      segment('a', [[3, 3]]),
    ];

    // Act
    const merged = mergeStrokes(items);

    // Assess
    expect(merged).toEqual([
      segment('a', [
        [0, 0],
        [1, 1],
        [2, 2],
      ]),
      segment('b', [[5, 5]]),
      segment('a', [[3, 3]]),
    ]);
    expect(items[0]?.points).toHaveLength(2);
  });

  it('keeps segments apart when color or width changes', () => {
    // Prepare
    const red = { ...segment('a', [[0, 0]]), color: '#f00' };

    // Act
    const merged = mergeStrokes([segment('a', [[0, 0]]), red]);

    // Assess
    expect(merged).toHaveLength(2);
  });
});
