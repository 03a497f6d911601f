// The multiscale out-of-distribution score (v2, docs/reliability.md): the log ε-errors of the
// unconditional denoiser (the null class: the image's own likelihood, not a class's) at fixed
// diffusion times, and their Mahalanobis distance from training images. Fitted by `calibrate
// --ood-score multiscale`, applied by classify and evaluate --ood. With `bands` (v3) the vector
// also holds the input's complexity — its Haar bands' energies — because a smooth image is easy to
// denoise whatever it shows (Serrà et al. 2020): the Gaussian then scores the error given the
// complexity.
import { rowsThatFit } from '../models/index.ts';
import { tf } from '../runtime/index.ts';
import { alphaSigma, logSnr as logSnrAt } from '../diffusion/index.ts';
import { Rng, hashSeed } from '../util/index.ts';
import { OOD_BAND_FEATURES, multiscaleFeatureCount, type DiffusionPipeline, type MultiscaleOod, type OodScoreKind } from '../pipeline/index.ts';
import { conformalThreshold, fitGaussian, mahalanobis } from '../stats/index.ts';
import { DEFAULT_CLASSIFY_CONFIG } from './constants.ts';
import { imageSeed } from './classifier.ts';

export const OOD_SCORE_KINDS: readonly OodScoreKind[] = ['min-class-mean-error', 'multiscale'];

export interface MultiscaleOodConfig {
  /** Diffusion times of the features, one noise draw each (one forward pass per time and image). */
  times: number[];
  /** Training images the Gaussian is fitted on (evenly spread over the training split). */
  trainImages: number;
  /** Added to the covariance's diagonal, × its mean variance. */
  ridgeFactor: number;
  /** Mixed with each image's content into its noise seed. */
  seed: number;
  /** v3: append the OOD_BAND_FEATURES statistics of the model input (no extra forward pass). */
  bands: boolean;
}

/** The pre-registered settings (docs/results-notes.md, "Out-of-distribution score v2"). */
export const DEFAULT_MULTISCALE_OOD_CONFIG: Readonly<MultiscaleOodConfig> = Object.freeze({
  times: Array.from({ length: 10 }, (_, i) => Math.round((0.05 + 0.1 * i) * 100) / 100),
  trainImages: 300,
  ridgeFactor: 1e-3,
  seed: 0,
  bands: false,
});

export function validateMultiscaleOodConfig(c: Partial<MultiscaleOodConfig> = {}): MultiscaleOodConfig {
  const cfg = { ...DEFAULT_MULTISCALE_OOD_CONFIG, ...c };
  if (!(Array.isArray(cfg.times) && cfg.times.length >= 1 && cfg.times.every((t) => t > 0 && t < 1) && new Set(cfg.times).size === cfg.times.length)) {
    throw new Error(`multiscale OOD config: 'times' must be distinct diffusion times in (0, 1), got ${JSON.stringify(cfg.times)}`);
  }
  if (!(Number.isFinite(cfg.ridgeFactor) && cfg.ridgeFactor >= 0)) throw new Error(`multiscale OOD config: 'ridgeFactor' must be a number ≥ 0, got ${cfg.ridgeFactor}`);
  if (!(Number.isSafeInteger(cfg.seed) && cfg.seed >= 0)) throw new Error(`multiscale OOD config: 'seed' must be a non-negative integer, got ${cfg.seed}`);
  if (typeof cfg.bands !== 'boolean') throw new Error(`multiscale OOD config: 'bands' must be true or false, got ${JSON.stringify(cfg.bands)}`);
  // the covariance of d features needs more than d vectors to be estimated at all
  const d = multiscaleFeatureCount(cfg);
  if (!(Number.isSafeInteger(cfg.trainImages) && cfg.trainImages > d)) throw new Error(`multiscale OOD config: 'trainImages' (--ood-train-images) must be an integer > ${d} (the number of ${cfg.bands ? 'features' : 'times'}), got ${cfg.trainImages}`);
  return { ...cfg, times: [...cfg.times] };
}

