// ADM-style UNet with simple-diffusion tweaks (method.md §3): ResBlocks conditioned on a log-SNR
// embedding, self- and cross-attention at low resolution, a class encoder whose output is both
// the cross-attention context and added to the noise embedding, and a learned null class.
import { tf, type Tensor } from '../runtime/index.ts';
import { validateUNetConfig } from './config.ts';
import { Attention, Conv2d, GroupNorm, Linear, silu, sinusoidalEmbedding } from './layers.ts';
import { Params } from './params.ts';
import type { Denoiser, UNetConfig } from './types.ts';

class ResBlock {
  readonly norm1; readonly conv1; readonly emb; readonly norm2; readonly conv2; readonly skip;
  constructor(p: Params, name: string, cin: number, cout: number, embDim: number, groups: number) {
    this.norm1 = new GroupNorm(p, `${name}.norm1`, cin, groups);
    this.conv1 = new Conv2d(p, `${name}.conv1`, cin, cout);
    this.emb = new Linear(p, `${name}.emb`, embDim, cout);
    this.norm2 = new GroupNorm(p, `${name}.norm2`, cout, groups);
    this.conv2 = new Conv2d(p, `${name}.conv2`, cout, cout, { zeroInit: true });
    this.skip = cin === cout ? null : new Conv2d(p, `${name}.skip`, cin, cout, { kernel: 1 });
  }

  /** embAct: SiLU of the combined noise + class embedding, [B, embDim]. */
  apply(x: Tensor, embAct: Tensor): Tensor {
    const [b] = x.shape;
    let h = this.conv1.apply(this.norm1.apply(x, true));
    h = tf.add(h, tf.reshape(this.emb.apply(embAct), [b!, 1, 1, -1]));
    h = this.conv2.apply(this.norm2.apply(h, true));
    return tf.add(this.skip ? this.skip.apply(x) : x, h);
  }
}

class AttnBlock {
  readonly norm1; readonly self; readonly norm2; readonly cross;
  constructor(p: Params, name: string, channels: number, heads: number, contextDim: number, groups: number) {
    this.norm1 = new GroupNorm(p, `${name}.norm1`, channels, groups);
    this.self = new Attention(p, `${name}.self`, channels, heads);
    this.norm2 = new GroupNorm(p, `${name}.norm2`, channels, groups);
    this.cross = new Attention(p, `${name}.cross`, channels, heads, contextDim);
  }

  apply(x: Tensor, context: Tensor): Tensor {
    const [b, h, w, c] = x.shape;
    let t = tf.reshape(x, [b!, h! * w!, c!]);
    t = tf.add(t, this.self.apply(this.norm1.apply(t)));
    t = tf.add(t, this.cross.apply(this.norm2.apply(t), context));
    return tf.reshape(t, [b!, h!, w!, c!]);
  }
}

type Block = { res: ResBlock; attn: AttnBlock | null } | { down: Conv2d } | { up: Conv2d };

export class UNet implements Denoiser {
  readonly config: UNetConfig;
  readonly params: Params;
  readonly nullClass: number;
  private readonly timeMlp: [Linear, Linear];
  private readonly classTable;
  private readonly classMlp: [Linear, Linear];
  private readonly classToEmb: Linear;
  private readonly input: Conv2d;
  private readonly down: Block[] = [];
  private readonly mid: [ResBlock, AttnBlock | null, ResBlock];
  private readonly up: Block[] = [];
  private readonly outNorm: GroupNorm;
  private readonly output: Conv2d;

