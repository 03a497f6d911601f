// Public types of the diffusion module (tfjs-models style: one types file).
import type { tf } from '../runtime/index.ts';
import type { Rng } from '../util/index.ts';

export type ScheduleKind = 'cosine' | 'shifted-cosine';

/** Noise schedule λ(t) = log-SNR at time t ∈ [0, 1] (method.md §1). */
export interface ScheduleConfig {
  kind: ScheduleKind;
  /** λ at t = 1 before any shift (paper: −15). */
  logSnrMin: number;
  /** λ at t = 0 before any shift (paper: 15). */
  logSnrMax: number;
  /** Reference resolution of the shifted cosine (simple diffusion: 64). */
  shiftBase: number;
  /** Side d of the array the model sees (after the wavelet), used by the shift 2·ln(base/d). */
  imageSize: number;
}

/** Anything that can produce uniforms in [0, 1); the Rng class implements it. */
export interface UniformSource { float(): number; }

/** `scale` of the Haar transform: orthonormal (energy preserving) or the official extra /2. */
export type HaarScale = 'orthonormal' | 'half';

export interface HaarConfig {
  /** 'orthonormal': LL = (a+b+c+d)/2; 'half': divided by 2 again (official code, stays in [−1, 1]). */
  scale: HaarScale;
}

export interface DiffusionLossOptions {
  /** γ of min-SNR-γ weighting for v targets; null turns weighting off (plain v-MSE). */
  minSnrGamma: number | null;
}

export interface SampleTimesOptions {
  /** Stratified (i + u_i)/B then shuffled (default true); false = i.i.d. U(0, 1). */
  stratified: boolean;
}

/** Per-example log-SNR: a [B] tensor, or one number shared by the whole batch. */
export type LogSnrLike = tf.Tensor1D | number;

/** Class labels for a batch: one per example, or one shared number. */
export type ClassesLike = Int32Array | readonly number[] | number;

/**
 * The network, seen from the sampler: returns v̂ for noisy z at log-SNR λ (one per example) and
 * class labels (the null class for the unconditional branch of classifier-free guidance).
 */
export type Denoiser = (z: tf.Tensor4D, logSnr: tf.Tensor1D, classes: Int32Array | tf.Tensor1D) => tf.Tensor4D;

export type SamplerKind = 'ancestral' | 'ddim';

/** Settings of a sampling run that a saved config reproduces (with the seed). */
export interface SamplerConfig {
  sampler: SamplerKind;
  /** Number of denoiser evaluations (×2 with guidance) from tStart to 0. */
  steps: number;
  /** Start time: 1 = from pure noise; 0.5 = counterfactual from a noised input (method.md §7). */
  tStart: number;
  /** Classifier-free guidance weight w: x̃ = (1+w)·x̂(z,c) − w·x̂(z,∅). 0 = conditional only. */
  guidance: number;
  /** Label of the learned null class (needed when guidance ≠ 0). */
  nullClass: number | null;
  /** Clip x̂₀ to [min, max] at every step (null = no clipping). */
  clipX0: readonly [number, number] | null;
}

export interface StepInfo {
  /** 1-based index of the step just taken. */
  step: number;
  steps: number;
  /** Time before and after the step (s = 0 on the final step). */
  t: number;
  s: number;
}

export interface SampleOptions extends Partial<SamplerConfig> {
  denoiser: Denoiser;
  /** Labels to condition on, one per example (or one for all). */
  classes: ClassesLike;
  /** Output shape [B, H, W, C] when starting from pure noise. */
  shape?: readonly [number, number, number, number];
  /** A start already at tStart (not disposed by sample). */
  zStart?: tf.Tensor4D;
  /** A clean input to noise to tStart with the seeded RNG (counterfactuals; not disposed). */
  xStart?: tf.Tensor4D;
  schedule?: Partial<ScheduleConfig>;
  /** Seed of the noise RNG (default 0); ignored when `rng` is given. */
  seed?: number;
  /** An RNG to draw from (advanced in place), e.g. a trainer's. */
  rng?: Rng;
  /**
   * Noise of the ancestral step `step` (1-based), shape [B, H, W, C], instead of drawing it from
   * `rng`, e.g. from one stream per example so a result does not depend on the batch it is in.
   * Called once per ancestral step only (never by DDIM), inside the step's tidy scope, so a fresh tensor is freed after the step.
   */
  stepNoise?: (shape: [number, number, number, number], step: number) => tf.Tensor4D;
  onStep?: (info: StepInfo) => void;
}
