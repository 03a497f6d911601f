import type { UNetConfig } from './types.ts';

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

export const UNET_PRESETS: Record<string, UNetConfig> = {
  tiny: TINY_UNET_CONFIG,
  small: BENCH_UNET_CONFIG,
  bench: BENCH_UNET_CONFIG,
  base: DEFAULT_UNET_CONFIG,
};
