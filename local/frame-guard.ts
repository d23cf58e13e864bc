/**
 * Watches the raw bytes a client sends on an upgraded socket and spots, from the frame headers alone,
 * a data frame larger than API Gateway's frame limit (32 KB) or a message (a frame and its continuations)
 * larger than the message limit (128 KB). `ws` only limits whole messages, so the frame limit is ours.
 * Extensions are never negotiated, so header lengths are the payload sizes on the wire.
 */
export type FrameViolation = 'frame' | 'message';

export class FrameGuard {
  private header: Buffer = Buffer.alloc(0);
  private skip = 0;
  private messageBytes = 0;
  private violation: FrameViolation | undefined;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly maxMessageBytes: number,
  ) {}

  /** Feeds received bytes; returns the first violation seen (and keeps returning it). */
  push(chunk: Buffer): FrameViolation | undefined {
    let offset = 0;
    while (!this.violation && offset < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - offset);
        this.skip -= n;
        offset += n;
        continue;
      }
      const needed = headerLength(this.header);
      const take = Math.min(needed - this.header.length, chunk.length - offset);
      this.header = Buffer.concat([this.header, chunk.subarray(offset, offset + take)]);
      offset += take;
      if (this.header.length === headerLength(this.header)) this.onHeader();
    }
    return this.violation;
  }

  private onHeader(): void {
    const h = this.header;
    const fin = ((h[0] as number) & 0x80) !== 0;
    const opcode = (h[0] as number) & 0x0f;
    const len7 = (h[1] as number) & 0x7f;
    const length = len7 === 126 ? h.readUInt16BE(2) : len7 === 127 ? Number(h.readBigUInt64BE(2)) : len7;
    this.header = Buffer.alloc(0);
    this.skip = length;
    if (opcode >= 0x8) return; // control frames (close, ping, pong) are at most 125 bytes
    this.messageBytes = opcode === 0x0 ? this.messageBytes + length : length;
    if (length > this.maxFrameBytes) this.violation = 'frame';
    else if (this.messageBytes > this.maxMessageBytes) this.violation = 'message';
    if (fin) this.messageBytes = 0;
  }
}

/** Bytes the frame header has in total, given what we have of it (2 until the length byte is known). */
function headerLength(partial: Buffer): number {
  if (partial.length < 2) return 2;
  const len7 = (partial[1] as number) & 0x7f;
  const masked = ((partial[1] as number) & 0x80) !== 0;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0);
}
