// Shared helpers for the diffusion tests (not a test file itself).
import { initRuntime, tf } from '../../src/runtime/index.ts';
import { alphaSigmaTensor, type Denoiser } from '../../src/diffusion/index.ts';

export const ready = initRuntime({ log: false });

export { close } from '../helpers.ts';

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

/**
 * A denoiser that knows the clean image for every class (row c of `targets`, shape [K, H, W, C])
 * and returns the exact v for it: ε = (z − αx)/σ, v = αε − σx. Then x̂₀ = x_c for any z.
 */
export function perfectDenoiser(targets: tf.Tensor4D, calls?: { batches: number[]; classes: number[][] }): Denoiser {
  return (z, logSnr, classes) => tf.tidy(() => {
    const labels = classes instanceof Int32Array ? tf.tensor1d(classes, 'int32') : classes.toInt();
    calls?.batches.push(z.shape[0]);
    calls?.classes.push(Array.from(labels.dataSync()));
    const x = tf.gather(targets, labels) as tf.Tensor4D;
    const { alpha, sigma } = alphaSigmaTensor(logSnr);
    const a = alpha.reshape([-1, 1, 1, 1]), s = sigma.reshape([-1, 1, 1, 1]);
    const eps = tf.div(tf.sub(z, tf.mul(a, x)), s);
    return tf.sub(tf.mul(a, eps), tf.mul(s, x)) as tf.Tensor4D;
  });
}

/** An imperfect but smooth, class-dependent denoiser (for determinism and guidance checks). */
export const toyDenoiser: Denoiser = (z, logSnr, classes) => tf.tidy(() => {
  const labels = classes instanceof Int32Array ? tf.tensor1d(classes, 'int32') : classes.toInt();
  const shift = tf.mul(labels.toFloat(), 0.3).reshape([-1, 1, 1, 1]);
  return tf.add(tf.mul(tf.tanh(z), 0.5), tf.add(shift, tf.mul(logSnr.reshape([-1, 1, 1, 1]), 0.01))) as tf.Tensor4D;
});