/**
 * The input-complexity statistics of one model-space image (NHWC Haar array of side² × 4C values,
 * channels [LL(C), LH(C), HL(C), HH(C)]): log mean square of each band over its C channels, then
 * the mean of LL. Pure; the floor keeps a blank band finite.
 */
export function bandFeatures(x: Float32Array, channels: number): number[] {
  const C4 = 4 * channels, pixels = x.length / C4;
  if (!Number.isInteger(pixels) || pixels < 1) throw new Error(`bandFeatures: ${x.length} values are not whole pixels of ${C4} channels`);
  const sq = [0, 0, 0, 0];
  let ll = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!, band = Math.floor((i % C4) / channels);
    sq[band]! += v * v;
    if (band === 0) ll += v;
  }
  const n = pixels * channels;
  return [...sq.map((e) => Math.log(Math.max(e / n, 1e-30))), ll / n];
}

export interface FeatureOptions {
  times: readonly number[];
  seed: number;
  /** Append bandFeatures (v3). */
  bands?: boolean;
  /** Forward passes per model call (default: the classifier's). */
  batchSize?: number;
  signal?: AbortSignal;
}

/**
 * The feature vector of each image: log ε-MSE of the null-class denoiser at each time (then, with
 * `bands`, the input's bandFeatures). Each
 * image's noise is seeded from its pixels and the seed only (as the classifier's pairs), so its
 * features do not depend on batch, order or the other images.
 */
export function multiscaleFeatures(p: DiffusionPipeline, images: Float32Array, count: number, o: FeatureOptions): number[][] {
  const T = o.times.length;
  const mc = p.denoiser.config, px = mc.imageSize * mc.imageSize * mc.inChannels, ppx = images.length / count;
  const xs = p.toModelSpaceArray(images, count);
  const lam = o.times.map((t) => logSnrAt(t, p.schedule)), as = lam.map((l) => alphaSigma(l));
  const perCall = Math.max(1, Math.floor(rowsThatFit(p.denoiser, o.batchSize ?? DEFAULT_CLASSIFY_CONFIG.batchSize) / T)); // images per model call
  const out: number[][] = [];
  for (let s = 0; s < count; s += perCall) {
    o.signal?.throwIfAborted();
    const n = Math.min(perCall, count - s), rows = n * T;
    const z = new Float32Array(rows * px), eps = new Float32Array(rows * px);
    const l = new Float32Array(rows), al = new Float32Array(rows), si = new Float32Array(rows);
    for (let i = 0; i < n; i++) {
      // a stream of its own, apart from the classifier's pairs for the same image and seed
      const rng = new Rng(hashSeed(imageSeed(images.subarray((s + i) * ppx, (s + i + 1) * ppx), o.seed), 'ood-multiscale'));
      const x = xs.subarray((s + i) * px, (s + i + 1) * px);
      for (let j = 0; j < T; j++) {
        const r = i * T + j, { alpha, sigma } = as[j]!, e = rng.normals(px);
        for (let q = 0; q < px; q++) z[r * px + q] = alpha * x[q]! + sigma * e[q]!;
        eps.set(e, r * px);
        l[r] = lam[j]!; al[r] = alpha; si[r] = sigma;
      }
    }
    const err = tf.tidy(() => {
      const shape: [number, number, number, number] = [rows, mc.imageSize, mc.imageSize, mc.inChannels];
      const zt = tf.tensor4d(z, shape);
      const v = p.denoiser.apply(zt, tf.tensor1d(l), tf.tensor1d(new Int32Array(rows).fill(p.denoiser.nullClass), 'int32'));
      const col = (a: Float32Array) => tf.tensor4d(a, [rows, 1, 1, 1]);
      const epsHat = tf.add(tf.mul(col(si), zt), tf.mul(col(al), v));
      return tf.mean(tf.square(tf.sub(epsHat, tf.tensor4d(eps, shape))), [1, 2, 3]).dataSync() as Float32Array;
    });
    // the floor keeps a perfect (zero) error finite
    for (let i = 0; i < n; i++) {
      const f = Array.from({ length: T }, (_, j) => Math.log(Math.max(err[i * T + j]!, 1e-30)));
      out.push(o.bands ? [...f, ...bandFeatures(xs.subarray((s + i) * px, (s + i + 1) * px), mc.inChannels / 4)] : f);
    }
  }
  return out;
}

