// Defaults of the diffusion module (method.md §1, §2, §7).
import type { DiffusionLossOptions, HaarConfig, SampleTimesOptions, SamplerConfig, SamplerKind, ScheduleConfig, ScheduleKind } from './types.ts';

export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['cosine', 'shifted-cosine'];
export const SAMPLER_KINDS: readonly SamplerKind[] = ['ancestral', 'ddim'];

/**
 * Shifted cosine, base 64, λ ∈ [−15, 15] before the shift. imageSize 16 is the array the
 * project's models see (28² padded to 32², one Haar stage); set it to your model's side.
 */
export const DEFAULT_SCHEDULE_CONFIG: Readonly<ScheduleConfig> = Object.freeze({
  kind: 'shifted-cosine',
  logSnrMin: -15,
  logSnrMax: 15,
  shiftBase: 64,
  imageSize: 16,
});

/** Orthonormal: inverse is the same butterfly and the loss scale is unchanged by the transform. */
export const DEFAULT_HAAR_CONFIG: Readonly<HaarConfig> = Object.freeze({ scale: 'orthonormal' });

export const DEFAULT_MIN_SNR_GAMMA = 5;

export const DEFAULT_LOSS_OPTIONS: Readonly<DiffusionLossOptions> = Object.freeze({ minSnrGamma: DEFAULT_MIN_SNR_GAMMA });

export const DEFAULT_SAMPLE_TIMES_OPTIONS: Readonly<SampleTimesOptions> = Object.freeze({ stratified: true });

/** Official-code counterfactual settings: 50 steps; guidance 0 until the caller picks one. */
export const DEFAULT_SAMPLER_CONFIG: Readonly<SamplerConfig> = Object.freeze({
  sampler: 'ancestral',
  steps: 50,
  tStart: 1,
  guidance: 0,
  nullClass: null,
  clipX0: null,
});
