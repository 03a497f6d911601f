// DiT with adaLN-Zero (Peebles & Xie 2023; method.md §3): the wavelet array is cut into p×p
// patches (a conv with kernel = stride = p), a fixed 2-D sin-cos position embedding is added, and
// `depth` transformer blocks see the condition c = MLP(sinusoidal(λ)) + class embedding only through
// adaptive LayerNorm: shift, scale and a gate per branch from SiLU(c). The gates and the final layer
// start at zero, so every block starts as the identity and the initial prediction is exactly 0.
import { tf, adaLayerNorm, gatedAdd, gelu, type Tensor } from '../runtime/index.ts';
import { validateDiTConfig } from './config.ts';
import { Attention, Conv2d, Linear, silu, sinusoidalEmbedding, xavier } from './layers.ts';
import { Params } from './params.ts';
import type { Denoiser, DiTConfig } from './types.ts';

/** The paper's LayerNorm epsilon (no elementwise affine: adaLN supplies scale and shift). */
const LN_EPS = 1e-6;

/**
 * MAE's 2-D sin-cos position table [T, D] for a g×g grid, row-major tokens: the first half of the
 * width encodes the column, the second the row, each as [sin | cos] of D/4 frequencies.
 */
export function sincosPositions(grid: number, dim: number): Float32Array {
  const quarter = dim / 4;
  const out = new Float32Array(grid * grid * dim);
  for (let r = 0; r < grid; r++) {
    for (let c = 0; c < grid; c++) {
      const row = (r * grid + c) * dim;
      for (let i = 0; i < quarter; i++) {
        const omega = 1 / 10000 ** (i / quarter);
        out[row + i] = Math.sin(c * omega); out[row + quarter + i] = Math.cos(c * omega);
        out[row + 2 * quarter + i] = Math.sin(r * omega); out[row + 3 * quarter + i] = Math.cos(r * omega);
      }
    }
  }
  return out;
}

/** Parameters of a DiT config without building it (the paper counts the same tensors, see test/models/dit.test.ts). */
export function ditParameterCount(cfg: DiTConfig): number {
  const { hiddenSize: D, patchSize: p, inChannels: C, depth, embedDim: E, numClasses: K } = cfg;
  const M = Math.round(D * cfg.mlpRatio);
  const lin = (i: number, o: number) => i * o + o;
  const block = lin(D, 3 * D) + lin(D, D) + lin(D, M) + lin(M, D) + lin(D, 6 * D);
  return lin(p * p * C, D) + lin(E, D) + lin(D, D) + (K + 1) * D + depth * block + lin(D, 2 * D) + lin(D, p * p * C);
}

class DiTBlock {
  readonly attn; readonly fc1; readonly fc2; readonly adaLN;
  constructor(p: Params, name: string, D: number, heads: number, mlp: number) {
    this.attn = new Attention(p, `${name}.attn`, D, heads, undefined, { xavier: true });
    this.fc1 = new Linear(p, `${name}.mlp.fc1`, D, mlp, { init: xavier(D, mlp) });
    this.fc2 = new Linear(p, `${name}.mlp.fc2`, mlp, D, { init: xavier(mlp, D) });
    this.adaLN = new Linear(p, `${name}.adaLN`, D, 6 * D, { zeroInit: true });
  }

  /** x [B, T, D]; cAct = SiLU(c) [B, D]. */
  apply(x: Tensor, cAct: Tensor): Tensor {
    const [shiftA, scaleA, gateA, shiftM, scaleM, gateM] = tf.split(this.adaLN.apply(cAct), 6, 1);
    x = gatedAdd(x, gateA!, this.attn.apply(adaLayerNorm(x, shiftA!, scaleA!, LN_EPS)));
    const m = this.fc2.apply(gelu(this.fc1.apply(adaLayerNorm(x, shiftM!, scaleM!, LN_EPS))));
    return gatedAdd(x, gateM!, m);
  }
}

