// The diffusion classifier (method.md §5): for each image, N (ε, t) pairs shared by every class;
// the ε-prediction error of every (pair, class); majority vote and mean from the same errors.
// Work from several images is packed into large model calls; with early stopping, images that are
// decided drop out and their slots go to the next images. With staged pruning (cfg.prune) the
// pairs after the first `afterPairs` are evaluated for the kept classes only (NaN for the others).
import { rowsThatFit } from '../models/index.ts';
import { tf } from '../runtime/index.ts';
import { alphaSigma, logSnr as logSnrAt } from '../diffusion/index.ts';
import { Rng } from '../util/index.ts';
import type { DiffusionPipeline } from '../pipeline/index.ts';
import { mirrorSome } from '../data/index.ts';
import { validateClassifyConfig } from './config.ts';
import type { ClassifyConfig, ImageResult } from './types.ts';
import {
  effectivePrune, keptClasses, majorityVote, meanDecision, meanErrors, offsetDecision, pairVote, thresholdDecision, voteEntropy, type PruneConfig,
} from '../stats/index.ts';
import { shouldStopEarly } from './stopping.ts';

/** What the classifier needs of a model: the pipeline (denoiser, preprocessing, schedule, classes). */
export type ClassifierModel = DiffusionPipeline;

/** FNV-1a over the float bits, mixed with the seed: each image's pairs depend on its content and
 * the seed only, so results do not depend on batch size, order or which other images are present. */
