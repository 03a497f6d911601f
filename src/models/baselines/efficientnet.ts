// EfficientNet-B0 (Tan & Le 2019) as torchvision builds it: a 3×3 stride-2 stem, seven stages of
// MBConv blocks (1×1 expansion, depthwise k×k, squeeze-excitation to a quarter of the block's input
// channels, 1×1 projection, residual when the shape allows), a 1×1 head to 1280 channels, global
// average pooling, dropout and one linear layer. Convolutions are bias-free and followed by batch norm;
// every activation is SiLU. Parameter names follow torchvision's state dict.
// Left out: torchvision's stochastic depth (residual branches dropped with probability up to 0.2,
// per sample, in training). It is a regulariser of long ImageNet runs; our short runs and MC dropout
// need the forward pass to be deterministic apart from the head's dropout.
import { tf, type Tensor } from '../../runtime/index.ts';
import { Params } from '../params.ts';
import { Linear, silu } from '../layers.ts';
import { BatchNorm2d, PendingStats, dropout } from './layers.ts';
import { batchNormAct, channelScale, depthwiseConv2d, spatialMean } from './blocks.ts';
import type { BaselineConfig, BaselineForward, BaselineNet } from './types.ts';

/** (expand ratio, kernel, stride, output channels, repeats) per stage: the paper's Table 1. */
const STAGES: readonly [number, number, number, number, number][] = [
  [1, 3, 1, 16, 1], [6, 3, 2, 24, 2], [6, 5, 2, 40, 2], [6, 3, 2, 80, 3], [6, 5, 1, 112, 3], [6, 5, 2, 192, 4], [6, 3, 1, 320, 1],
];
const STEM = 32, HEAD = 1280;
/**
 * torchvision's efficientnet_b0 keeps nn.BatchNorm2d's defaults (eps 1e-5, momentum 0.1); the TF
 * original and torchvision's B5–B7/V2 use eps 1e-3.
 */
const BN_EPS = 1e-5;

type Ctx = { p: Params; b: Params; s: PendingStats };

/** k×k conv (bias-free; depthwise when `depthwise`) + batch norm + optional SiLU; torchvision's Conv2dNormActivation. */
class ConvBnAct {
  readonly weight; readonly bn; private readonly pending: PendingStats;
  constructor(c: Ctx, name: string, readonly inC: number, readonly outC: number, readonly k: number, readonly stride: number,
    readonly depthwise: boolean, readonly act: boolean) {
    // Kaiming normal, fan-out (a depthwise filter's fan-out is k²: one output channel per group)
    this.weight = c.p.add(`${name}.0.weight`, depthwise ? [k, k, outC, 1] : [k, k, inC, outC], { normal: Math.sqrt(2 / (outC * k * k)) });
    this.bn = new BatchNorm2d(c.p, c.b, `${name}.1`, outC, c.s, { eps: BN_EPS });
    this.pending = c.s;
  }
  apply(x: Tensor, training: boolean): Tensor {
    let y: Tensor;
    if (this.depthwise) y = depthwiseConv2d(x, this.weight, this.stride);
    else if (this.k === 1) {
      const [n, h, w] = x.shape as number[];
      y = tf.reshape(tf.matMul(tf.reshape(x, [-1, this.inC]) as tf.Tensor2D, tf.reshape(this.weight, [this.inC, this.outC]) as tf.Tensor2D), [n!, h!, w!, this.outC]);
    } else {
      // PyTorch's symmetric padding (k−1)/2 (tfjs 'same' differs at stride 2 on even sides)
      y = tf.conv2d(x as tf.Tensor4D, this.weight as tf.Tensor4D, this.stride, this.stride === 1 ? 'same' : (this.k - 1) / 2);
    }
    // BatchNorm2d's variables, the fused op (blocks.ts) for the arithmetic
    return batchNormAct(y, this.bn, BN_EPS, this.pending, training, this.act);
  }
}