export class DiT implements Denoiser {
  readonly config: DiTConfig;
  readonly params: Params;
  readonly nullClass: number;
  private readonly patch: Conv2d;
  /** Fixed, not a parameter (not in the safetensors files): [1, T, D]. */
  private readonly pos: Tensor;
  private readonly timeMlp: [Linear, Linear];
  private readonly classTable;
  private readonly blocks: DiTBlock[] = [];
  private readonly finalAdaLN: Linear;
  private readonly finalLinear: Linear;

  constructor(config: Partial<DiTConfig> & { preset?: string } = {}, seed = 0) {
    const cfg = (this.config = validateDiTConfig(config));
    const p = (this.params = new Params(seed));
    const { hiddenSize: D, patchSize: P, inChannels: C, embedDim: E } = cfg;
    this.nullClass = cfg.numClasses;
    // DiT initialises the patch embedding like a linear layer over the p²·C patch values
    this.patch = new Conv2d(p, 'patch', C, D, { kernel: P, stride: P, init: xavier(P * P * C, D) });
    const grid = cfg.imageSize / P;
    this.pos = tf.tensor3d(sincosPositions(grid, D), [1, grid * grid, D]);
    this.timeMlp = [new Linear(p, 'time.fc1', E, D, { init: { normal: 0.02 } }), new Linear(p, 'time.fc2', D, D, { init: { normal: 0.02 } })];
    this.classTable = p.add('class.embedding', [cfg.numClasses + 1, D], { normal: 0.02 });
    const mlp = Math.round(D * cfg.mlpRatio);
    for (let i = 0; i < cfg.depth; i++) this.blocks.push(new DiTBlock(p, `blocks.${i}`, D, cfg.numHeads, mlp));
    this.finalAdaLN = new Linear(p, 'final.adaLN', D, 2 * D, { zeroInit: true });
    this.finalLinear = new Linear(p, 'final.linear', D, P * P * C, { zeroInit: true });
  }

  /** c = noise-level embedding + class embedding, [B, D]. oneHot × matMul, not gather: gather's
   * gradient needs UnsortedSegmentSum, which the wasm backend lacks. */
  condition(logSnr: Tensor, classes: Tensor): Tensor {
    const cfg = this.config;
    const t = this.timeMlp[1].apply(silu(this.timeMlp[0].apply(sinusoidalEmbedding(logSnr, cfg.embedDim, cfg.logSnrRange))));
    const onehot = tf.oneHot(tf.cast(classes, 'int32') as tf.Tensor1D, cfg.numClasses + 1);
    return tf.add(t, tf.matMul(onehot, this.classTable));
  }

  apply(z: Tensor, logSnr: Tensor, classes: Tensor): Tensor {
    const cfg = this.config;
    const [b, h, w, ch] = z.shape;
    if (z.rank !== 4 || h !== cfg.imageSize || w !== cfg.imageSize || ch !== cfg.inChannels) {
      throw new Error(`DiT expects input [B, ${cfg.imageSize}, ${cfg.imageSize}, ${cfg.inChannels}], got [${z.shape}]`);
    }
    if (logSnr.size !== b || classes.size !== b) throw new Error(`DiT: logSnr and classes need ${b} entries, got ${logSnr.size} and ${classes.size}`);
    const { patchSize: P, hiddenSize: D, inChannels: C } = cfg;
    const g = cfg.imageSize / P;
    const cAct = silu(this.condition(logSnr, classes));
    let x = tf.add(tf.reshape(this.patch.apply(z), [b!, g * g, D]), this.pos);
    for (const blk of this.blocks) x = blk.apply(x, cAct);
    const [shift, scale] = tf.split(this.finalAdaLN.apply(cAct), 2, 1);
    const out = this.finalLinear.apply(adaLayerNorm(x, shift!, scale!, LN_EPS)); // [B, T, P·P·C]
    // un-patchify with rank-4 transposes only (wasm's higher-rank transposes are slow):
    // [B·g, g, P, P·C] → [B·g, P, g, P·C] is [B, g·P, g·P, C] row-major
    const t = tf.transpose(tf.reshape(out, [b! * g, g, P, P * C]), [0, 2, 1, 3]);
    return tf.reshape(t, [b!, g * P, g * P, C]);
  }

  parameterCount(): number { return this.params.count; }
  dispose(): void { this.params.dispose(); this.pos.dispose(); }
}