  constructor(config: Partial<UNetConfig> & { preset?: string } = {}, seed = 0) {
    const cfg = (this.config = validateUNetConfig(config));
    const p = (this.params = new Params(seed));
    const { embedDim: E, classEmbedDim: D, groups: G, numHeads: H } = cfg;
    this.nullClass = cfg.numClasses;
    this.timeMlp = [new Linear(p, 'time.fc1', E, E), new Linear(p, 'time.fc2', E, E)];
    this.classTable = p.add('class.embedding', [cfg.numClasses + 1, D], { normal: 1 });
    this.classMlp = [new Linear(p, 'class.fc1', D, D), new Linear(p, 'class.fc2', D, D)];
    this.classToEmb = new Linear(p, 'class.to_emb', D, E);
    const C0 = cfg.baseChannels;
    this.input = new Conv2d(p, 'input', cfg.inChannels, C0);
    const skips = [C0];
    let c = C0;
    let res = cfg.imageSize;
    const attnAt = (r: number, name: string, ch: number) =>
      cfg.attentionResolutions.includes(r) ? new AttnBlock(p, name, ch, H, D, G) : null;
    cfg.channelMult.forEach((m, level) => {
      for (let i = 0; i < cfg.numResBlocks; i++) {
        const name = `down.${this.down.length}`;
        this.down.push({ res: new ResBlock(p, `${name}.res`, c, C0 * m, E, G), attn: attnAt(res, `${name}.attn`, C0 * m) });
        c = C0 * m;
        skips.push(c);
      }
      if (level < cfg.channelMult.length - 1) {
        this.down.push({ down: new Conv2d(p, `down.${this.down.length}.down`, c, c, { stride: 2 }) });
        skips.push(c);
        res /= 2;
      }
    });
    this.mid = [
      new ResBlock(p, 'mid.res1', c, c, E, G),
      cfg.midAttention ? new AttnBlock(p, 'mid.attn', c, H, D, G) : null,
      new ResBlock(p, 'mid.res2', c, c, E, G),
    ];
    for (let level = cfg.channelMult.length - 1; level >= 0; level--) {
      const m = cfg.channelMult[level]!;
      for (let i = 0; i < cfg.numResBlocks + 1; i++) {
        const name = `up.${this.up.length}`;
        this.up.push({ res: new ResBlock(p, `${name}.res`, c + skips.pop()!, C0 * m, E, G), attn: attnAt(res, `${name}.attn`, C0 * m) });
        c = C0 * m;
      }
      if (level > 0) {
        this.up.push({ up: new Conv2d(p, `up.${this.up.length}.up`, c, c) });
        res *= 2;
      }
    }
    this.outNorm = new GroupNorm(p, 'out.norm', c, G);
    this.output = new Conv2d(p, 'out.conv', c, cfg.inChannels, { zeroInit: true });
  }

  /** Class context [B, 1, D] from class ids (null class = numClasses). oneHot×matMul, not gather:
   * gather's gradient needs UnsortedSegmentSum, which the wasm backend lacks. */
  classContext(classes: Tensor): Tensor {
    const onehot = tf.oneHot(tf.cast(classes, 'int32') as tf.Tensor1D, this.config.numClasses + 1);
    const e = tf.matMul(onehot, this.classTable);
    const ctx = this.classMlp[1].apply(silu(this.classMlp[0].apply(e)));
    return tf.expandDims(ctx, 1);
  }

  apply(z: Tensor, logSnr: Tensor, classes: Tensor): Tensor {
    const cfg = this.config;
    const [b, h, w, ch] = z.shape;
    if (z.rank !== 4 || h !== cfg.imageSize || w !== cfg.imageSize || ch !== cfg.inChannels) {
      throw new Error(`UNet expects input [B, ${cfg.imageSize}, ${cfg.imageSize}, ${cfg.inChannels}], got [${z.shape}]`);
    }
    if (logSnr.size !== b || classes.size !== b) throw new Error(`UNet: logSnr and classes need ${b} entries, got ${logSnr.size} and ${classes.size}`);
    const temb = this.timeMlp[1].apply(silu(this.timeMlp[0].apply(sinusoidalEmbedding(logSnr, cfg.embedDim, cfg.logSnrRange))));
    const ctx = this.classContext(classes);
    const embAct = silu(tf.add(temb, this.classToEmb.apply(tf.squeeze(ctx, [1]))));
    let x = this.input.apply(z);
    const skips: Tensor[] = [x];
    for (const blk of this.down) {
      if ('res' in blk) {
        x = blk.res.apply(x, embAct);
        if (blk.attn) x = blk.attn.apply(x, ctx);
      } else if ('down' in blk) {
        x = blk.down.apply(x);
      }
      skips.push(x);
    }
    x = this.mid[0].apply(x, embAct);
    if (this.mid[1]) x = this.mid[1].apply(x, ctx);
    x = this.mid[2].apply(x, embAct);
    for (const blk of this.up) {
      if ('res' in blk) {
        x = blk.res.apply(tf.concat([x, skips.pop()!], 3), embAct);
        if (blk.attn) x = blk.attn.apply(x, ctx);
      } else if ('up' in blk) {
        const [, hh, ww] = x.shape;
        x = blk.up.apply(tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [hh! * 2, ww! * 2]));
      }
    }
    return this.output.apply(this.outNorm.apply(x, true));
  }

  parameterCount(): number { return this.params.count; }
  dispose(): void { this.params.dispose(); }
}
