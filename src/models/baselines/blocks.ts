// Ops the EfficientNet and ViT baselines share that tfjs lacks, or runs slowly, on the wasm backend.
//  - depthwiseConv2d with a gradient: tfjs-backend-wasm 4.22 has the forward kernel (XNNPACK) but
//    neither DepthwiseConv2dNativeBackpropInput nor ...BackpropFilter, so tf.depthwiseConv2d cannot
//    train there. Here both gradients are built from the forward kernel (see depthwiseGrads).
//  - spatialMean, channelScale: squeeze-excitation's mean over H, W and its per-channel rescale with
//    the reductions as matmuls; wasm's Mean/Sum over middle axes transpose the whole tensor first.
//  - batchNormAct: training-mode batch norm (+ SiLU) as one op. As composite ops (BatchNorm2d.apply,
//    then x·σ(x)) every intermediate stays alive on the tape until the backward pass ends, and
//    EfficientNet-B0 at batch 64 on 28² overflowed the 4 GB wasm heap; fused, the tape keeps the conv
//    output and a few [C] vectors (that step peaks at ~2.5 GB), and the sums over N, H, W are matmuls.
//  - checkpoint: a block whose backward pass recomputes its forward instead of keeping its intermediates.
//  - LayerNorm with a learnable γ, β on the fused adaLayerNorm kernel.
import { tf, adaLayerNorm, type Tensor } from '../../runtime/index.ts';
import type { Params } from '../params.ts';
import type { BatchNorm2d, PendingStats } from './layers.ts';

/** [N, OH, OW, C] → [N, (OH−1)·s+1, (OW−1)·s+1, C] with s−1 zeros between entries (rank ≤ 4 throughout). */
function dilate(dy: Tensor, s: number): Tensor {
  if (s === 1) return dy;
  const [N, OH, OW, C] = dy.shape as number[];
  const Hd = (OH! - 1) * s + 1, Wd = (OW! - 1) * s + 1;
  const rows = tf.concat([tf.reshape(dy, [N!, OH!, 1, OW! * C!]), tf.zeros([N!, OH!, s - 1, OW! * C!])], 2);
  let d = tf.slice(tf.reshape(rows, [N!, OH! * s, OW!, C!]), [0, 0, 0, 0], [N!, Hd, OW!, C!]);
  const cols = tf.concat([tf.reshape(d, [N! * Hd, OW!, 1, C!]), tf.zeros([N! * Hd, OW!, s - 1, C!])], 2);
  d = tf.slice(tf.reshape(cols, [N!, Hd, OW! * s, C!]), [0, 0, 0, 0], [N!, Hd, Wd, C!]);
  return d;
}

/**
 * Gradients of y = depthwise(x, w, stride s, symmetric padding p), both through the forward kernel:
 *  - dx: the transposed conv, i.e. dy dilated by s, convolved with w reversed in space;
 *  - dw: per channel, the correlation of the padded x with dy (dilation s). Putting the batch into
 *    the channels ([1, H, W, N·C] input, dy as an [OH, OW, N·C, 1] filter) makes that one depthwise
 *    conv with a k×k output; summing its N groups gives dw.
 */
function depthwiseGrads(dy: Tensor, x: Tensor, w: Tensor, s: number, p: number): [Tensor, Tensor] {
  const [N, H, W, C] = x.shape as number[];
  const k = w.shape[0]!;
  const [, OH, OW] = dy.shape as number[];
  const Hd = (OH! - 1) * s + 1, Wd = (OW! - 1) * s + 1;
  const pt = k - 1 - p;
  const dx = tf.depthwiseConv2d(dilate(dy, s) as tf.Tensor4D, tf.reverse(w, [0, 1]) as tf.Tensor4D, 1,
    s === 1 ? 'same' : [[0, 0], [pt, H! - Hd - pt + k - 1], [pt, W! - Wd - pt + k - 1], [0, 0]]);
  const xT = tf.reshape(tf.transpose(x, [1, 2, 0, 3]), [1, H!, W!, N! * C!]);
  const dyT = tf.reshape(tf.transpose(dy, [1, 2, 0, 3]), [OH!, OW!, N! * C!, 1]);
  // bottom/right padding so that exactly k offsets fit: (k − 1) + (OH − 1)·s + 1 rows of the padded input
  const padB = k - 1 + (OH! - 1) * s - (H! - 1) - p, padR = k - 1 + (OW! - 1) * s - (W! - 1) - p;
  const g = tf.depthwiseConv2d(xT as tf.Tensor4D, dyT as tf.Tensor4D, 1, [[0, 0], [p, padB], [p, padR], [0, 0]], 'NHWC', s); // [1, k, k, N·C]
  const dw = tf.reshape(tf.sum(tf.reshape(g, [k * k, N!, C!]), 1), [k, k, C!, 1]);
  return [dx, dw];
}

