import { fitsInFrame, MAX_MESSAGE_FRAME_BYTES, messageParts } from '../../layers/shared/src/message';
import type { Member } from '../../layers/shared/src/protocol';

const from: Member = { userId: 'u1', name: 'Ann "the teacher"', role: 'teacher' };
const newMessage = { classRoomId: 'room-1', from, kind: 'chat', data: { text: 'héllo ✓', n: [1, null] } };

describe('Function: messageParts', () => {
  it('builds the message frame of SPEC §4 with the epoch and seq in place', () => {
    // Prepare
    const parts = messageParts(newMessage, 'id-1', 1_700_000_000_000);

    // Act
    const frame = JSON.parse(parts.withSeq(1_764_664_818_123_456, 42));

    // Assess
    expect(frame).toEqual({
      type: 'message',
      classRoomId: 'room-1',
      epoch: 1_764_664_818_123_456,
      seq: 42,
      id: 'id-1',
      from: { userId: 'u1', name: 'Ann "the teacher"', role: 'teacher' },
      kind: 'chat',
      data: { text: 'héllo ✓', n: [1, null] },
      sentAt: 1_700_000_000_000,
    });
  });

  it('builds a frame with the epoch and without seq for transient messages', () => {
    // Prepare
    const parts = messageParts(newMessage, 'id-1', 5);

    // Act
    const frame = JSON.parse(parts.withoutSeq(3));

    // Assess
    expect('seq' in frame).toBe(false);
    expect(frame).toEqual({ ...JSON.parse(parts.withSeq(3, 1)), seq: undefined });
  });

  it('is head + epoch + `,"seq":` + seq + tail, as the Lua script stores it', () => {
    // Prepare
    const parts = messageParts(newMessage);

    // Act
    const frame = parts.withSeq(9, 7);

    // Assess
    expect(frame).toBe(`${parts.head}9,"seq":7${parts.tail}`);
  });

  it('copies only userId, name and role of the sender', () => {
    // Prepare
    const sender = { ...from, secret: 'x' } as Member;

    // Act
    const frame = JSON.parse(messageParts({ ...newMessage, from: sender }).withSeq(1, 1));

    // Assess
    expect(frame.from).toEqual({ userId: 'u1', name: 'Ann "the teacher"', role: 'teacher' });
  });

  it('generates an id and a timestamp when none is given', () => {
    // Prepare
    const before = Date.now();

    // Act
    const a = messageParts(newMessage);
    const b = messageParts(newMessage);

    // Assess
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.id).not.toBe(b.id);
    expect(a.sentAt).toBeGreaterThanOrEqual(before);
    expect(a.sentAt).toBeLessThanOrEqual(Date.now());
  });

  it.each([[1], [999_999], [Number.MAX_SAFE_INTEGER]])('bounds the frame size for epoch and seq %p', (n) => {
    // Prepare
    const parts = messageParts(newMessage);

    // Act
    const sizes = [Buffer.byteLength(parts.withSeq(n, n)), Buffer.byteLength(parts.withoutSeq(n))];

    // Assess
    for (const size of sizes) expect(parts.bytes).toBeGreaterThanOrEqual(size);
  });
});

describe('Function: fitsInFrame', () => {
  it('accepts an ordinary message', () => {
    // Prepare & Act & Assess
    expect(fitsInFrame(messageParts(newMessage))).toBe(true);
  });

  it('refuses a message with ~130 KB of data', () => {
    // Prepare
    const parts = messageParts({ ...newMessage, kind: 'whiteboard', data: { strokes: 'x'.repeat(130_000) } });

    // Act
    const fits = fitsInFrame(parts);

    // Assess
    expect(fits).toBe(false);
    expect(parts.bytes).toBeGreaterThan(MAX_MESSAGE_FRAME_BYTES);
  });

  it('counts multi-byte data in bytes', () => {
    // Prepare: 50 000 three-byte characters are ~150 KB, though only 50 000 string units
    const parts = messageParts({ ...newMessage, data: '✓'.repeat(50_000) });

    // Act
    const fits = fitsInFrame(parts);

    // Assess
    expect(fits).toBe(false);
  });

  it('accepts a message right at the stored-message limit', () => {
    // Prepare
    const empty = messageParts({ ...newMessage, data: '' });
    const parts = messageParts({ ...newMessage, data: 'x'.repeat(MAX_MESSAGE_FRAME_BYTES - empty.bytes) });

    // Act & Assess
    expect(parts.bytes).toBe(MAX_MESSAGE_FRAME_BYTES);
    expect(fitsInFrame(parts)).toBe(true);
    expect(
      fitsInFrame(
        messageParts({ ...newMessage, data: `${'x'.repeat(MAX_MESSAGE_FRAME_BYTES - empty.bytes)}y` }),
      ),
    ).toBe(false);
  });
});
