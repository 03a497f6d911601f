// Samplers in λ-space with classifier-free guidance (method.md §7). The model stays outside:
// a Denoiser maps (z, λ, classes) to v̂, and everything here is a pure function of tensors,
// numbers and a seeded RNG, so a saved config + seed reproduces a run exactly.
import { tf } from '../runtime/index.ts';
import { Rng } from '../util/index.ts';
import { DEFAULT_SAMPLER_CONFIG, SAMPLER_KINDS } from './constants.ts';
import { addNoise, predictEps, predictX0 } from './process.ts';
import { randomNormal } from './rng.ts';
import { alphaSigma, logSnr, validateScheduleConfig } from './schedule.ts';
import type { ClassesLike, Denoiser, LogSnrLike, SampleOptions, SamplerConfig, SamplerKind } from './types.ts';

const SAMPLER_FIELDS = Object.keys(DEFAULT_SAMPLER_CONFIG) as (keyof SamplerConfig)[];

/** Copy sampler fields over DEFAULT_SAMPLER_CONFIG and check them (errors name the field). */
export function validateSamplerConfig(config: Partial<SamplerConfig> = {}): SamplerConfig {
  const c: SamplerConfig = { ...DEFAULT_SAMPLER_CONFIG };
  for (const key of SAMPLER_FIELDS) if (config[key] !== undefined) (c as unknown as Record<string, unknown>)[key] = config[key];
  if (!SAMPLER_KINDS.includes(c.sampler)) throw new Error(`sampler config: sampler '${String(c.sampler)}' is not supported; allowed: ${SAMPLER_KINDS.join(', ')}`);
  if (!Number.isInteger(c.steps) || c.steps < 1) throw new Error(`sampler config: steps must be a positive integer, got ${c.steps}`);
  if (!(c.tStart > 0 && c.tStart <= 1)) throw new Error(`sampler config: tStart must be in (0, 1], got ${c.tStart}`);
  if (!Number.isFinite(c.guidance) || c.guidance < 0) throw new Error(`sampler config: guidance must be a finite number ≥ 0, got ${c.guidance}`);
  if (c.nullClass !== null && (!Number.isInteger(c.nullClass) || c.nullClass < 0)) {
    throw new Error(`sampler config: nullClass must be a non-negative integer or null, got ${c.nullClass}`);
  }
  if (c.guidance !== 0 && c.nullClass === null) throw new Error('sampler config: nullClass is required when guidance ≠ 0');
  if (c.clipX0 !== null && !(Array.isArray(c.clipX0) && c.clipX0.length === 2 && c.clipX0[0] < c.clipX0[1])) {
    throw new Error(`sampler config: clipX0 must be null or [min, max] with min < max, got ${JSON.stringify(c.clipX0)}`);
  }
  return c;
}

/** Labels as an Int32Array of length `batch` (a single number is repeated). */
export function toClasses(classes: ClassesLike, batch: number): Int32Array {
  const out = typeof classes === 'number' ? new Int32Array(batch).fill(classes) : Int32Array.from(classes);
  if (out.length !== batch) throw new Error(`classes: expected ${batch} labels (one per example), got ${out.length}`);
  return out;
}

/** Times tStart·i/steps for i = steps … 0 (the sampler walks this grid down to 0). */
export function timeGrid(steps: number, tStart = 1): Float64Array {
  const g = new Float64Array(steps + 1);
  for (let i = 0; i <= steps; i++) g[i] = (tStart * (steps - i)) / steps;
  return g;
}

export interface GuidanceOptions { guidance: number; nullClass: number | null; }

/**
 * Guided v̂: (1+w)·v̂(z,c) − w·v̂(z,∅), with both branches in one batch of 2B. Because x̂₀ and ε̂
 * are linear in v̂ for a fixed z, guiding v̂ is the same as guiding x̂₀ (method.md §7).
 */
