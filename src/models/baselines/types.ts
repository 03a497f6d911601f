// Discriminative baselines (method.md §8, paper appendix B): the networks the diffusion classifier
// is compared against. They see pixels (NHWC in [−1, 1]), not the wavelet array.
import type { Tensor } from '../../runtime/index.ts';
import type { Params } from '../params.ts';

export const BASELINE_ARCHS = ['resnet18', 'resnet50', 'efficientnet-b0', 'vit-s16'] as const;
export type BaselineArch = (typeof BASELINE_ARCHS)[number];

/** The model section of a baseline folder's config.json. */
export interface BaselineConfig {
  kind: BaselineArch;
  /** 1 = grayscale, 3 = RGB. */
  inChannels: 1 | 3;
  /** Side of the square pixel image the network sees. */
  imageSize: number;
  numClasses: number;
  /** Dropout before the classifier head (0 = none; MC dropout needs > 0). */
  dropout: number;
  /**
   * Small-input stem (MedMNIST's adaptation of ResNet at 28²): a 3×3 stride-1 first conv and no
   * max-pool, so a 28² image keeps 28² feature maps in the first stage. 'auto' = on below 64².
   * CNNs only; ViT uses patchSize.
   */
  smallInputStem: boolean;
  /** ViT only: side of a patch (a token). ViT-S/16 uses 16 at 224²; small inputs use a smaller patch. */
  patchSize?: number;
}

/** How one forward pass runs. */
export interface BaselineForward {
  /** Batch norm from the batch's statistics (recorded for updateBuffers) instead of the running ones. */
  training: boolean;
  /** Dropout on: in training, and for MC dropout at test time. */
  dropout: boolean;
  /** Seed of this pass's dropout masks (a pure function of it: same seed, same masks). */
  seed?: number;
}

/** A discriminative classifier: images → logits. */
export interface BaselineNet {
  readonly config: BaselineConfig;
  /** Trainable parameters (what Adam updates). */
  readonly params: Params;
  /** Non-trainable state saved with the weights (batch-norm running mean/variance); may be empty. */
  readonly buffers: Params;
  /** Logits [B, K] for NHWC images [B, S, S, C] in [−1, 1]. */
  apply(x: Tensor, o: BaselineForward): Tensor;
  /**
   * After a training step: move the running statistics toward the batch statistics the last
   * training-mode apply() recorded (momentum 0.1, as PyTorch), and free them. A no-op without batch norm.
   */
  updateBuffers(): void;
  parameterCount(): number;
  dispose(): void;
}