/**
 * Depthwise k×k conv (channel multiplier 1) of NHWC x with w [k, k, C, 1], PyTorch's padding
 * (k−1)/2 on every side (tfjs 'same' pads less on top for even sides at stride 2), with a gradient
 * on every backend.
 */
export function depthwiseConv2d(x: Tensor, w: Tensor, stride: number): Tensor {
  const k = w.shape[0]!;
  if (k % 2 !== 1 || w.shape[1] !== k || w.shape[3] !== 1) throw new Error(`depthwiseConv2d: filter must be [k, k, C, 1] with k odd, got [${w.shape}]`);
  const p = (k - 1) / 2;
  const op = tf.customGrad((...args: unknown[]) => {
    const [xx, ww] = args as Tensor[];
    const save = args[2] as (ts: Tensor[]) => void;
    save([xx!, ww!]);
    return {
      // stride 1: 'same' is the same padding, and wasm runs it ~2.5× faster than the explicit one
      value: tf.depthwiseConv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, stride, stride === 1 ? 'same' : p),
      // tidy: a custom gradient's temporaries otherwise live until the whole backward pass ends
      gradFunc: (dy: Tensor, [sx, sw]: Tensor[]) => tf.tidy(() => depthwiseGrads(dy, sx!, sw!, stride, p)),
    };
  });
  return (op as unknown as (a: Tensor, b: Tensor) => Tensor)(x, w);
}

/** Mean over H and W of NHWC x → [N, C], as a batched matmul with a ones row (gradient: an outer product, no reduction). */
export function spatialMean(x: Tensor): Tensor {
  const [N, H, W, C] = x.shape as number[];
  const ones = tf.fill([N!, 1, H! * W!], 1 / (H! * W!));
  return tf.reshape(tf.matMul(ones as tf.Tensor3D, tf.reshape(x, [N!, H! * W!, C!]) as tf.Tensor3D), [N!, C!]);
}

/** Σ over every axis but the last, as ones[1, M] · x[M, C]: a matmul is ~10× faster than wasm's (or the JS) column sum. */
export function columnSum(x: Tensor): Tensor {
  const C = x.shape[x.rank - 1]!, M = x.size / C;
  return tf.reshape(tf.matMul(tf.ones([1, M]) as tf.Tensor2D, tf.reshape(x, [M, C]) as tf.Tensor2D), [C]);
}

/**
 * BatchNorm2d `bn` over N, H, W of NHWC x, then SiLU when `silu`. Training: batch statistics (recorded
 * into `pending` for updateBuffers, as BatchNorm2d.apply does) with a fused gradient; eval: the running ones.
 * With a = γ/σ and b = β − μ·a per channel, z = x·a + b, and the gradient needs neither x̂ nor z stored:
 * dγ = (Σ dz·x − μ·Σ dz)/σ, dβ = Σ dz, dx = dz·a + x·p + q with per-channel p, q.
 */
export function batchNormAct(x: Tensor, bn: BatchNorm2d, eps: number, pending: PendingStats, training: boolean, silu: boolean): Tensor {
  if (!training) {
    const y = tf.batchNorm(x, bn.runningMean, bn.runningVar, bn.beta, bn.gamma, eps);
    return silu ? tf.mul(y, tf.sigmoid(y)) : y;
  }
  const C = x.shape[x.rank - 1]!, M = x.size / C;
  const affine = (xx: Tensor, g: Tensor, b: Tensor, mean: Tensor, rstd: Tensor) => {
    const a = tf.mul(g, rstd);
    return { a, z: tf.add(tf.mul(xx, a), tf.sub(b, tf.mul(mean, a))) };
  };
  const op = tf.customGrad((...args: unknown[]) => {
    const [xx, g, b] = args as Tensor[];
    const save = args[3] as (ts: Tensor[]) => void;
    const mean = tf.div(columnSum(xx!), M);
    const variance = tf.div(columnSum(tf.square(tf.sub(xx!, mean))), M); // two-pass: no cancellation when |μ| ≫ σ
    const rstd = tf.rsqrt(tf.add(variance, eps));
    pending.push(bn.runningMean, bn.runningVar, mean, variance, M);
    const { z } = affine(xx!, g!, b!, mean, rstd);
    const y = silu ? tf.mul(z, tf.sigmoid(z)) : z;
    save([xx!, g!, b!, mean, rstd, y]);
    return {
      value: y,
      gradFunc: (dy: Tensor, [sx, sg, sb, smean, srstd, sy]: Tensor[]) => tf.tidy(() => {
        const { a, z: z2 } = affine(sx!, sg!, sb!, smean!, srstd!);
        // SiLU' = σ(z)·(1 + z·(1 − σ(z))) = σ(z)·(1 + z − y)
        const dz = silu ? tf.mul(dy, tf.mul(tf.sigmoid(z2), tf.add(tf.sub(z2, sy!), 1))) : dy;
        const dbeta = columnSum(dz);
        const dgamma = tf.mul(tf.sub(columnSum(tf.mul(dz, sx!)), tf.mul(smean!, dbeta)), srstd!);
        const pc = tf.mul(a, tf.div(tf.mul(srstd!, dgamma), -M));
        const qc = tf.sub(tf.mul(tf.neg(pc), smean!), tf.div(tf.mul(a, dbeta), M));
        const dx = tf.add(tf.mul(dz, a), tf.add(tf.mul(sx!, pc), qc));
        return [dx, dgamma, dbeta];
      }),
    };
  });
  return (op as unknown as (a: Tensor, b: Tensor, c: Tensor) => Tensor)(x, bn.gamma, bn.beta);
}