export function guidedV(denoiser: Denoiser, z: tf.Tensor4D, logSnr: LogSnrLike, classes: ClassesLike, options: GuidanceOptions): tf.Tensor4D {
  const B = z.shape[0];
  const labels = toClasses(classes, B);
  const w = options.guidance;
  return tf.tidy(() => {
    const lam = typeof logSnr === 'number' ? tf.fill([B], logSnr) as tf.Tensor1D : logSnr;
    const check = (v: tf.Tensor4D, n: number): tf.Tensor4D => {
      if (v.rank !== 4 || v.shape[0] !== n || v.shape.slice(1).some((d, i) => d !== z.shape[i + 1])) {
        throw new Error(`denoiser returned shape [${v.shape.join(', ')}], expected [${n}, ${z.shape.slice(1).join(', ')}]`);
      }
      return v;
    };
    if (w === 0) return check(denoiser(z, lam, labels), B);
    if (options.nullClass === null) throw new Error('guidedV: nullClass is required when guidance ≠ 0');
    const both = new Int32Array(2 * B);
    both.set(labels);
    both.fill(options.nullClass, B);
    const v = check(denoiser(tf.concat([z, z], 0), tf.concat([lam, lam], 0), both), 2 * B);
    const [vc, vu] = tf.split(v, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
    return tf.sub(tf.mul(1 + w, vc), tf.mul(w, vu));
  });
}

/** Guided x̂₀: x̃ = (1+w)·x̂(z,c) − w·x̂(z,∅). */
export function cfgX0(denoiser: Denoiser, z: tf.Tensor4D, logSnr: LogSnrLike, classes: ClassesLike, options: GuidanceOptions): tf.Tensor4D {
  return tf.tidy(() => predictX0(z, guidedV(denoiser, z, logSnr, classes, options), logSnr));
}

/**
 * Ancestral step t → s (λ_s > λ_t): c = −expm1(λ_t − λ_s), mean = α_s·(z·(1−c)/α_t + c·x̂₀),
 * variance σ_s²·c. The scalar coefficients are formed in float64 before touching the tensors,
 * because α_t is ~1e-3 at t = 1.
 */
export function ancestralStep(z: tf.Tensor4D, x0: tf.Tensor4D, lamT: number, lamS: number, noise: tf.Tensor4D): tf.Tensor4D {
  const c = -Math.expm1(lamT - lamS);
  const t = alphaSigma(lamT), s = alphaSigma(lamS);
  return tf.tidy(() => tf.addN([tf.mul(z, (s.alpha * (1 - c)) / t.alpha), tf.mul(x0, s.alpha * c), tf.mul(noise, s.sigma * Math.sqrt(c))]));
}

/** DDIM (deterministic) step t → s: z_s = α_s·x̂₀ + σ_s·ε̂. */
export function ddimStep(x0: tf.Tensor4D, eps: tf.Tensor4D, lamS: number): tf.Tensor4D {
  const { alpha, sigma } = alphaSigma(lamS);
  return tf.tidy(() => tf.add(tf.mul(x0, alpha), tf.mul(eps, sigma)));
}

export interface StepArgs {
  z: tf.Tensor4D;
  x0: tf.Tensor4D;
  /** ε̂ consistent with x0 (used by DDIM). */
  eps: tf.Tensor4D;
  lamT: number;
  lamS: number;
  /** Noise source of the ancestral step. */
  rng: Rng;
  /** Ancestral noise of z's shape, used instead of drawing from `rng` (called only by samplers that draw noise). */
  noise?: () => tf.Tensor4D;
}

/** One step t → s of the chosen sampler (diffusers' `step`): the only place the samplers differ. */
export function samplerStep(sampler: SamplerKind, { z, x0, eps, lamT, lamS, rng, noise }: StepArgs): tf.Tensor4D {
  if (sampler === 'ddim') return ddimStep(x0, eps, lamS);
  return tf.tidy(() => {
    const n = noise ? noise() : randomNormal<tf.Rank.R4>([...z.shape], rng);
    if (n.rank !== 4 || n.shape.some((d, i) => d !== z.shape[i])) throw new Error(`sampler step noise has shape [${n.shape.join(', ')}], expected [${z.shape.join(', ')}]`);
    return ancestralStep(z, x0, lamT, lamS, n);
  });
}

/**
 * Run a sampler from tStart down to 0 and return x̂₀ of the last step (the caller disposes it).
 * Start: `shape` (pure noise, needs tStart = 1), `zStart` (already at tStart) or `xStart` (clean
 * input noised to tStart with the seeded RNG — the counterfactual path, same noise for every class
 * when the seed is the same). Uses `steps` denoiser calls (2B batch each when guidance ≠ 0).
 * `stepNoise` replaces the ancestral step draws from the RNG (e.g. one stream per example).
 */
export function sample(options: SampleOptions): tf.Tensor4D {
  const cfg = validateSamplerConfig(options);
  const schedule = validateScheduleConfig(options.schedule);
  const rng = options.rng ?? new Rng(options.seed ?? 0);
  const starts = [options.shape, options.zStart, options.xStart].filter((s) => s !== undefined).length;
  if (starts !== 1) throw new Error(`sample: give exactly one of shape, zStart, xStart (got ${starts})`);
  if (options.shape && cfg.tStart !== 1) throw new Error(`sample: starting from pure noise (shape) needs tStart = 1, got ${cfg.tStart}; pass xStart or zStart instead`);

  const grid = timeGrid(cfg.steps, cfg.tStart);
  const lamStart = logSnr(grid[0]!, schedule);
  let z: tf.Tensor4D;
  if (options.shape) {
    const shape = [...options.shape];
    if (shape.length !== 4 || shape.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`sample: shape must be [B, H, W, C] of positive integers, got [${shape.join(', ')}]`);
    z = randomNormal<tf.Rank.R4>(shape, rng);
  } else if (options.xStart) {
    const x = options.xStart;
    z = tf.tidy(() => addNoise(x, randomNormal<tf.Rank.R4>([...x.shape], rng), lamStart));
  } else {
    z = options.zStart!;
  }
  const owned = (t: tf.Tensor4D): boolean => t !== options.zStart;
  const B = z.shape[0];
  const classes = toClasses(options.classes, B);
  const guidance = { guidance: cfg.guidance, nullClass: cfg.nullClass };

  for (let i = 1; i <= cfg.steps; i++) {
    const t = grid[i - 1]!, s = grid[i]!;
    const lamT = logSnr(t, schedule);
    const last = i === cfg.steps;
    const zIn = z;
    const next = tf.tidy(() => {
      const v = guidedV(options.denoiser, zIn, lamT, classes, guidance);
      let x0 = predictX0(zIn, v, lamT);
      if (cfg.clipX0) x0 = tf.clipByValue(x0, cfg.clipX0[0], cfg.clipX0[1]);
      if (last) return x0;
      // With clipping, ε̂ is re-derived from the clipped x̂₀ so the DDIM step stays consistent
      // (tidy disposes ε̂ unused by the ancestral step; it is one cheap elementwise op).
      const { alpha, sigma } = alphaSigma(lamT);
      const eps = cfg.clipX0 ? tf.div(tf.sub(zIn, tf.mul(x0, alpha)), sigma) as tf.Tensor4D : predictEps(zIn, v, lamT);
      const stepNoise = options.stepNoise;
      const noise = stepNoise ? () => stepNoise([...zIn.shape] as [number, number, number, number], i) : undefined;
      return samplerStep(cfg.sampler, { z: zIn, x0, eps, lamT, lamS: logSnr(s, schedule), rng, noise });
    });
    if (owned(zIn)) zIn.dispose();
    z = next;
    options.onStep?.({ step: i, steps: cfg.steps, t, s });
  }
  return z;
}
