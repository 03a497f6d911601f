import { UNet } from './unet.ts';
import { DiT } from './dit.ts';
import { denoiserKind } from './config.ts';
import type { Denoiser, DenoiserConfig, DiTConfig, UNetConfig } from './types.ts';

export { UNet } from './unet.ts';
export { DiT, ditParameterCount, sincosPositions } from './dit.ts';
export { Params } from './params.ts';
export { Attention, Conv2d, GroupNorm, Linear, silu, sinusoidalEmbedding } from './layers.ts';
export { validateUNetConfig, validateDiTConfig, validateDenoiserConfig, denoiserKind, unetResolutions, DENOISER_KINDS, DIT_PATCH_SIZES } from './config.ts';
export { DEFAULT_UNET_CONFIG, BENCH_UNET_CONFIG, TINY_UNET_CONFIG, UNET_64_CONFIG, UNET_128_CONFIG, UNET_PRESETS, DEFAULT_DIT_CONFIG, SMALL_DIT_CONFIG, TINY_DIT_CONFIG, DIT_PRESETS, MODEL_PRESET_NAMES } from './constants.ts';
export { presetConfig, MIN_LOWEST_RESOLUTION, MAX_ATTENTION_RESOLUTION } from './presets.ts';
export type { PresetScaleOptions } from './presets.ts';
export { saveSafetensors, loadSafetensors, encodeSafetensors, decodeSafetensors } from './safetensors.ts';
export type { SafetensorsDtype, NamedArrays } from './safetensors.ts';
export type { Denoiser, DenoiserConfig, DenoiserKind, DiTConfig, UNetConfig } from './types.ts';

/** The kind of denoiser a set of weight names belongs to, by names only one kind has (null: neither). */
export function denoiserKindOfWeights(names: Iterable<string>): 'unet' | 'dit' | null {
  for (const n of names) {
    if (n.startsWith('blocks.') || n === 'patch.weight') return 'dit';
    if (n.startsWith('down.') || n === 'input.weight') return 'unet';
  }
  return null;
}

/** The single entry point for building a denoiser from a (partial) config: `kind` (or the preset) picks UNet or DiT. */
export function createDenoiser(config: Partial<DenoiserConfig> & { preset?: string } = {}, seed = 0): Denoiser {
  return denoiserKind(config) === 'dit' ? new DiT(config as Partial<DiTConfig>, seed) : new UNet(config as Partial<UNetConfig>, seed);
}
export {
  createBaseline, validateBaselineConfig, defaultPatchSize, BASELINE_ARCHS, DEFAULT_BASELINE_DROPOUT, SMALL_INPUT_STEM_BELOW,
  type BaselineArch, type BaselineConfig, type BaselineForward, type BaselineNet,
} from './baselines/index.ts';
export { forwardBytesPerRow, rowsThatFit } from './memory.ts';
