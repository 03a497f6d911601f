/**
 * Seeded, resumable mini-batch stream. Epoch e's order is a pure function of (seed, e), so a run
 * resumed at (epoch, index) sees exactly the batches an uninterrupted run would have seen.
 */
import { Rng, hashSeed } from '../util/index.ts';

export interface BatchSource {
  size: number;
  /** [H, W, C] of every image. */
  shape: readonly [number, number, number];
  get(i: number): { image: Float32Array; label: number } | Promise<{ image: Float32Array; label: number }>;
}

/** Position of the next batch: epoch number and batch index within that epoch. */
export interface BatchPosition { epoch: number; index: number }

export interface Batch {
  /** NHWC, B×H×W×C. */
  images: Float32Array;
  labels: Int32Array;
  shape: [number, number, number, number];
  /** Source indices of the rows (for logging or looking up paths). */
  indices: Int32Array;
  epoch: number;
  index: number;
  /** Global step: epoch * batchesPerEpoch + index. */
  step: number;
  /** Where to resume after this batch has been consumed (store it in checkpoints). */
  next: BatchPosition;
}

export interface BatchStreamOptions {
  batchSize: number;
  seed?: number;
  /** Default true. false = source order every epoch (evaluation). */
  shuffle?: boolean;
  /** Drop the last incomplete batch of each epoch (default true: fixed shapes for training). */
  dropLast?: boolean;
  /** Stop after this many epochs (counted from 0, not from the start position). Default: endless. */
  epochs?: number;
  /** Resume point: a position or a global step. Default the beginning. */
  start?: BatchPosition | { step: number };
  /** Batches prepared ahead of the consumer (default 1: batch k+1 is built while k is used). */
  prefetch?: number;
}

export class BatchStream implements AsyncIterable<Batch> {
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  readonly start: BatchPosition;
  private readonly opts: Required<Omit<BatchStreamOptions, 'start'>>;
  private cache: { epoch: number; order: Int32Array } | null = null;

  constructor(private readonly source: BatchSource, opts: BatchStreamOptions) {
    const b = opts.batchSize;
    if (!Number.isInteger(b) || b < 1) throw new Error(`batchSize must be a positive integer, got ${b}`);
    this.opts = { batchSize: b, seed: opts.seed ?? 0, shuffle: opts.shuffle ?? true, dropLast: opts.dropLast ?? true,
      epochs: opts.epochs ?? Infinity, prefetch: Math.max(0, opts.prefetch ?? 1) };
    this.batchSize = b;
    const n = source.size;
    this.batchesPerEpoch = this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
    if (this.batchesPerEpoch === 0) {
      throw new Error(`the split has ${n} samples, fewer than batchSize ${b}` + (n > 0 ? '; lower batchSize or set dropLast: false' : ''));
    }
    const s = opts.start ?? { epoch: 0, index: 0 };
    this.start = 'step' in s ? this.positionOfStep(s.step) : this.normalize(s);
  }

  positionOfStep(step: number): BatchPosition {
    if (!Number.isInteger(step) || step < 0) throw new Error(`step must be a non-negative integer, got ${step}`);
    return { epoch: Math.floor(step / this.batchesPerEpoch), index: step % this.batchesPerEpoch };
  }

  private normalize(p: BatchPosition): BatchPosition {
    if (!Number.isInteger(p.epoch) || !Number.isInteger(p.index) || p.epoch < 0 || p.index < 0) {
      throw new Error(`invalid batch position {epoch: ${p.epoch}, index: ${p.index}}`);
    }
    return this.positionOfStep(p.epoch * this.batchesPerEpoch + p.index);
  }

  /** Sample order of an epoch (seeded permutation, or identity without shuffle). */
  epochOrder(epoch: number): Int32Array {
    if (this.cache?.epoch === epoch) return this.cache.order;
    const n = this.source.size;
    const order = this.opts.shuffle ? new Rng(hashSeed(this.opts.seed, 'epoch', epoch)).permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    this.cache = { epoch, order };
    return order;
  }

  /** Build the batch at a position (random access; used by the iterator). */
  async batchAt(pos: BatchPosition): Promise<Batch> {
    const { epoch, index } = this.normalize(pos);
    const order = this.epochOrder(epoch);
    const from = index * this.batchSize, to = Math.min(order.length, from + this.batchSize);
    const bsz = to - from;
    const [h, w, c] = this.source.shape, px = h * w * c;
    const images = new Float32Array(bsz * px), labels = new Int32Array(bsz);
    const indices = order.slice(from, to);
    const samples = await Promise.all(Array.from(indices, (i) => this.source.get(i)));
    samples.forEach((s, r) => {
      if (s.image.length !== px) throw new Error(`sample ${indices[r]} has ${s.image.length} values, expected ${h}x${w}x${c}=${px}`);
      images.set(s.image, r * px); labels[r] = s.label;
    });
    const step = epoch * this.batchesPerEpoch + index;
    return { images, labels, shape: [bsz, h, w, c], indices, epoch, index, step, next: this.positionOfStep(step + 1) };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Batch> {
    let step = this.start.epoch * this.batchesPerEpoch + this.start.index;
    const end = this.opts.epochs * this.batchesPerEpoch;
    const queue: Promise<Batch>[] = [];
    const fill = () => {
      while (queue.length <= this.opts.prefetch && step < end) {
        const pos = this.positionOfStep(step++);
        // Deferred so the build overlaps whatever the consumer awaits next.
        const p = new Promise<Batch>((res, rej) => setImmediate(() => this.batchAt(pos).then(res, rej)));
        p.catch(() => {}); // surfaced when awaited below; avoids an unhandled rejection meanwhile
        queue.push(p);
      }
    };
    // Refill before awaiting, not after: while the consumer holds batch k only k+1..k+prefetch are in flight.
    for (fill(); queue.length > 0; fill()) yield await queue.shift()!;
  }
}
