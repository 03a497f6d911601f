// Building blocks of the denoisers. Activations are NHWC; each layer owns its parameters in a
// shared Params under a readable prefix. Initialisation follows PyTorch's defaults (uniform
// ±1/√fan_in) except where ADM zero-initialises the last layer of a residual branch, so every
// block starts as the identity.
import { tf, groupNorm, type Tensor } from '../runtime/index.ts';
import type { Init, Params } from './params.ts';

/** Glorot & Bengio's uniform bound, which DiT uses for every linear layer (biases zero). */
export const xavier = (fanIn: number, fanOut: number): Init => ({ uniform: Math.sqrt(6 / (fanIn + fanOut)) });

export const silu = (x: Tensor): Tensor => tf.mul(x, tf.sigmoid(x));

export class Linear {
  readonly weight; readonly bias;
  /** `init` replaces PyTorch's default for the weight, and then the bias starts at zero (DiT's init). */
  constructor(p: Params, name: string, readonly inFeatures: number, readonly outFeatures: number, opts: { zeroInit?: boolean; bias?: boolean; init?: Init } = {}) {
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = p.add(`${name}.weight`, [inFeatures, outFeatures], opts.zeroInit ? 'zeros' : opts.init ?? { uniform: bound });
    this.bias = opts.bias === false ? null : p.add(`${name}.bias`, [outFeatures], opts.zeroInit || opts.init ? 'zeros' : { uniform: bound });
  }

  /** x: [..., inFeatures] → [..., outFeatures] */
  apply(x: Tensor): Tensor {
    const lead = x.shape.slice(0, -1);
    const x2 = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D;
    const y = tf.fused.matMul({ a: x2, b: this.weight as tf.Tensor2D, bias: this.bias ?? undefined });
    return x.rank === 2 ? y : tf.reshape(y, [...lead, this.outFeatures]);
  }

  /** x · W[:, from:from+count] + b[from:from+count]: one slice of a packed projection (e.g. q of
   * qkv) without slicing the (much larger) output, which costs a strided copy on wasm. */
  applyColumns(x: Tensor, from: number, count: number): Tensor {
    const lead = x.shape.slice(0, -1);
    const w = tf.slice(this.weight, [0, from], [this.inFeatures, count]) as tf.Tensor2D;
    const b = this.bias ? tf.slice(this.bias, [from], [count]) : undefined;
    const y = tf.fused.matMul({ a: tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D, b: w, bias: b });
    return tf.reshape(y, [...lead, count]);
  }
}

export class Conv2d {
  readonly weight; readonly bias;
  constructor(p: Params, name: string, readonly inChannels: number, readonly outChannels: number,
    readonly opts: { kernel?: number; stride?: number; zeroInit?: boolean; init?: Init } = {}) {
    const k = opts.kernel ?? 3;
    const bound = 1 / Math.sqrt(inChannels * k * k);
    this.weight = p.add(`${name}.weight`, [k, k, inChannels, outChannels], opts.zeroInit ? 'zeros' : opts.init ?? { uniform: bound });
    this.bias = p.add(`${name}.bias`, [outChannels], opts.zeroInit || opts.init ? 'zeros' : { uniform: bound });
  }

  apply(x: Tensor): Tensor {
    const k = this.opts.kernel ?? 3;
    const stride = this.opts.stride ?? 1;
    if (k === 1 && stride === 1) {
      // A 1×1 conv is a matmul over pixels; this keeps it on the (fast) matmul kernel.
      const [b, h, w] = x.shape;
      const y = tf.fused.matMul({ a: tf.reshape(x, [-1, this.inChannels]) as tf.Tensor2D, b: tf.reshape(this.weight, [this.inChannels, this.outChannels]) as tf.Tensor2D, bias: this.bias });
      return tf.reshape(y, [b!, h!, w!, this.outChannels]);
    }
    return tf.fused.conv2d({ x: x as tf.Tensor4D, filter: this.weight as tf.Tensor4D, strides: stride, pad: 'same', bias: this.bias });
  }
}

