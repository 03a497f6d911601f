// Forward process and v-parameterisation (method.md §1). All functions broadcast a per-example
// log-SNR of shape [B] over the remaining axes (NHWC in practice) and return new tensors.
import { tf } from '../runtime/index.ts';
import { Rng } from '../util/index.ts';
import { DEFAULT_LOSS_OPTIONS, DEFAULT_MIN_SNR_GAMMA, DEFAULT_SAMPLE_TIMES_OPTIONS } from './constants.ts';
import { alphaSigma, sigmoid } from './schedule.ts';
import type { DiffusionLossOptions, LogSnrLike, SampleTimesOptions, UniformSource } from './types.ts';

/** α, σ as tensors that broadcast against `like` ([B,1,1,1] for NHWC, scalars for a number λ). */
function coefs(logSnr: LogSnrLike, like: tf.Tensor, what: string): { alpha: tf.Tensor; sigma: tf.Tensor } {
  if (typeof logSnr === 'number') {
    const { alpha, sigma } = alphaSigma(logSnr);
    return { alpha: tf.scalar(alpha), sigma: tf.scalar(sigma) };
  }
  if (logSnr.rank !== 1 || logSnr.shape[0] !== like.shape[0]) {
    throw new Error(`${what}: logSnr must have shape [${like.shape[0]}] (one per example), got [${logSnr.shape.join(', ')}]`);
  }
  const shape = [logSnr.shape[0], ...new Array<number>(like.rank - 1).fill(1)];
  return { alpha: tf.sqrt(tf.sigmoid(logSnr)).reshape(shape), sigma: tf.sqrt(tf.sigmoid(tf.neg(logSnr))).reshape(shape) };
}

function sameShape(a: tf.Tensor, b: tf.Tensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${what}: shapes differ, [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  }
}

/** p·a + q·b with (p, q) taken from (α, σ) of λ: the one linear form behind all four maps below. */
function combine<T extends tf.Tensor>(a: T, b: T, logSnr: LogSnrLike, pick: (c: { alpha: tf.Tensor; sigma: tf.Tensor }) => [tf.Tensor, tf.Tensor], what: string): T {
  sameShape(a, b, what);
  return tf.tidy(() => {
    const [p, q] = pick(coefs(logSnr, a, what));
    return tf.add(tf.mul(p, a), tf.mul(q, b)) as T;
  });
}

/** Forward process z = α·x + σ·ε. */
export function addNoise<T extends tf.Tensor>(x: T, eps: T, logSnr: LogSnrLike): T {
  return combine(x, eps, logSnr, ({ alpha, sigma }) => [alpha, sigma], 'addNoise');
}

/** v target v = α·ε − σ·x. */
export function vTarget<T extends tf.Tensor>(x: T, eps: T, logSnr: LogSnrLike): T {
  return combine(eps, x, logSnr, ({ alpha, sigma }) => [alpha, tf.neg(sigma)], 'vTarget');
}

/** x̂₀ = α·z − σ·v̂. */
export function predictX0<T extends tf.Tensor>(z: T, v: T, logSnr: LogSnrLike): T {
  return combine(z, v, logSnr, ({ alpha, sigma }) => [alpha, tf.neg(sigma)], 'predictX0');
}

/** ε̂ = σ·z + α·v̂. */
export function predictEps<T extends tf.Tensor>(z: T, v: T, logSnr: LogSnrLike): T {
  return combine(z, v, logSnr, ({ alpha, sigma }) => [sigma, alpha], 'predictEps');
}

/**
 * min-SNR-γ weight for a v-space loss: min(SNR, γ)/(SNR + 1), SNR = e^λ. Written as
 * min(sigmoid(λ), γ·sigmoid(−λ)) (equal case by case), which never overflows.
 */
export function minSnrWeightValue(lam: number, gamma = DEFAULT_MIN_SNR_GAMMA): number {
  return Math.min(sigmoid(lam), gamma * sigmoid(-lam));
}

/** Tensor version of minSnrWeightValue, elementwise over λ. */
export function minSnrWeight<T extends tf.Tensor>(logSnr: T, gamma = DEFAULT_MIN_SNR_GAMMA): T {
  if (!(gamma > 0)) throw new Error(`minSnrWeight: gamma must be > 0, got ${gamma}`);
  return tf.tidy(() => tf.minimum(tf.sigmoid(logSnr), tf.mul(gamma, tf.sigmoid(tf.neg(logSnr)))) as T);
}

/**
 * Training loss L = (1/B)·Σ_b w(λ_b)·mean_pixels (v̂_b − v_b)². The per-example pixel mean keeps
 * the loss scale independent of image size; the weight is applied per example (it depends on λ_b
 * only) and then batch-averaged. With v targets this equals min-SNR-γ on the ε loss
 * (‖ε̂ − ε‖² = α²‖v̂ − v‖²). minSnrGamma null = unweighted v-MSE.
 */
export function diffusionLoss(vPred: tf.Tensor, vTarget: tf.Tensor, logSnr: tf.Tensor1D, options: Partial<DiffusionLossOptions> = {}): tf.Scalar {
  const { minSnrGamma } = { ...DEFAULT_LOSS_OPTIONS, ...options };
  sameShape(vPred, vTarget, 'diffusionLoss');
  if (logSnr.rank !== 1 || logSnr.shape[0] !== vPred.shape[0]) {
    throw new Error(`diffusionLoss: logSnr must have shape [${vPred.shape[0]}], got [${logSnr.shape.join(', ')}]`);
  }
  if (minSnrGamma !== null && !(minSnrGamma > 0)) throw new Error(`diffusionLoss: minSnrGamma must be > 0 or null, got ${minSnrGamma}`);
  return tf.tidy(() => {
    const axes = vPred.shape.map((_, i) => i).slice(1);
    const perExample = axes.length ? tf.mean(tf.squaredDifference(vPred, vTarget), axes) : tf.squaredDifference(vPred, vTarget);
    const weighted = minSnrGamma === null ? perExample : tf.mul(perExample, minSnrWeight(logSnr, minSnrGamma));
    return tf.mean(weighted) as tf.Scalar;
  });
}

/**
 * Times t ∈ [0, 1) for a batch. Stratified (default): t_i = (i + u_i)/B, one per stratum, then
 * Fisher–Yates shuffled so the time is not tied to the example's position in the batch (a sorted
 * or class-grouped batch would otherwise get correlated times). Each t_i is still marginally
 * U(0, 1); the batch covers [0, 1) evenly, which lowers the loss variance.
 */
export function sampleTimes(batch: number, rngOrSeed: UniformSource | number, options: Partial<SampleTimesOptions> = {}): Float32Array {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`sampleTimes: batch must be a positive integer, got ${batch}`);
  const { stratified } = { ...DEFAULT_SAMPLE_TIMES_OPTIONS, ...options };
  const rng = typeof rngOrSeed === 'number' ? new Rng(rngOrSeed) : rngOrSeed;
  const t = new Float32Array(batch);
  for (let i = 0; i < batch; i++) t[i] = stratified ? (i + rng.float()) / batch : rng.float();
  if (stratified) {
    for (let i = batch - 1; i > 0; i--) {
      const j = Math.floor(rng.float() * (i + 1));
      const tmp = t[i]!; t[i] = t[j]!; t[j] = tmp;
    }
  }
  return t;
}
