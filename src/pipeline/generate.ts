// Class-conditional samples from a pipeline: what the model learned, as pixel images.
import { tf } from '../runtime/index.ts';
import { sample, type SamplerKind, type StepInfo } from '../diffusion/index.ts';
import type { DiffusionPipeline } from './pipeline.ts';

export interface GenerateOptions {
  /** One class index per sample. */
  classes: readonly number[];
  steps?: number;
  /** Classifier-free guidance weight w. */
  guidance?: number;
  sampler?: SamplerKind;
  seed?: number;
  onStep?: (s: StepInfo) => void;
}

/** Samples from pure noise, one per entry of `classes`: NHWC pixels in [−1, 1] (not clipped). */
export function generate(p: DiffusionPipeline, o: GenerateOptions): Float32Array {
  const K = p.classNames.length;
  for (const c of o.classes) if (!(Number.isInteger(c) && c >= 0 && c < K)) throw new Error(`generate: class ${c} out of range; the model's classes are ${p.classNames.join(', ')}`);
  const mc = p.denoiser.config;
  const x = tf.tidy(() => p.fromModelSpace(sample({
    denoiser: (zz, lam, y) => p.denoiser.apply(zz, lam, y instanceof Int32Array ? tf.tensor1d(y, 'int32') : y) as tf.Tensor4D,
    classes: Int32Array.from(o.classes), shape: [o.classes.length, mc.imageSize, mc.imageSize, mc.inChannels],
    steps: o.steps ?? 50, guidance: o.guidance ?? 3, nullClass: p.denoiser.nullClass, sampler: o.sampler ?? 'ancestral',
    schedule: p.schedule, seed: o.seed ?? 0, clipX0: null, onStep: o.onStep,
  })));
  const data = x.dataSync() as Float32Array;
  x.dispose();
  return data;
}
