// Single-stage 2-D Haar transform on NHWC tensors (method.md §2).
// Channel order of the output: [LL(all C), LH(all C), HL(all C), HH(all C)], so the first C
// channels are the (scaled) low-pass image and 4C → C recovers a thumbnail by slicing.
// For each 2×2 block [[a, b], [c, d]]:
//   LL = (a+b+c+d)/2, LH = (a+b−c−d)/2, HL = (a−b+c−d)/2, HH = (a−b−c+d)/2.
// The butterfly matrix is symmetric and orthogonal, so the inverse is the same butterfly.
// Only rank-4 slice/concat/reshape are used: every backend has them, with gradients.
import { tf } from '../runtime/index.ts';
import { DEFAULT_HAAR_CONFIG } from './constants.ts';
import type { HaarConfig } from './types.ts';

const HAAR_SCALES = ['orthonormal', 'half'] as const;

export function validateHaarConfig(config: Partial<HaarConfig> = {}): HaarConfig {
  const c: HaarConfig = { ...DEFAULT_HAAR_CONFIG, ...config };
  if (!(HAAR_SCALES as readonly string[]).includes(c.scale)) throw new Error(`haar config: scale '${String(c.scale)}' is not supported; allowed: ${HAAR_SCALES.join(', ')}`);
  return c;
}

/** Butterfly of four equally shaped tensors, times `k` (1/2 orthonormal, 1/4 with the extra /2). */
function butterfly(a: tf.Tensor4D, b: tf.Tensor4D, c: tf.Tensor4D, d: tf.Tensor4D, k: number): tf.Tensor4D[] {
  const s1 = tf.add(a, b), d1 = tf.sub(a, b), s2 = tf.add(c, d), d2 = tf.sub(c, d);
  return [tf.add(s1, s2), tf.sub(s1, s2), tf.add(d1, d2), tf.sub(d1, d2)].map((t) => tf.mul(t, k) as tf.Tensor4D);
}

/** [B, H, W, C] → [B, H/2, W/2, 4C]. Throws for odd H or W. */
export function haarForward(x: tf.Tensor4D, config: Partial<HaarConfig> = {}): tf.Tensor4D {
  const { scale } = validateHaarConfig(config);
  if (x.rank !== 4) throw new Error(`haarForward: expected an NHWC tensor of rank 4, got rank ${x.rank}`);
  const [B, H, W, C] = x.shape;
  if (H % 2 !== 0 || W % 2 !== 0) throw new Error(`haarForward: height and width must be even, got ${H}×${W} (pad the image first)`);
  const h = H / 2, w = W / 2;
  return tf.tidy(() => {
    // Rows in pairs: [B·h, 2, w, 2C], where the last axis holds (left pixel C, right pixel C).
    const rows = x.reshape([B * h, 2, w, 2 * C]);
    const part = (row: number, col: number): tf.Tensor4D => tf.slice(rows, [0, row, 0, col * C], [B * h, 1, w, C]).reshape([B, h, w, C]);
    const bands = butterfly(part(0, 0), part(0, 1), part(1, 0), part(1, 1), scale === 'half' ? 0.25 : 0.5);
    return tf.concat(bands, 3);
  });
}

/** Exact inverse of haarForward (same config): [B, h, w, 4C] → [B, 2h, 2w, C]. */
export function haarInverse(y: tf.Tensor4D, config: Partial<HaarConfig> = {}): tf.Tensor4D {
  const { scale } = validateHaarConfig(config);
  if (y.rank !== 4) throw new Error(`haarInverse: expected an NHWC tensor of rank 4, got rank ${y.rank}`);
  const [B, h, w, C4] = y.shape;
  if (C4 % 4 !== 0) throw new Error(`haarInverse: channel count must be a multiple of 4, got ${C4}`);
  const C = C4 / 4;
  return tf.tidy(() => {
    const [ll, lh, hl, hh] = tf.split(y, 4, 3) as tf.Tensor4D[];
    // 'half' forward used k = 1/4, so the inverse butterfly needs 1 (orthonormal: 1/2 both ways).
    const [a, b, c, d] = butterfly(ll!, lh!, hl!, hh!, scale === 'half' ? 1 : 0.5);
    const top = tf.concat([a!, b!], 3).reshape([B * h, 1, w, 2 * C]);
    const bottom = tf.concat([c!, d!], 3).reshape([B * h, 1, w, 2 * C]);
    return tf.concat([top, bottom], 1).reshape([B, 2 * h, 2 * w, C]);
  });
}