export function imageSeed(x: Float32Array, seed: number): number {
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
  /** Classes evaluated from pair afterPairs on (null: every class; pruning has not happened). */
  kept: number[] | null;
  /** Forward passes spent on this image, counted as the rows are built. */
  passes: number;
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
  /** cfg.prune when it prunes anything (keep < K, afterPairs < n), else null. */
  private readonly prune: PruneConfig | null;
  private readonly allClasses: readonly number[];
  constructor(readonly m: ClassifierModel, config: Partial<ClassifyConfig> = {}) {
    this.cfg = validateClassifyConfig(config);
    this.prune = effectivePrune(this.cfg.prune, m.classNames.length, this.cfg.n);
    this.allClasses = Array.from({ length: m.classNames.length }, (_, c) => c);
    const o = this.cfg.classOffsets;
    if (o && o.length !== m.classNames.length) throw new Error(`classify config: 'classOffsets' has ${o.length} values; this model has ${m.classNames.length} classes (${m.classNames.join(', ')})`);
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
    const votePred = majorityVote(votes, means), meanPred = meanDecision(errors, K, job.used, means);
    const shares = votes.map((v) => v / job.used);
    const d = this.cfg.decisionThreshold, o = this.cfg.classOffsets;
    const decided = d ? thresholdDecision(shares[d.positive]!, d.threshold, d.positive) : o ? offsetDecision(shares, o, means) : votePred;
    return {
      predicted: this.cfg.aggregate === 'vote' ? decided : meanPred, votePred, meanPred, votes, shares, entropy: voteEntropy(votes), meanErrors: means,
      errors: this.cfg.keepErrors ? Float32Array.from(errors) : undefined,
      times: this.cfg.keepErrors ? job.times.slice(0, job.used) : undefined,
      pairsUsed: job.used, forwardPasses: job.passes, keptClasses: [...(job.kept ?? this.allClasses)],
    };
  }

  private shouldStop(job: Job): boolean {
    return shouldStopEarly(job.errors, job.used, this.numClasses, this.cfg);
  }

  /** The classes evaluated on one pair of one image: all of them, or the kept ones after pruning. */
  private classesOf(job: Job, pair: number): readonly number[] {
    return job.kept && pair >= this.prune!.afterPairs ? job.kept : this.allClasses;
  }

  /** Errors of a set of (job, pair) tasks for their classes, written into the jobs (NaN for pruned classes). */
  private evaluate(tasks: { job: Job; pair: number; classes: readonly number[] }[]): void {
    const K = this.numClasses;
    const mc = this.m.denoiser.config;
    const px = mc.imageSize * mc.imageSize * mc.inChannels;
    const offsets = new Array<number>(tasks.length); // first row of each task
    let rows = 0;
    tasks.forEach((t, i) => { offsets[i] = rows; rows += t.classes.length; });
    const z = new Float32Array(rows * px), eps = new Float32Array(rows * px);
    const lam = new Float32Array(rows), alpha = new Float32Array(rows), sigma = new Float32Array(rows);
    const cls = new Int32Array(rows);
    tasks.forEach(({ job, pair, classes }, i) => {
      const l = logSnrAt(job.times[pair]!, this.m.schedule);
      const { alpha: a, sigma: s } = alphaSigma(l);
      const e = job.rng.normals(px); // pairs are drawn in order, so pair k's ε is fixed by the seed
      const x = pair % 2 === 1 && job.xMirror ? job.xMirror : job.x;
      const zi = new Float32Array(px);
      for (let j = 0; j < px; j++) zi[j] = a * x[j]! + s * e[j]!;
      classes.forEach((c, j) => {
        const r = offsets[i]! + j;
        z.set(zi, r * px); eps.set(e, r * px);
        lam[r] = l; alpha[r] = a; sigma[r] = s; cls[r] = c;
      });
    });
    const err = tf.tidy(() => {
      const shape: [number, number, number, number] = [rows, mc.imageSize, mc.imageSize, mc.inChannels];
      const zt = tf.tensor4d(z, shape);
      const v = this.m.denoiser.apply(zt, tf.tensor1d(lam), tf.tensor1d(cls, 'int32'));
      const col = (a: Float32Array) => tf.tensor4d(a, [rows, 1, 1, 1]);
      const epsHat = tf.add(tf.mul(col(sigma), zt), tf.mul(col(alpha), v));
      return tf.mean(tf.square(tf.sub(epsHat, tf.tensor4d(eps, shape))), [1, 2, 3]).dataSync() as Float32Array;
    });
    tasks.forEach(({ job, pair, classes }, i) => {
      job.errors.fill(NaN, pair * K, (pair + 1) * K);
      classes.forEach((c, j) => { job.errors[pair * K + c] = err[offsets[i]! + j]!; });
      job.passes += classes.length;
    });
  }

  /**
   * Classify `count` images given as NHWC floats in [−1, 1] at the model's image size.
   * Deterministic for a seed, and independent of batch size and of the other images.
   */
  classify(images: Float32Array, count: number, opts: ClassifyCallOptions | ((p: ClassifyProgress) => void) = {}): ImageResult[] {
    const { onProgress, signal } = typeof opts === 'function' ? { onProgress: opts, signal: undefined } : opts;
    const { n, seed, times, tRange, earlyStop, chunk } = this.cfg;
    // fewer rows per call where the configured batch would not fit the tensor heap (64² and up); results do not change
    const batchSize = rowsThatFit(this.m.denoiser, this.cfg.batchSize);
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
        active.push({ index: next, x, xMirror, times: drawTimes(n, times, tRange, rng), rng, errors: new Float32Array(n * K), used: 0, done: false, kept: null, passes: 0 });
        next++;
      }
    };
    admit();
    const prune = this.prune;
    // a round ends at afterPairs so the kept classes are chosen before the next pair is evaluated
    const roundEnd = (job: Job) => Math.min(n, job.used + step, prune && !job.kept && job.used < prune.afterPairs ? prune.afterPairs : n);
    while (active.length) {
      const tasks: { job: Job; pair: number; classes: readonly number[] }[] = [];
      for (const job of active) for (let k = job.used; k < roundEnd(job); k++) tasks.push({ job, pair: k, classes: this.classesOf(job, k) });
      // model calls of at most batchSize rows (one task at least); tasks stay in pair order, so each
      // image draws its ε in the same sequence whatever is pruned
      for (let s = 0; s < tasks.length;) {
        signal?.throwIfAborted();
        let e = s, rows = 0;
        while (e < tasks.length && (e === s || rows + tasks[e]!.classes.length <= batchSize)) rows += tasks[e++]!.classes.length;
        this.evaluate(tasks.slice(s, e));
        passes += rows;
        s = e;
      }
      for (const job of active) {
        job.used = roundEnd(job);
        if (prune && !job.kept && job.used >= prune.afterPairs) job.kept = keptClasses(job.errors, K, prune.afterPairs, prune.keep);
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