class MBConv {
  private readonly expand: ConvBnAct | null;
  private readonly dw: ConvBnAct;
  private readonly fc1: Linear; private readonly fc2: Linear;
  private readonly project: ConvBnAct;
  private readonly residual: boolean;
  constructor(c: Ctx, name: string, inC: number, outC: number, expandRatio: number, k: number, stride: number) {
    const mid = inC * expandRatio;
    let j = 0;
    this.expand = mid !== inC ? new ConvBnAct(c, `${name}.block.${j++}`, inC, mid, 1, 1, false, true) : null;
    this.dw = new ConvBnAct(c, `${name}.block.${j++}`, mid, mid, k, stride, true, true);
    // squeeze-excitation to max(1, in/4) channels (of the block input, not the expanded width); 1×1 convs with bias on [B, C]
    const sq = Math.max(1, Math.floor(inC / 4));
    const se = `${name}.block.${j++}`;
    this.fc1 = new Linear(c.p, `${se}.fc1`, mid, sq, { init: { normal: Math.sqrt(2 / sq) } });
    this.fc2 = new Linear(c.p, `${se}.fc2`, sq, mid, { init: { normal: Math.sqrt(2 / mid) } });
    this.project = new ConvBnAct(c, `${name}.block.${j++}`, mid, outC, 1, 1, false, false);
    this.residual = stride === 1 && inC === outC;
  }
  apply(x: Tensor, training: boolean): Tensor {
    let h = this.expand ? this.expand.apply(x, training) : x;
    h = this.dw.apply(h, training);
    const gate = tf.sigmoid(this.fc2.apply(silu(this.fc1.apply(spatialMean(h)))));
    h = this.project.apply(channelScale(h, gate), training);
    return this.residual ? tf.add(h, x) : h;
  }
}

export class EfficientNet implements BaselineNet {
  readonly params: Params;
  readonly buffers: Params;
  private readonly pending = new PendingStats();
  private readonly stem: ConvBnAct;
  private readonly blocks: MBConv[] = [];
  private readonly head: ConvBnAct;
  private readonly fc: Linear;

  constructor(readonly config: BaselineConfig, seed = 0) {
    if (config.kind !== 'efficientnet-b0') throw new Error(`EfficientNet: model.kind must be 'efficientnet-b0', got '${config.kind}'`);
    this.params = new Params(seed);
    this.buffers = new Params(seed);
    const c: Ctx = { p: this.params, b: this.buffers, s: this.pending };
    // Small inputs (MedMNIST-style, as the ResNets' small stem): the stem and the first stride-2 stage
    // (24 channels) keep stride 1, so 28² ends at 4² (28→28→14→7→4) instead of 1² (ImageNet's /32).
    const small = config.smallInputStem;
    this.stem = new ConvBnAct(c, 'features.0', config.inChannels, STEM, 3, small ? 1 : 2, false, true);
    let inC = STEM;
    STAGES.forEach(([e, k, stride, out, repeats], si) => {
      const s = small && si === 1 ? 1 : stride;
      for (let i = 0; i < repeats; i++) {
        this.blocks.push(new MBConv(c, `features.${si + 1}.${i}`, inC, out, e, k, i === 0 ? s : 1));
        inC = out;
      }
    });
    this.head = new ConvBnAct(c, `features.${STAGES.length + 1}`, inC, HEAD, 1, 1, false, true);
    this.fc = new Linear(c.p, 'classifier.1', HEAD, config.numClasses, { init: { uniform: 1 / Math.sqrt(config.numClasses) } });
  }

  /** The head's feature map [B, h, w, 1280] before pooling (h = w = 4 for 28² with the small-input strides, 7 at 224²). */
  features(x: Tensor, training: boolean): Tensor {
    return tf.tidy(() => {
      let h = this.stem.apply(x, training);
      for (const blk of this.blocks) h = blk.apply(h, training);
      return this.head.apply(h, training);
    });
  }

  apply(x: Tensor, o: BaselineForward): Tensor {
    return tf.tidy(() => {
      const h = dropout(spatialMean(this.features(x, o.training)), this.config.dropout, o.dropout, o.seed ?? 0);
      return this.fc.apply(h);
    });
  }

  updateBuffers(): void { this.pending.apply(0.1); }
  parameterCount(): number { return this.params.count; }
  dispose(): void {
    this.pending.clear();
    this.params.dispose();
    this.buffers.dispose();
  }
}
