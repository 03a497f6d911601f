// The diffusion classifier (method.md §5): for each image, N (ε, t) pairs shared by every class;
// the ε-prediction error of every (pair, class); majority vote and mean from the same errors.
// Work from several images is packed into large model calls; with early stopping, images that are
// decided drop out and their slots go to the next images.
import { tf } from '../runtime/index.ts';
import { alphaSigma, logSnr as logSnrAt } from '../diffusion/index.ts';
import { Rng } from '../util/index.ts';
import type { DiffusionPipeline } from '../pipeline/index.ts';
import { mirrorSome } from '../data/index.ts';
import { validateClassifyConfig } from './config.ts';
import type { ClassifyConfig, ImageResult } from './types.ts';
import { argmin, majorityVote, meanErrors, pairVote, thresholdDecision, voteEntropy } from '../stats/index.ts';
import { shouldStopEarly } from './stopping.ts';

/** What the classifier needs of a model: the pipeline (denoiser, preprocessing, schedule, classes). */
export type ClassifierModel = DiffusionPipeline;

/** FNV-1a over the float bits, mixed with the seed: each image's pairs depend on its content and
 * the seed only, so results do not depend on batch size, order or which other images are present. */
function imageSeed(x: Float32Array, seed: number): number {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i]!, 0x01000193);
  return (h >>> 0) + seed * 4294967296 % Number.MAX_SAFE_INTEGER;
}

function drawTimes(n: number, mode: ClassifyConfig['times'], [lo, hi]: [number, number], rng: Rng): Float64Array {
  const t = new Float64Array(n);
  for (let k = 0; k < n; k++) t[k] = mode === 'uniform' ? rng.float() : mode === 'grid' ? (k + 0.5) / n : (k + rng.float()) / n;
  if (mode !== 'uniform') {
    for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); const s = t[i]!; t[i] = t[j]!; t[j] = s; }
  }
  // [0, 1] maps every t to itself, so the paper's rule keeps its exact random stream.
  for (let k = 0; k < n; k++) t[k] = lo + t[k]! * (hi - lo);
  // Keep t inside (0, 1): at t = 0 or 1 the error says nothing about the class.
  for (let k = 0; k < n; k++) t[k] = Math.min(1 - 1e-4, Math.max(1e-4, t[k]!));
  return t;
}

interface Job {
  index: number;
  x: Float32Array; // wavelet-space image, model layout
  xMirror?: Float32Array; // its left-right mirror (cfg.mirror): odd pairs see this view
  times: Float64Array;
  rng: Rng;
  errors: Float32Array;
  used: number;
  done: boolean;
}

export interface ClassifyProgress { done: number; total: number; forwardPasses: number }

export interface ClassifyCallOptions {
  onProgress?: (p: ClassifyProgress) => void;
  /**
   * Checked between model calls: an aborted signal stops the run with its reason. classify() is
   * synchronous, so the abort must come from a callback (onProgress, a denoiser hook) or from
   * another thread sharing the signal's state — a timer on this thread only fires after the call.
   */
  signal?: AbortSignal;
}

export class DiffusionClassifier {
  readonly cfg: ClassifyConfig;
  constructor(readonly m: ClassifierModel, config: Partial<ClassifyConfig> = {}) {
    this.cfg = validateClassifyConfig(config);
    if (m.denoiser.nullClass !== m.classNames.length) throw new Error(`the model has ${m.denoiser.config.numClasses} classes plus a null class; expected ${m.classNames.length} classes`);
    const d = this.cfg.decisionThreshold;
    if (d && (m.classNames.length !== 2 || d.positive > 1)) throw new Error(`a vote-share decision threshold needs a two-class model; this one has ${m.classNames.length} classes (${m.classNames.join(', ')})`);
  }

  get numClasses(): number { return this.m.classNames.length; }

  private finish(job: Job): ImageResult {
    const K = this.numClasses;
    const errors = job.errors.subarray(0, job.used * K);
    const votes = new Array<number>(K).fill(0);
    for (let k = 0; k < job.used; k++) votes[pairVote(errors, k, K)]!++;
    const means = meanErrors(errors, K, job.used);
    const votePred = majorityVote(votes, means), meanPred = argmin(means);
    const shares = votes.map((v) => v / job.used);
    const d = this.cfg.decisionThreshold;
    const decided = d ? thresholdDecision(shares[d.positive]!, d.threshold, d.positive) : votePred;
    return {
      predicted: this.cfg.aggregate === 'vote' ? decided : meanPred, votePred, meanPred, votes, shares, entropy: voteEntropy(votes), meanErrors: means,
      errors: this.cfg.keepErrors ? Float32Array.from(errors) : undefined,
      times: this.cfg.keepErrors ? job.times.slice(0, job.used) : undefined,
      pairsUsed: job.used, forwardPasses: job.used * K,
    };
  }

  private shouldStop(job: Job): boolean {
    return shouldStopEarly(job.errors, job.used, this.numClasses, this.cfg);
  }

