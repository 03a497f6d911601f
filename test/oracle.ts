// A denoiser that "knows" each class's template, for testing the classifier and the
// explanations end to end without training: it predicts x̂₀ = the template of the class asked for.
import { tf } from './helpers.ts';
import { createDenoiser, type Denoiser } from '../src/models/index.ts';
import { validateScheduleConfig, alphaSigmaTensor, haarForward } from '../src/diffusion/index.ts';
import { createPipeline, type DiffusionPipeline } from '../src/pipeline/index.ts';

export const S = 32;
const schedule = validateScheduleConfig({ kind: 'shifted-cosine', imageSize: 16 });

/** Two class templates: a bright left half and a bright right half. */
export function templates(): Float32Array[] {
  return [0, 1].map((c) => Float32Array.from({ length: S * S }, (_, i) => ((i % S < S / 2) === (c === 0) ? 0.8 : -0.8)));
}

/**
 * A denoiser that "knows" each class's template: it predicts x̂₀ = template of the class asked
 * for (the null class gets their average). The classifier must then pick the matching template.
 */
export function oracle(): Denoiser {
  const xs = tf.tidy(() => {
    const t = templates().map((a) => haarForward(tf.tensor4d(a, [1, S, S, 1])));
    return tf.concat([...t, tf.div(tf.add(t[0]!, t[1]!), 2)], 0); // [3, 16, 16, 4]
  });
  const model = createDenoiser({ preset: 'tiny' });
  return {
    config: model.config, params: model.params, nullClass: 2, parameterCount: () => 0, dispose: () => { xs.dispose(); model.dispose(); },
    apply(z, lam, classes) {
      return tf.tidy(() => {
        const x0 = tf.gather(xs, tf.cast(classes, 'int32'));
        const { alpha, sigma } = alphaSigmaTensor(tf.reshape(lam, [-1, 1, 1, 1]));
        const eps = tf.div(tf.sub(z, tf.mul(alpha, x0)), sigma);
        return tf.sub(tf.mul(alpha, eps), tf.mul(sigma, x0));
      });
    },
  };
}

/** A pipeline around a denoiser: 32×32 grayscale, orthonormal Haar, the shifted cosine at 16. */
export const asModel = (denoiser: Denoiser, classNames = ['left', 'right']): DiffusionPipeline =>
  createPipeline({ denoiser, classNames, preprocess: { channels: 1, imageSize: S, contentSize: S, fit: 'pad', wavelet: { levels: 1, scale: 'orthonormal' } }, schedule });

export function noisyImages(count: number): { images: Float32Array; labels: number[] } {
  const t = templates();
  const images = new Float32Array(count * S * S);
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const c = i % 2;
    labels.push(c);
    for (let j = 0; j < S * S; j++) images[i * S * S + j] = t[c]![j]! + 0.3 * Math.sin(17 * i + j);
  }
  return { images, labels };
}