/**
 * x [N, H, W, C] · s [N, C] broadcast over H, W. The gradient of s, Σ over H, W of dy·x, is a batched
 * matmul with a ones row instead of tf.mul's broadcast-reducing Sum.
 */
export function channelScale(x: Tensor, s: Tensor): Tensor {
  const [N, H, W, C] = x.shape as number[];
  const op = tf.customGrad((...args: unknown[]) => {
    const [xx, ss] = args as Tensor[];
    const save = args[2] as (ts: Tensor[]) => void;
    const sb = tf.reshape(ss!, [N!, 1, 1, C!]);
    save([xx!, sb]);
    return {
      value: tf.mul(xx!, sb),
      gradFunc: (dy: Tensor, [sx, ssb]: Tensor[]) => tf.tidy(() => {
        const ones = tf.ones([N!, 1, H! * W!]) as tf.Tensor3D;
        const ds = tf.reshape(tf.matMul(ones, tf.reshape(tf.mul(dy, sx!), [N!, H! * W!, C!]) as tf.Tensor3D), [N!, C!]);
        return [tf.mul(dy, ssb!), ds];
      }),
    };
  });
  return (op as unknown as (a: Tensor, b: Tensor) => Tensor)(x, s);
}

/**
 * LayerNorm over the last axis with a learnable γ (weight) and β (bias), PyTorch's nn.LayerNorm, on the
 * fused adaLN kernel: LN(x)·(1 + (γ − 1)) + β, the modulation repeated to one row per sample.
 */
export class LayerNorm {
  readonly weight; readonly bias;
  constructor(p: Params, name: string, readonly dim: number, readonly eps = 1e-5) {
    this.weight = p.add(`${name}.weight`, [dim], 'ones');
    this.bias = p.add(`${name}.bias`, [dim], 'zeros');
  }
  /** x [B, …, D] */
  apply(x: Tensor): Tensor {
    const b = x.shape[0]!;
    // broadcastTo, not tile: tile's gradient is a slice and an add per repeat, broadcastTo's one column sum
    const scale = tf.broadcastTo(tf.reshape(tf.sub(this.weight, 1), [1, this.dim]), [b, this.dim]);
    const shift = tf.broadcastTo(tf.reshape(this.bias, [1, this.dim]), [b, this.dim]);
    return adaLayerNorm(x, shift, scale, this.eps);
  }
}

/**
 * Runs a gradient computation inside a custom gradient. tfjs's engine.gradients, when not nested in
 * another, resets `state.activeTape` on entry and sets it to null on exit, which would lose the tape
 * the outer backward pass still has to clean up; keep it aside and put it back (tfjs-core 4.22).
 */
function withOwnTape<T>(f: () => T): T {
  const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
  const outer = state.activeTape;
  try { return f(); } finally { state.activeTape = outer; }
}

/**
 * f(x) with activation checkpointing (Chen et al. 2016): the tape keeps only x, and the backward pass
 * runs f again under its own tape to get the gradients of x and of `vars` (every variable f reads).
 * One more forward of f per step for its intermediates' memory; exact when f is deterministic.
 */
export function checkpoint(f: (x: Tensor) => Tensor, x: Tensor, vars: tf.Variable[]): Tensor {
  const op = tf.customGrad((...args: unknown[]) => {
    const xx = args[0] as Tensor;
    const save = args[args.length - 1] as (ts: Tensor[]) => void;
    save([xx]);
    return {
      value: f(xx),
      gradFunc: (dy: Tensor, [sx]: Tensor[]) => tf.tidy(() => withOwnTape(() => {
        const { grads } = tf.engine().gradients(() => f(sx!), [sx!, ...vars], dy, true);
        return grads.map((g, i) => g ?? tf.zerosLike(i === 0 ? sx! : vars[i - 1]!));
      })),
    };
  });
  return (op as unknown as (...a: Tensor[]) => Tensor)(x, ...vars);
}
