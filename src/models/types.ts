import type { Tensor } from '../runtime/index.ts';
import type { Params } from './params.ts';

export interface UNetConfig {
  kind: 'unet';
  /** Channels of the array the model sees (4·C after one Haar stage). */
  inChannels: number;
  /** Side of the (square) array the model sees. */
  imageSize: number;
  baseChannels: number;
  /** Channel multiplier per resolution level; one downsampling between levels. */
  channelMult: number[];
  /** ResBlocks per level on the way down (one more on the way up, ADM-style). */
  numResBlocks: number;
  /** Resolutions (array sides) with self- and cross-attention. */
  attentionResolutions: number[];
  /** Attention (self + cross) in the middle block. */
  midAttention: boolean;
  numHeads: number;
  groups: number;
  /** Width of the noise-level (log-SNR) embedding. */
  embedDim: number;
  /** Width of the class encoder's output (cross-attention context). */
  classEmbedDim: number;
  /** Real classes; slot `numClasses` is the learned null class for classifier-free guidance. */
  numClasses: number;
  /** Range of λ that the embedding maps to [0, 1000]. */
  logSnrRange: [number, number];
}

/**
 * DiT (Peebles & Xie 2023): the array cut into patchSize² patches, a transformer over the patch
 * tokens conditioned by adaLN-Zero on the log-SNR + class embedding, and a linear un-patchify.
 */
export interface DiTConfig {
  kind: 'dit';
  /** Channels of the array the model sees (4·C after one Haar stage); also the channels of v. */
  inChannels: number;
  /** Side of the (square) array the model sees. */
  imageSize: number;
  /** Side of a patch (one token); must divide imageSize. The paper's DiT-B/4 uses 4. */
  patchSize: number;
  /** Token width (the paper's hidden size). */
  hiddenSize: number;
  /** Transformer blocks. */
  depth: number;
  numHeads: number;
  /** MLP width as a multiple of hiddenSize (4 in the paper). */
  mlpRatio: number;
  /** Width of the sinusoidal log-SNR features before their MLP (the paper's frequency embedding size, 256). */
  embedDim: number;
  /** Real classes; slot `numClasses` is the learned null class for classifier-free guidance. */
  numClasses: number;
  /** Range of λ that the embedding maps to [0, 1000]. */
  logSnrRange: [number, number];
}

/** The model section of config.json: `kind` says which denoiser it builds. */
export type DenoiserConfig = UNetConfig | DiTConfig;
export type DenoiserKind = DenoiserConfig['kind'];

/** A denoiser predicts v from the noisy array z (NHWC), its log-SNR λ ([B]) and class ids ([B]). */
export interface Denoiser {
  readonly config: DenoiserConfig;
  readonly params: Params;
  readonly nullClass: number;
  apply(z: Tensor, logSnr: Tensor, classes: Tensor): Tensor;
  parameterCount(): number;
  dispose(): void;
}
