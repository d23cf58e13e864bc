/**
 * The shared whiteboard: a canvas the user draws on with a pointer, and on which strokes from others are
 * drawn. Points are in board coordinates (0..1 on each axis), so windows of any size agree.
 */
import type { StrokeSegment } from '../../client/src';

/** Line width is given for a 960-pixel-wide board. */
const BASE_WIDTH = 960;

export class Whiteboard {
  color = '#1f2937';
  width = 3;
  private drawing?: { strokeId: string; last: [number, number] };
  private segments = 0;
  private readonly ctx: CanvasRenderingContext2D;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    /** A segment the user just drew (already on this board), to share with the class. */
    private readonly onSegment: (segment: StrokeSegment) => void,
  ) {
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('Canvas 2D is not available');
    this.ctx = ctx;
    this.clear();
    canvas.addEventListener('pointerdown', (event) => this.start(event));
    canvas.addEventListener('pointermove', (event) => this.move(event));
    for (const type of ['pointerup', 'pointercancel', 'pointerleave'] as const) {
      canvas.addEventListener(type, () => {
        this.drawing = undefined;
      });
    }
  }

  /** Draws a segment (a polyline; one point is a dot). */
  draw(segment: StrokeSegment): void {
    const { ctx, canvas } = this;
    const points = segment.points;
    const first = points[0];
    if (!first) return;
    ctx.strokeStyle = segment.color;
    ctx.fillStyle = segment.color;
    ctx.lineWidth = (segment.width * canvas.width) / BASE_WIDTH;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    if (points.length === 1) {
      ctx.beginPath();
      ctx.arc(first[0] * canvas.width, first[1] * canvas.height, ctx.lineWidth / 2, 0, Math.PI * 2);
      ctx.fill();
    } else {
      ctx.beginPath();
      ctx.moveTo(first[0] * canvas.width, first[1] * canvas.height);
      for (const [x, y] of points.slice(1)) ctx.lineTo(x * canvas.width, y * canvas.height);
      ctx.stroke();
    }
    this.segments += 1;
    canvas.dataset.segments = String(this.segments);
  }

  clear(): void {
    this.ctx.fillStyle = '#ffffff';
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.segments = 0;
    this.canvas.dataset.segments = '0';
  }

  private start(event: PointerEvent): void {
    if (event.button !== 0) return;
    this.canvas.setPointerCapture(event.pointerId);
    const point = this.toBoard(event);
    this.drawing = { strokeId: randomStrokeId(), last: point };
    this.emit([point]);
  }

  private move(event: PointerEvent): void {
    if (!this.drawing) return;
    const point = this.toBoard(event);
    const [lx, ly] = this.drawing.last;
    if (Math.abs(point[0] - lx) < 0.001 && Math.abs(point[1] - ly) < 0.001) return;
    this.emit([this.drawing.last, point]);
    this.drawing.last = point;
  }

  private emit(points: Array<[number, number]>): void {
    if (!this.drawing) return;
    const segment: StrokeSegment = {
      strokeId: this.drawing.strokeId,
      color: this.color,
      width: this.width,
      points,
    };
    this.draw(segment);
    this.onSegment(segment);
  }

  private toBoard(event: PointerEvent): [number, number] {
    const rect = this.canvas.getBoundingClientRect();
    const round = (value: number) => Math.round(Math.min(1, Math.max(0, value)) * 10_000) / 10_000;
    return [round((event.clientX - rect.left) / rect.width), round((event.clientY - rect.top) / rect.height)];
  }
}

function randomStrokeId(): string {
  return Math.random().toString(36).slice(2, 10);
}