/** Multiscale OOD score of each image under a fitted calibration: 10 forward passes per image (one per time). */
export function multiscaleScores(p: DiffusionPipeline, images: Float32Array, count: number, fit: MultiscaleOod, o: { batchSize?: number; signal?: AbortSignal } = {}): number[] {
  const d = multiscaleFeatureCount(fit);
  if (fit.mean.length !== d || fit.precision.length !== d) {
    throw new Error(`multiscale OOD calibration: ${d} features (${fit.times.length} times${fit.bands ? ` + ${OOD_BAND_FEATURES} band statistics` : ''}) but a mean of ${fit.mean.length} and a ${fit.precision.length}-row precision; run meddiff calibrate --ood-score multiscale again`);
  }
  return multiscaleFeatures(p, images, count, { times: fit.times, seed: fit.seed, bands: fit.bands ?? false, ...o }).map((f) => mahalanobis(f, fit.mean, fit.precision));
}

export interface MultiscaleFit {
  calibration: MultiscaleOod;
  /** Said when the conformal rank exceeded the number of fitting images (the largest score is the threshold). */
  notice: string | null;
}

/**
 * Fit the Gaussian on training images and the conformal threshold on the fitting (validation)
 * split: its ⌈(n + 1)·quantile⌉-th smallest score, so that at most 1 − quantile of exchangeable
 * in-distribution images are flagged.
 */
export function fitMultiscaleOod(
  p: DiffusionPipeline, train: { images: Float32Array; count: number }, fitting: { images: Float32Array; count: number; split: string },
  quantile: number, config: Partial<MultiscaleOodConfig> = {}, o: { batchSize?: number; signal?: AbortSignal } = {},
): MultiscaleFit {
  const cfg = validateMultiscaleOodConfig(config);
  if (!(quantile > 0 && quantile < 1)) throw new Error(`--ood-quantile must be in (0, 1), got ${quantile}`);
  const d = multiscaleFeatureCount(cfg);
  if (train.count <= d) throw new Error(`the multiscale OOD score needs more than ${d} training images to fit its covariance; the training split gave ${train.count}`);
  const g = fitGaussian(multiscaleFeatures(p, train.images, train.count, { ...cfg, ...o }), cfg.ridgeFactor);
  // `bands` is stored only when on, so v2 files stay as they were
  const partial = { times: cfg.times, mean: g.mean, precision: g.precision, seed: cfg.seed, ...(cfg.bands ? { bands: true } : {}) };
  const scores = multiscaleFeatures(p, fitting.images, fitting.count, { ...partial, ...o }).map((f) => mahalanobis(f, g.mean, g.precision));
  const c = conformalThreshold(scores, 1 - quantile);
  const calibration: MultiscaleOod = {
    score: 'multiscale', threshold: c.threshold, quantile, ...partial, ridge: g.ridge, trainImages: train.count,
    fittedOn: { split: fitting.split, images: fitting.count, rank: c.rank, capped: c.capped },
  };
  const notice = c.capped
    ? `the conformal OOD threshold needs the ⌈(n + 1)·${quantile}⌉-th smallest of n = ${fitting.count} ${fitting.split} scores, more than there are: using the largest, so the ${(100 * (1 - quantile)).toFixed(1)}% false-flag bound does not hold (use more ${fitting.split} images or a lower --ood-quantile)`
    : null;
  return { calibration, notice };
}
