import { UNet } from './unet.ts';
import type { Denoiser, DenoiserConfig, UNetConfig } from './types.ts';

export { UNet } from './unet.ts';
export { Params } from './params.ts';
export { Attention, Conv2d, GroupNorm, Linear, silu, sinusoidalEmbedding } from './layers.ts';
export { validateUNetConfig, unetResolutions } from './config.ts';
export { DEFAULT_UNET_CONFIG, BENCH_UNET_CONFIG, TINY_UNET_CONFIG, UNET_PRESETS } from './constants.ts';
export { presetConfig, MIN_LOWEST_RESOLUTION, MAX_ATTENTION_RESOLUTION } from './presets.ts';
export type { PresetScaleOptions } from './presets.ts';
export { saveSafetensors, loadSafetensors, encodeSafetensors, decodeSafetensors } from './safetensors.ts';
export type { SafetensorsDtype, NamedArrays } from './safetensors.ts';
export type { Denoiser, DenoiserConfig, UNetConfig } from './types.ts';

/** The single entry point for building a denoiser from a (partial) config. */
export function createDenoiser(config: Partial<DenoiserConfig> & { preset?: string } = {}, seed = 0): Denoiser {
  const kind = config.kind ?? 'unet';
  if (kind === 'unet') return new UNet(config as Partial<UNetConfig>, seed);
  throw new Error(`unknown model kind '${kind}'; allowed: unet`);
}