  /** Errors of a set of (job, pair) tasks for every class, written into the jobs. */
  private evaluate(tasks: { job: Job; pair: number }[]): void {
    const K = this.numClasses;
    const mc = this.m.denoiser.config;
    const px = mc.imageSize * mc.imageSize * mc.inChannels;
    const rows = tasks.length * K;
    const z = new Float32Array(rows * px), eps = new Float32Array(rows * px);
    const lam = new Float32Array(rows), alpha = new Float32Array(rows), sigma = new Float32Array(rows);
    const cls = new Int32Array(rows);
    tasks.forEach(({ job, pair }, i) => {
      const l = logSnrAt(job.times[pair]!, this.m.schedule);
      const { alpha: a, sigma: s } = alphaSigma(l);
      const e = job.rng.normals(px); // pairs are drawn in order, so pair k's ε is fixed by the seed
      const x = pair % 2 === 1 && job.xMirror ? job.xMirror : job.x;
      const zi = new Float32Array(px);
      for (let j = 0; j < px; j++) zi[j] = a * x[j]! + s * e[j]!;
      for (let c = 0; c < K; c++) {
        const r = i * K + c;
        z.set(zi, r * px); eps.set(e, r * px);
        lam[r] = l; alpha[r] = a; sigma[r] = s; cls[r] = c;
      }
    });
    const err = tf.tidy(() => {
      const shape: [number, number, number, number] = [rows, mc.imageSize, mc.imageSize, mc.inChannels];
      const zt = tf.tensor4d(z, shape);
      const v = this.m.denoiser.apply(zt, tf.tensor1d(lam), tf.tensor1d(cls, 'int32'));
      const col = (a: Float32Array) => tf.tensor4d(a, [rows, 1, 1, 1]);
      const epsHat = tf.add(tf.mul(col(sigma), zt), tf.mul(col(alpha), v));
      return tf.mean(tf.square(tf.sub(epsHat, tf.tensor4d(eps, shape))), [1, 2, 3]).dataSync() as Float32Array;
    });
    tasks.forEach(({ job, pair }, i) => {
      for (let c = 0; c < K; c++) job.errors[pair * K + c] = err[i * K + c]!;
    });
  }

  /**
   * Classify `count` images given as NHWC floats in [−1, 1] at the model's image size.
   * Deterministic for a seed, and independent of batch size and of the other images.
   */
  classify(images: Float32Array, count: number, opts: ClassifyCallOptions | ((p: ClassifyProgress) => void) = {}): ImageResult[] {
    const { onProgress, signal } = typeof opts === 'function' ? { onProgress: opts, signal: undefined } : opts;
    const { n, seed, times, tRange, batchSize, earlyStop, chunk } = this.cfg;
    const K = this.numClasses;
    const xs = this.m.toModelSpaceArray(images, count);
    const xsMirror = this.cfg.mirror ? this.m.toModelSpaceArray(mirrorSome(images, [count, this.m.imageSize, this.m.imageSize, this.m.channels], new Array<boolean>(count).fill(true)), count) : undefined;
    const mc = this.m.denoiser.config;
    const px = mc.imageSize * mc.imageSize * mc.inChannels;
    const results = new Array<ImageResult>(count);
    const perCall = Math.max(1, Math.floor(batchSize / K)); // (image, pair) tasks per model call
    const step = earlyStop === 'off' ? n : chunk;
    let next = 0, finished = 0, passes = 0;
    const active: Job[] = [];
    const admit = () => {
      // Enough images in flight to fill a model call with `step` pairs each.
      while (next < count && active.length * Math.min(step, n) < perCall) {
        const x = xs.subarray(next * px, (next + 1) * px);
        const rng = new Rng(imageSeed(images.subarray(next * (images.length / count), (next + 1) * (images.length / count)), seed));
        const xMirror = xsMirror?.subarray(next * px, (next + 1) * px);
        active.push({ index: next, x, xMirror, times: drawTimes(n, times, tRange, rng), rng, errors: new Float32Array(n * K), used: 0, done: false });
        next++;
      }
    };
    admit();
    while (active.length) {
      const tasks: { job: Job; pair: number }[] = [];
      for (const job of active) for (let k = job.used; k < Math.min(n, job.used + step); k++) tasks.push({ job, pair: k });
      for (let s = 0; s < tasks.length; s += perCall) {
        signal?.throwIfAborted();
        this.evaluate(tasks.slice(s, s + perCall));
      }
      passes += tasks.length * K;
      for (const job of active) {
        job.used = Math.min(n, job.used + step);
        if (this.shouldStop(job)) {
          job.done = true;
          results[job.index] = this.finish(job);
          finished++;
        }
      }
      for (let i = active.length - 1; i >= 0; i--) if (active[i]!.done) active.splice(i, 1);
      onProgress?.({ done: finished, total: count, forwardPasses: passes });
      admit();
    }
    return results;
  }
}
