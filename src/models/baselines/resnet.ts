// ResNet-18 and ResNet-50 (He et al. 2016) as torchvision builds them: convolutions without bias,
// batch norm, BasicBlock [2,2,2,2] / Bottleneck [3,4,6,3] with the stride on the 3×3 conv, global
// average pooling and one linear head. Small inputs get MedMNIST's stem (3×3 stride 1, no max-pool).
import { tf, type Tensor } from '../../runtime/index.ts';
import { Params } from '../params.ts';
import { Linear } from '../layers.ts';
import { BatchNorm2d, PendingStats, dropout } from './layers.ts';
import type { BaselineConfig, BaselineForward, BaselineNet } from './types.ts';

/** A bias-free convolution (every torchvision ResNet conv is followed by batch norm), Kaiming-normal fan-out init. */
class ConvBn {
  readonly weight; readonly bn;
  constructor(p: Params, buffers: Params, pending: PendingStats, name: string, bnName: string, readonly inC: number, readonly outC: number,
    readonly k: number, readonly stride: number, zeroGamma = false) {
    this.weight = p.add(`${name}.weight`, [k, k, inC, outC], { normal: Math.sqrt(2 / (outC * k * k)) });
    this.bn = new BatchNorm2d(p, buffers, bnName, outC, pending, { zeroInit: zeroGamma });
  }
  apply(x: Tensor, training: boolean, relu: boolean): Tensor {
    let y: Tensor;
    if (this.k === 1 && this.stride === 1) {
      const [b, h, w] = x.shape as number[];
      y = tf.reshape(tf.matMul(tf.reshape(x, [-1, this.inC]) as tf.Tensor2D, tf.reshape(this.weight, [this.inC, this.outC]) as tf.Tensor2D), [b!, h!, w!, this.outC]);
    } else {
      y = tf.conv2d(x as tf.Tensor4D, this.weight as tf.Tensor4D, this.stride, 'same');
    }
    y = this.bn.apply(y, training);
    return relu ? tf.relu(y) : y;
  }
}

interface Block { apply(x: Tensor, training: boolean): Tensor }

class BasicBlock implements Block {
  static readonly expansion = 1;
  private readonly c1; private readonly c2; private readonly down: ConvBn | null;
  constructor(p: Params, b: Params, s: PendingStats, name: string, inC: number, width: number, stride: number) {
    this.c1 = new ConvBn(p, b, s, `${name}.conv1`, `${name}.bn1`, inC, width, 3, stride);
    this.c2 = new ConvBn(p, b, s, `${name}.conv2`, `${name}.bn2`, width, width, 3, 1);
    this.down = stride !== 1 || inC !== width ? new ConvBn(p, b, s, `${name}.downsample.0`, `${name}.downsample.1`, inC, width, 1, stride) : null;
  }
  apply(x: Tensor, training: boolean): Tensor {
    const h = this.c2.apply(this.c1.apply(x, training, true), training, false);
    return tf.relu(tf.add(h, this.down ? this.down.apply(x, training, false) : x));
  }
}

class Bottleneck implements Block {
  static readonly expansion = 4;
  private readonly c1; private readonly c2; private readonly c3; private readonly down: ConvBn | null;
  constructor(p: Params, b: Params, s: PendingStats, name: string, inC: number, width: number, stride: number) {
    const out = width * Bottleneck.expansion;
    this.c1 = new ConvBn(p, b, s, `${name}.conv1`, `${name}.bn1`, inC, width, 1, 1);
    this.c2 = new ConvBn(p, b, s, `${name}.conv2`, `${name}.bn2`, width, width, 3, stride);
    this.c3 = new ConvBn(p, b, s, `${name}.conv3`, `${name}.bn3`, width, out, 1, 1);
    this.down = stride !== 1 || inC !== out ? new ConvBn(p, b, s, `${name}.downsample.0`, `${name}.downsample.1`, inC, out, 1, stride) : null;
  }
  apply(x: Tensor, training: boolean): Tensor {
    const h = this.c3.apply(this.c2.apply(this.c1.apply(x, training, true), training, true), training, false);
    return tf.relu(tf.add(h, this.down ? this.down.apply(x, training, false) : x));
  }
}

const LAYOUT = { resnet18: { blocks: [2, 2, 2, 2], Block: BasicBlock }, resnet50: { blocks: [3, 4, 6, 3], Block: Bottleneck } } as const;

export class ResNet implements BaselineNet {
  readonly params: Params;
  readonly buffers: Params;
  private readonly pending = new PendingStats();
  private readonly stem: ConvBn;
  private readonly blocks: Block[] = [];
  private readonly fc: Linear;

  constructor(readonly config: BaselineConfig, seed = 0) {
    if (config.kind !== 'resnet18' && config.kind !== 'resnet50') throw new Error(`ResNet: model.kind must be 'resnet18' or 'resnet50', got '${config.kind}'`);
    this.params = new Params(seed);
    this.buffers = new Params(seed);
    const p = this.params, b = this.buffers, s = this.pending;
    const { blocks, Block } = LAYOUT[config.kind];
    const small = config.smallInputStem;
    this.stem = new ConvBn(p, b, s, 'conv1', 'bn1', config.inChannels, 64, small ? 3 : 7, small ? 1 : 2);
    let inC = 64;
    blocks.forEach((count, li) => {
      const width = 64 * 2 ** li;
      for (let i = 0; i < count; i++) {
        this.blocks.push(new Block(p, b, s, `layer${li + 1}.${i}`, inC, width, i === 0 && li > 0 ? 2 : 1));
        inC = width * Block.expansion;
      }
    });
    this.fc = new Linear(p, 'fc', inC, config.numClasses);
  }

  apply(x: Tensor, o: BaselineForward): Tensor {
    return tf.tidy(() => {
      let h = this.stem.apply(x, o.training, true);
      if (!this.config.smallInputStem) h = tf.maxPool(h as tf.Tensor4D, 3, 2, 'same');
      for (const blk of this.blocks) h = blk.apply(h, o.training);
      h = tf.mean(h, [1, 2]);
      h = dropout(h, this.config.dropout, o.dropout, o.seed ?? 0);
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
