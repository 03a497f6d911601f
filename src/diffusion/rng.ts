// Gaussian tensors from the shared seeded PRNG (src/util/rng.ts), so sampling and training
// noise is reproducible from a seed, unlike tf.randomNormal.
import { tf } from '../runtime/index.ts';
import type { Rng } from '../util/index.ts';

/** A tensor of standard normals drawn from `rng` (deterministic, unlike tf.randomNormal). */
export function randomNormal<R extends tf.Rank>(shape: number[], rng: Rng): tf.Tensor<R> {
  const n = shape.reduce((a, b) => a * b, 1);
  const out: tf.Tensor = tf.tensor(rng.normals(n), shape, 'float32');
  return out as tf.Tensor<R>;
}
