// ViT-S/16 (Dosovitskiy et al. 2021) as timm's vit_small_patch16_224: p×p patches embedded by a conv
// with kernel = stride = p, a class token, learned position embeddings, 12 pre-LN blocks of width 384
// (6 heads, MLP 4×, GELU), a final LayerNorm and a linear head on the class token. Small images keep
// the architecture and shrink the patch (config.patchSize: 28² with 4×4 patches is 7×7 tokens + cls).
// Differences from timm, none of which changes the parameter count: GELU is the tanh approximation
// (the fused kernel; |Δ| < 1e-3 of the erf form), the linear layers start Glorot-uniform as in the
// original JAX code, and the attention output projection is named `attn.out` (timm: `attn.proj`).
// Large batches checkpoint every block (blocks.ts): one more forward per step instead of the tape's memory.
import { tf, gelu, type Tensor } from '../../runtime/index.ts';
import { Params } from '../params.ts';
import { Attention, Conv2d, Linear, xavier } from '../layers.ts';
import { dropout } from './layers.ts';
import { LayerNorm, checkpoint } from './blocks.ts';
import type { BaselineConfig, BaselineForward, BaselineNet } from './types.ts';

/** ViT-S: width, depth, heads, MLP ratio. */
const WIDTH = 384, DEPTH = 12, HEADS = 6, MLP_RATIO = 4;
const LN_EPS = 1e-6;
/**
 * Above this many bytes of block activations (B·T·D floats × ~44 per block, forward and gradient) the
 * blocks are checkpointed. Batch 64 of 28² (50 tokens): the wasm heap (4 GB at most) grew to 3.4 GB
 * without, 0.64 GB with, for about the same step time (a large heap is slow to grow).
 */
const CHECKPOINT_ABOVE_BYTES = 1e9;

class Block {
  readonly norm1; readonly attn; readonly norm2; readonly fc1; readonly fc2;
  /** Every variable apply() reads (what checkpoint() needs gradients for). */
  readonly vars: tf.Variable[];
  constructor(p: Params, name: string, D: number, heads: number, mlp: number) {
    this.norm1 = new LayerNorm(p, `${name}.norm1`, D, LN_EPS);
    this.attn = new Attention(p, `${name}.attn`, D, heads, undefined, { xavier: true });
    this.norm2 = new LayerNorm(p, `${name}.norm2`, D, LN_EPS);
    this.fc1 = new Linear(p, `${name}.mlp.fc1`, D, mlp, { init: xavier(D, mlp) });
    this.fc2 = new Linear(p, `${name}.mlp.fc2`, mlp, D, { init: xavier(mlp, D) });
    this.vars = [...p.vars].filter(([n]) => n.startsWith(`${name}.`)).map(([, v]) => v);
  }
  /** x [B, T, D] */
  apply(x: Tensor): Tensor {
    x = tf.add(x, this.attn.apply(this.norm1.apply(x)));
    return tf.add(x, this.fc2.apply(gelu(this.fc1.apply(this.norm2.apply(x)))));
  }
}

export class VisionTransformer implements BaselineNet {
  readonly params: Params;
  /** No batch norm: nothing but the trainable parameters. */
  readonly buffers: Params;
  readonly patchSize: number;
  readonly tokens: number;
  private readonly patch: Conv2d;
  private readonly cls; private readonly pos;
  private readonly blocks: Block[] = [];
  private readonly norm: LayerNorm;
  private readonly head: Linear;

  constructor(readonly config: BaselineConfig, seed = 0) {
    if (config.kind !== 'vit-s16') throw new Error(`VisionTransformer: model.kind must be 'vit-s16', got '${config.kind}'`);
    const P = config.patchSize;
    if (P === undefined || config.imageSize % P !== 0) throw new Error(`VisionTransformer: patchSize ${P} must divide imageSize ${config.imageSize} (use validateBaselineConfig)`);
    this.patchSize = P;
    this.params = new Params(seed);
    this.buffers = new Params(seed);
    const p = this.params, D = WIDTH, C = config.inChannels;
    const grid = config.imageSize / P;
    this.tokens = grid * grid + 1;
    this.patch = new Conv2d(p, 'patch_embed.proj', C, D, { kernel: P, stride: P, init: xavier(P * P * C, D) });
    // timm: class token N(0, 1e-6), positions trunc-normal σ 0.02 (plain normal here)
    this.cls = p.add('cls_token', [1, 1, D], { normal: 1e-6 });
    this.pos = p.add('pos_embed', [1, this.tokens * D], { normal: 0.02 });
    for (let i = 0; i < DEPTH; i++) this.blocks.push(new Block(p, `blocks.${i}`, D, HEADS, D * MLP_RATIO));
    this.norm = new LayerNorm(p, 'norm', D, LN_EPS);
    this.head = new Linear(p, 'head', D, config.numClasses, { init: { normal: 0.02 } });
  }

  apply(x: Tensor, o: BaselineForward): Tensor {
    return tf.tidy(() => {
      const b = x.shape[0]!, D = WIDTH, T = this.tokens;
      const patches = tf.reshape(this.patch.apply(x), [b, T - 1, D]);
      let h = tf.concat([tf.broadcastTo(this.cls, [b, 1, D]), patches], 1);
      // positions added on [B, T·D]: their gradient is then a column sum (fast on wasm), not a Sum over axis 0 of a rank-3 tensor
      h = tf.reshape(tf.add(tf.reshape(h, [b, T * D]), this.pos), [b, T, D]);
      const big = b * T * D * 4 * 44 * DEPTH > CHECKPOINT_ABOVE_BYTES;
      for (const blk of this.blocks) h = big ? checkpoint((t) => blk.apply(t), h, blk.vars) : blk.apply(h);
      // LayerNorm is per token, so normalising only the class token gives timm's norm-then-select
      const c = this.norm.apply(tf.reshape(tf.slice(h, [0, 0, 0], [b, 1, D]), [b, D]));
      return this.head.apply(dropout(c, this.config.dropout, o.dropout, o.seed ?? 0));
    });
  }

  updateBuffers(): void { /* no running statistics */ }
  parameterCount(): number { return this.params.count; }
  dispose(): void {
    this.params.dispose();
    this.buffers.dispose();
  }
}
