import type { DiTConfig, UNetConfig } from './types.ts';

/** The paper's 256² UNet (method.md §3) with 12 wavelet channels at 128². */
export const DEFAULT_UNET_CONFIG: UNetConfig = {
  kind: 'unet',
  inChannels: 12,
  imageSize: 128,
  baseChannels: 128,
  channelMult: [1, 1, 2, 4, 8],
  numResBlocks: 2,
  attentionResolutions: [16],
  midAttention: true,
  numHeads: 4,
  groups: 32,
  embedDim: 512,
  classEmbedDim: 512,
  numClasses: 2,
  logSnrRange: [-15, 15],
};

/** The bench UNet (issue 3): 32² grayscale after one Haar stage, ~8.1 M parameters. */
export const BENCH_UNET_CONFIG: UNetConfig = {
  kind: 'unet',
  inChannels: 4,
  imageSize: 16,
  baseChannels: 64,
  channelMult: [1, 2, 2],
  numResBlocks: 2,
  attentionResolutions: [8, 4],
  midAttention: true,
  numHeads: 4,
  groups: 32,
  embedDim: 256,
  classEmbedDim: 256,
  numClasses: 2,
  logSnrRange: [-15, 15],
};

/** A few-thousand-parameter UNet for tests: every code path, runs in milliseconds. */
export const TINY_UNET_CONFIG: UNetConfig = {
  kind: 'unet',
  inChannels: 4,
  imageSize: 16,
  baseChannels: 8,
  channelMult: [1, 2],
  numResBlocks: 1,
  attentionResolutions: [8],
  midAttention: true,
  numHeads: 2,
  groups: 4,
  embedDim: 16,
  classEmbedDim: 16,
  numClasses: 2,
  logSnrRange: [-15, 15],
};

/**
 * Sized for 64² pixels (a 32² wavelet array; issue 15): the slimmer network of the BUSI run in
 * method.md §11 — base 32, multipliers (1, 2, 4), attention at 16² and 8² only. Narrower than
 * `small` so that a step at 64² costs about what `small` costs at 32² (bench:train has the figures).
 */
export const UNET_64_CONFIG: UNetConfig = {
  kind: 'unet',
  inChannels: 4,
  imageSize: 32,
  baseChannels: 32,
  channelMult: [1, 2, 4],
  numResBlocks: 2,
  attentionResolutions: [16, 8],
  midAttention: true,
  numHeads: 4,
  groups: 8,
  embedDim: 128,
  classEmbedDim: 128,
  numClasses: 2,
  logSnrRange: [-15, 15],
};

/**
 * Sized for 128² pixels (64² array): unet-64 with one more full-width level in front, so the
 * 64² and 32² maps stay cheap (no attention: T² scores at 64² would be 16 M per head) and
 * attention still sees only 16² and 8².
 */
export const UNET_128_CONFIG: UNetConfig = {
  ...UNET_64_CONFIG,
  imageSize: 64,
  channelMult: [1, 1, 2, 4],
};

export const UNET_PRESETS: Record<string, UNetConfig> = {
  tiny: TINY_UNET_CONFIG,
  small: BENCH_UNET_CONFIG,
  bench: BENCH_UNET_CONFIG,
  base: DEFAULT_UNET_CONFIG,
  'unet-64': UNET_64_CONFIG,
  'unet-128': UNET_128_CONFIG,
};

/**
 * The paper's DiT-B/4 (method.md §3; Peebles & Xie 2023, Table 1): 12 blocks of width 768 with
 * 12 heads of 64, patch 4, frequency embedding 256, here on the 12 × 128² wavelet array of a
 * 256² RGB image (32² = 1,024 tokens).
 */
export const DEFAULT_DIT_CONFIG: DiTConfig = {
  kind: 'dit',
  inChannels: 12,
  imageSize: 128,
  patchSize: 4,
  hiddenSize: 768,
  depth: 12,
  numHeads: 12,
  mlpRatio: 4,
  embedDim: 256,
  numClasses: 2,
  logSnrRange: [-15, 15],
};

/**
 * DiT-S/2's width, heads and patch (384, 6 × 64, 2) at the bench UNet's geometry (16² × 4, 8² = 64
 * tokens), with 4 blocks instead of 12 so that it costs about what the bench UNet does: 0.94 vs 0.80
 * GFLOP per forward pass (multiply-adds × 2), 11.2 M vs 8.1 M parameters. All 12 blocks would cost
 * 2.8 GFLOP and, at batch 64, more than the 4 GiB wasm heap holds.
 */
export const SMALL_DIT_CONFIG: DiTConfig = {
  kind: 'dit',
  inChannels: 4,
  imageSize: 16,
  patchSize: 2,
  hiddenSize: 384,
  depth: 4,
  numHeads: 6,
  mlpRatio: 4,
  embedDim: 256,
  numClasses: 2,
  logSnrRange: [-15, 15],
};

/** A 43 k-parameter DiT for tests: every code path, runs in milliseconds (8² tokens of width 32). */
export const TINY_DIT_CONFIG: DiTConfig = {
  kind: 'dit',
  inChannels: 4,
  imageSize: 16,
  patchSize: 2,
  hiddenSize: 32,
  depth: 2,
  numHeads: 2,
  mlpRatio: 4,
  embedDim: 16,
  numClasses: 2,
  logSnrRange: [-15, 15],
};

export const DIT_PRESETS: Record<string, DiTConfig> = {
  'dit-tiny': TINY_DIT_CONFIG,
  'dit-s': SMALL_DIT_CONFIG,
  'dit-b4': DEFAULT_DIT_CONFIG,
};

/** Every preset name `--config` accepts, UNet's first. */
export const MODEL_PRESET_NAMES: readonly string[] = [...Object.keys(UNET_PRESETS), ...Object.keys(DIT_PRESETS)];
