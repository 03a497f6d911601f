// Noise schedules as plain functions of t (method.md §1): number versions for the sampler's time
// grid and tests, tensor versions for per-example training batches.
import { tf } from '../runtime/index.ts';
import { DEFAULT_SCHEDULE_CONFIG, SCHEDULE_KINDS } from './constants.ts';
import type { ScheduleConfig } from './types.ts';

const SCHEDULE_FIELDS = Object.keys(DEFAULT_SCHEDULE_CONFIG) as (keyof ScheduleConfig)[];

/**
 * Copy a partial config over DEFAULT_SCHEDULE_CONFIG and check it; the error names the bad field
 * and what is allowed. Unknown fields are refused so a typo does not silently fall back.
 */
export function validateScheduleConfig(config: Partial<ScheduleConfig> = {}): ScheduleConfig {
  for (const key of Object.keys(config)) {
    if (!(SCHEDULE_FIELDS as string[]).includes(key)) throw new Error(`schedule config: unknown field '${key}'; allowed: ${SCHEDULE_FIELDS.join(', ')}`);
  }
  const c: ScheduleConfig = { ...DEFAULT_SCHEDULE_CONFIG, ...config };
  if (!SCHEDULE_KINDS.includes(c.kind)) throw new Error(`schedule config: kind '${String(c.kind)}' is not supported; allowed: ${SCHEDULE_KINDS.join(', ')}`);
  if (!Number.isFinite(c.logSnrMin)) throw new Error(`schedule config: logSnrMin must be a finite number, got ${c.logSnrMin}`);
  if (!Number.isFinite(c.logSnrMax) || c.logSnrMax <= c.logSnrMin) {
    throw new Error(`schedule config: logSnrMax must be a finite number > logSnrMin (${c.logSnrMin}), got ${c.logSnrMax}`);
  }
  if (!Number.isFinite(c.shiftBase) || c.shiftBase <= 0) throw new Error(`schedule config: shiftBase must be a positive number, got ${c.shiftBase}`);
  if (!Number.isInteger(c.imageSize) || c.imageSize < 1) throw new Error(`schedule config: imageSize must be a positive integer, got ${c.imageSize}`);
  return c;
}

/** The angle endpoints a, b of the cosine schedule: λ_cos(0) = λ_max, λ_cos(1) = λ_min. */
export function cosineAngles(logSnrMin: number, logSnrMax: number): { a: number; b: number } {
  return { a: Math.atan(Math.exp(-0.5 * logSnrMax)), b: Math.atan(Math.exp(-0.5 * logSnrMin)) };
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/**
 * λ_cos(t) = −2·ln(tan(a + t(b − a))). t is clamped to [0, 1] and λ to [λ_min, λ_max], so the
 * endpoints are finite and exact despite rounding in atan/tan.
 */
export function cosineLogSnr(t: number, logSnrMin = DEFAULT_SCHEDULE_CONFIG.logSnrMin, logSnrMax = DEFAULT_SCHEDULE_CONFIG.logSnrMax): number {
  const { a, b } = cosineAngles(logSnrMin, logSnrMax);
  const lam = -2 * Math.log(Math.tan(a + clamp(t, 0, 1) * (b - a)));
  return clamp(lam, logSnrMin, logSnrMax);
}

/**
 * Additive shift of the schedule: 2·ln(shiftBase / imageSize) for 'shifted-cosine', 0 for 'cosine'.
 * As in simple diffusion the shift is added after the clip, so the shifted range is
 * [λ_min + shift, λ_max + shift].
 */
export function logSnrShift(config: ScheduleConfig = DEFAULT_SCHEDULE_CONFIG): number {
  return config.kind === 'shifted-cosine' ? 2 * Math.log(config.shiftBase / config.imageSize) : 0;
}

/** λ(t) for a (validated) config. */
export function logSnr(t: number, config: ScheduleConfig = DEFAULT_SCHEDULE_CONFIG): number {
  return cosineLogSnr(t, config.logSnrMin, config.logSnrMax) + logSnrShift(config);
}

/** Range [λ(1), λ(0)] that the schedule spans. */
export function logSnrRange(config: ScheduleConfig = DEFAULT_SCHEDULE_CONFIG): { min: number; max: number } {
  const shift = logSnrShift(config);
  return { min: config.logSnrMin + shift, max: config.logSnrMax + shift };
}

/** Inverse of logSnr: t(λ) = (atan(exp(−(λ − shift)/2)) − a)/(b − a), clamped to [0, 1]. */
export function timeFromLogSnr(lam: number, config: ScheduleConfig = DEFAULT_SCHEDULE_CONFIG): number {
  const { a, b } = cosineAngles(config.logSnrMin, config.logSnrMax);
  const cos = clamp(lam - logSnrShift(config), config.logSnrMin, config.logSnrMax);
  return clamp((Math.atan(Math.exp(-0.5 * cos)) - a) / (b - a), 0, 1);
}

/** Logistic sigmoid without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** α = √sigmoid(λ), σ = √sigmoid(−λ); each from its own sigmoid so neither loses precision. */
export function alphaSigma(lam: number): { alpha: number; sigma: number } {
  return { alpha: Math.sqrt(sigmoid(lam)), sigma: Math.sqrt(sigmoid(-lam)) };
}

/** Tensor λ(t), elementwise, same clamps as the number version (float32 inside). */
export function logSnrTensor<T extends tf.Tensor>(t: T, config: ScheduleConfig = DEFAULT_SCHEDULE_CONFIG): T {
  const { a, b } = cosineAngles(config.logSnrMin, config.logSnrMax);
  const shift = logSnrShift(config);
  return tf.tidy(() => {
    const angle = tf.add(a, tf.mul(tf.clipByValue(t, 0, 1), b - a));
    const lam = tf.mul(-2, tf.log(tf.tan(angle)));
    return tf.add(tf.clipByValue(lam, config.logSnrMin, config.logSnrMax), shift) as T;
  });
}

/** Tensor α, σ for a tensor of λ (tf.sigmoid is overflow-safe). Caller disposes both. */
export function alphaSigmaTensor<T extends tf.Tensor>(lam: T): { alpha: T; sigma: T } {
  return {
    alpha: tf.tidy(() => tf.sqrt(tf.sigmoid(lam)) as T),
    sigma: tf.tidy(() => tf.sqrt(tf.sigmoid(tf.neg(lam))) as T),
  };
}
