// Layers only the discriminative baselines need: batch norm with running statistics, and dropout
// whose masks are a pure function of a seed (MC dropout and resumed training repeat them exactly).
import { tf, type Tensor } from '../../runtime/index.ts';
import type { Params } from '../params.ts';

/** Batch statistics a training-mode forward saw, waiting for BaselineNet.updateBuffers(). */
export class PendingStats {
  private items: { mean: tf.Variable; variance: tf.Variable; batchMean: Tensor; batchVar: Tensor; count: number }[] = [];
  push(mean: tf.Variable, variance: tf.Variable, batchMean: Tensor, batchVar: Tensor, count: number): void {
    this.items.push({ mean, variance, batchMean: tf.keep(batchMean), batchVar: tf.keep(batchVar), count });
  }
  /** running ← (1 − m)·running + m·batch; the variance is the unbiased one, as PyTorch keeps. */
  apply(momentum = 0.1): void {
    for (const s of this.items) {
      tf.tidy(() => {
        const unbias = s.count > 1 ? s.count / (s.count - 1) : 1;
        s.mean.assign(tf.add(tf.mul(s.mean, 1 - momentum), tf.mul(s.batchMean, momentum)));
        s.variance.assign(tf.add(tf.mul(s.variance, 1 - momentum), tf.mul(s.batchVar, momentum * unbias)));
      });
      tf.dispose([s.batchMean, s.batchVar]);
    }
    this.items = [];
  }
  clear(): void {
    for (const s of this.items) tf.dispose([s.batchMean, s.batchVar]);
    this.items = [];
  }
}

/** BatchNorm over N, H, W of NHWC activations (PyTorch's BatchNorm2d: eps 1e-5, momentum 0.1). */
export class BatchNorm2d {
  readonly gamma; readonly beta; readonly runningMean; readonly runningVar;
  constructor(p: Params, buffers: Params, name: string, readonly channels: number, private readonly pending: PendingStats,
    opts: { zeroInit?: boolean; eps?: number } = {}) {
    // zero γ on the last norm of a residual branch starts every block as the identity (Goyal et al. 2017)
    this.gamma = p.add(`${name}.weight`, [channels], opts.zeroInit ? 'zeros' : 'ones');
    this.beta = p.add(`${name}.bias`, [channels], 'zeros');
    this.runningMean = buffers.add(`${name}.running_mean`, [channels], 'zeros');
    this.runningVar = buffers.add(`${name}.running_var`, [channels], 'ones');
    this.eps = opts.eps ?? 1e-5;
  }
  private readonly eps: number;

  apply(x: Tensor, training: boolean): Tensor {
    if (!training) return tf.batchNorm(x, this.runningMean, this.runningVar, this.beta, this.gamma, this.eps);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const [b, h, w] = x.shape as number[];
    this.pending.push(this.runningMean, this.runningVar, mean, variance, b! * h! * w!);
    const inv = tf.rsqrt(tf.add(variance, this.eps));
    return tf.add(tf.mul(tf.sub(x, mean), tf.mul(inv, this.gamma)), this.beta);
  }
}

/** Inverted dropout; masks from `seed` (callers give every layer its own). Identity when off or rate 0. */
export function dropout(x: Tensor, rate: number, on: boolean, seed: number): Tensor {
  if (!on || rate <= 0) return x;
  const keep = tf.step(tf.sub(tf.randomUniform(x.shape, 0, 1, 'float32', seed), rate));
  return tf.mul(x, tf.mul(keep, 1 / (1 - rate)));
}