export class GroupNorm {
  readonly gamma; readonly beta;
  constructor(p: Params, name: string, readonly channels: number, readonly groups: number, readonly eps = 1e-5) {
    if (channels % groups !== 0) throw new Error(`${name}: channels ${channels} not divisible by groups ${groups}`);
    this.gamma = p.add(`${name}.weight`, [channels], 'ones');
    this.beta = p.add(`${name}.bias`, [channels], 'zeros');
  }

  /** x: NHWC or [B, L, C]; `withSilu` fuses the SiLU that follows most norms. */
  apply(x: Tensor, withSilu = false): Tensor {
    return groupNorm(x, this.gamma, this.beta, this.groups, this.eps, withSilu);
  }
}

/**
 * Multi-head attention. Self-attention when no context is given; cross-attention to `context`
 * ([B, L, contextDim]) otherwise. Input and output are token sequences [B, T, C].
 */
export class Attention {
  readonly q; readonly kv; readonly out; readonly headDim: number;
  /** xavier: DiT's init (Glorot weights, zero biases, output projection not zeroed: adaLN-Zero's gate
   * already starts the branch at zero, and a zero projection as well would leave both without gradient). */
  constructor(p: Params, name: string, readonly channels: number, readonly heads: number, readonly contextDim?: number, opts: { xavier?: boolean } = {}) {
    if (channels % heads !== 0) throw new Error(`${name}: channels ${channels} not divisible by heads ${heads}`);
    this.headDim = channels / heads;
    const init = (i: number, o: number) => (opts.xavier ? { init: xavier(i, o) } : {});
    if (contextDim === undefined) {
      this.q = null;
      this.kv = new Linear(p, `${name}.qkv`, channels, 3 * channels, init(channels, 3 * channels));
    } else {
      this.q = new Linear(p, `${name}.q`, channels, channels, init(channels, channels));
      this.kv = new Linear(p, `${name}.kv`, contextDim, 2 * channels, init(contextDim, 2 * channels));
    }
    this.out = new Linear(p, `${name}.out`, channels, channels, opts.xavier ? init(channels, channels) : { zeroInit: true });
  }

  /** [B, T, C] → [B·heads, T, headDim]. Only rank-4 transposes: wasm's rank-5 transpose is
   * ~20× slower per element. */
  private heads_(x: Tensor): Tensor {
    const [b, t] = x.shape;
    return tf.reshape(tf.transpose(tf.reshape(x, [b!, t!, this.heads, this.headDim]), [0, 2, 1, 3]), [b! * this.heads, t!, this.headDim]);
  }

  apply(x: Tensor, context?: Tensor): Tensor {
    const [b, t] = x.shape;
    let q: Tensor, k: Tensor, v: Tensor;
    if (this.q) {
      if (!context) throw new Error('cross-attention needs a context');
      q = this.heads_(this.q.apply(x));
      k = this.heads_(this.kv.applyColumns(context, 0, this.channels));
      v = this.heads_(this.kv.applyColumns(context, this.channels, this.channels));
    } else {
      [q, k, v] = [0, 1, 2].map((i) => this.heads_(this.kv.applyColumns(x, i * this.channels, this.channels))) as [Tensor, Tensor, Tensor];
    }
    const scores = tf.mul(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true), 1 / Math.sqrt(this.headDim));
    const o = tf.matMul(tf.softmax(scores), v as tf.Tensor3D); // [B·h, T, d]
    const merged = tf.reshape(tf.transpose(tf.reshape(o, [b!, this.heads, t!, this.headDim]), [0, 2, 1, 3]), [b!, t!, this.channels]);
    return this.out.apply(merged);
  }
}

/**
 * Sinusoidal features of the log-SNR. λ is first mapped from [logSnrMin, logSnrMax] to [0, 1000]
 * so the frequencies match the usual timestep embedding.
 */
export function sinusoidalEmbedding(logSnr: Tensor, dim: number, range: [number, number] = [-15, 15]): Tensor {
  const half = dim / 2;
  const freqs = Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half));
  const scaled = tf.mul(tf.sub(logSnr, range[0]), 1000 / (range[1] - range[0]));
  const args = tf.mul(tf.reshape(scaled, [-1, 1]), tf.tensor2d(freqs, [1, half]));
  return tf.concat([tf.sin(args), tf.cos(args)], 1);
}
