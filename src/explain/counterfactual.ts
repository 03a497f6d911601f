// Counterfactual explanations (method.md §7): noise the input to t_explain, then denoise it once
// per class from the SAME noise with classifier-free guidance. The reconstruction for the
// predicted class is the "factual" one; the difference to another class's reconstruction shows
// what the model would change to make the image that class.
import { tf } from '../runtime/index.ts';
import { addNoise, logSnr, sample, type SamplerKind } from '../diffusion/index.ts';
import { Rng } from '../util/index.ts';
import type { ClassifierModel } from '../classify/index.ts';

export interface ExplainConfig {
  /** Noise level to start from: 0.5 for grayscale (chest X-ray), 0.3 for colour (skin) in the paper. */
  tExplain: number;
  /** Classifier-free guidance weight w (paper: 7.5). */
  guidance: number;
  /** Denoising steps from t_explain to 0. */
  steps: number;
  /** 'ddim' (default: deterministic, so only the starting noise differs between seeds) or 'ancestral'. */
  sampler: SamplerKind;
  seed: number;
}

export const EXPLAIN_QUALITY: Record<'fast' | 'full', Pick<ExplainConfig, 'steps' | 'sampler'>> = {
  fast: { steps: 25, sampler: 'ddim' },
  full: { steps: 256, sampler: 'ancestral' },
};

export function defaultExplainConfig(channels: number): ExplainConfig {
  return { tExplain: channels === 1 ? 0.5 : 0.3, guidance: 7.5, ...EXPLAIN_QUALITY.fast, seed: 0 };
}

export function validateExplainConfig(partial: Partial<ExplainConfig>, channels: number): ExplainConfig {
  const c = { ...defaultExplainConfig(channels), ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) } as ExplainConfig;
  if (!(c.tExplain > 0 && c.tExplain < 1)) throw new Error(`explain: --t must be in (0, 1), got ${c.tExplain}`);
  if (!(Number.isFinite(c.guidance) && c.guidance >= 0)) throw new Error(`explain: --cfg (guidance) must be ≥ 0, got ${c.guidance}`);
  if (!Number.isInteger(c.steps) || c.steps < 1) throw new Error(`explain: --steps must be a positive integer, got ${c.steps}`);
  if (c.sampler !== 'ddim' && c.sampler !== 'ancestral') throw new Error(`explain: sampler must be ddim or ancestral, got '${c.sampler}'`);
  return c;
}

/** What explaining needs of a trained model: the same as classifying. */
export type ExplainModel = ClassifierModel;

export interface Counterfactuals {
  /** Reconstruction per class, pixel space HWC in [−1, 1] (clipped), index = class. */
  reconstructions: Float32Array[];
  width: number;
  height: number;
  channels: number;
}

/**
 * Reconstructions of `count` images (NHWC pixels in [−1, 1]) for every class, `chunk` images per
 * model call. Deterministic for a seed; each image's starting noise and (ancestral) step noise
 * come from one stream that depends on the seed and its index only, so results do not depend on
 * the chunk size.
 */
export function counterfactuals(m: ExplainModel, images: Float32Array, count: number, config: Partial<ExplainConfig> = {},
  onStep?: (step: number, steps: number) => void, chunk = 16): Counterfactuals[] {
  const cfg = validateExplainConfig(config, m.channels);
  const K = m.classNames.length;
  const s = m.imageSize, c = m.channels, px = s * s * c;
  if (images.length !== count * px) throw new Error(`explain: expected ${count} images of ${s}×${s}×${c}, got ${images.length} values`);
  const mc = m.denoiser.config;
  const wpx = mc.imageSize * mc.imageSize * mc.inChannels;
  const out: Counterfactuals[] = [];
  const lam = logSnr(cfg.tExplain, m.schedule);
  const calls = Math.ceil(count / chunk) * cfg.steps;
  for (let i0 = 0; i0 < count; i0 += chunk) {
    const n = Math.min(chunk, count - i0);
    // One stream per image (seed and index only): its starting noise, then its ancestral step noise,
    // so an image's result does not depend on the chunk size or on which images share the call.
    const rngs = Array.from({ length: n }, (_, i) => new Rng(cfg.seed * 1_000_003 + i0 + i));
    const eps = new Float32Array(n * wpx);
    for (let i = 0; i < n; i++) eps.set(rngs[i]!.normals(wpx), i * wpx);
    // every class of an image sees the same step noise, so its reconstructions differ only through the class
    const stepNoise = (shape: [number, number, number, number]): tf.Tensor4D => {
      const noise = new Float32Array(n * K * wpx);
      for (let i = 0; i < n; i++) {
        const e = rngs[i]!.normals(wpx);
        for (let k = 0; k < K; k++) noise.set(e, (i * K + k) * wpx);
      }
      return tf.tensor4d(noise, shape);
    };
    const recon = tf.tidy(() => {
      const x = m.toModelSpace(tf.tensor4d(images.subarray(i0 * px, (i0 + n) * px), [n, s, s, c]));
      const z0 = addNoise(x, tf.tensor4d(eps, x.shape), lam);
      // rows: image-major, class-minor; every class of an image starts from the same noise
      const z = tf.reshape(tf.tile(tf.expandDims(z0, 1), [1, K, 1, 1, 1]), [n * K, mc.imageSize, mc.imageSize, mc.inChannels]) as tf.Tensor4D;
      const x0 = sample({
        denoiser: (zz, l, y) => m.denoiser.apply(zz, l, y instanceof Int32Array ? tf.tensor1d(y, 'int32') : y) as tf.Tensor4D,
        classes: Int32Array.from({ length: n * K }, (_, r) => r % K), zStart: z, tStart: cfg.tExplain, steps: cfg.steps,
        guidance: cfg.guidance, nullClass: m.denoiser.nullClass, sampler: cfg.sampler, schedule: m.schedule,
        stepNoise, clipX0: null,
        onStep: onStep ? (st) => onStep((i0 / chunk) * cfg.steps + st.step, calls) : undefined,
      });
      return tf.clipByValue(m.fromModelSpace(x0), -1, 1);
    });
    const data = recon.dataSync() as Float32Array;
    recon.dispose();
    for (let i = 0; i < n; i++) {
      out.push({ reconstructions: Array.from({ length: K }, (_, k) => data.slice((i * K + k) * px, (i * K + k + 1) * px)), width: s, height: s, channels: c });
    }
  }
  return out;
}

/** Counterfactual − factual; signed for grayscale, |Δ| averaged over channels for colour. */
export function differenceMap(factual: Float32Array, counterfactual: Float32Array, channels: number): Float32Array {
  const n = factual.length / channels;
  const d = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    if (channels === 1) d[p] = counterfactual[p]! - factual[p]!;
    else {
      let s = 0;
      for (let ch = 0; ch < channels; ch++) s += Math.abs(counterfactual[p * channels + ch]! - factual[p * channels + ch]!);
      d[p] = s / channels;
    }
  }
  return d;
}

/** Proximity of a counterfactual to the input: mean |Δ| (on the [−1, 1] scale) and the fraction of pixels changed by more than `threshold`. */
export function proximity(input: Float32Array, counterfactual: Float32Array, threshold = 0.1): { meanAbsDiff: number; fractionChanged: number } {
  let s = 0, changed = 0;
  for (let i = 0; i < input.length; i++) {
    const d = Math.abs(counterfactual[i]! - input[i]!);
    s += d;
    if (d > threshold) changed++;
  }
  return { meanAbsDiff: s / input.length, fractionChanged: changed / input.length };
}
