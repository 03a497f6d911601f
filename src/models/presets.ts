// Scale a named preset to the data (issue 14 item 4). The presets are written for one array side
// (tiny/small/dit-tiny/dit-s: 16, unet-64: 32, unet-128: 64, base/dit-b4: 128); at another side a UNet's levels and attention
// resolutions must follow, or the network never reaches the resolutions the preset names, and a
// DiT's token grid follows (ditPresetConfig).
import { DIT_PATCH_SIZES, validateDiTConfig, validateUNetConfig } from './config.ts';
import { DIT_PRESETS, MODEL_PRESET_NAMES, UNET_PRESETS } from './constants.ts';
import type { DenoiserConfig, DiTConfig, UNetConfig } from './types.ts';

/** The lowest resolution (array side after the last downsampling) may not go below this. */
export const MIN_LOWEST_RESOLUTION = 4;
/** Attention (per level, and the middle block at the lowest level) only at sides up to this. */
export const MAX_ATTENTION_RESOLUTION = 16;
/** A scaled DiT preset may not have more tokens than this (attention holds B·heads·T² scores). */
export const MAX_DIT_TOKENS = 4096;

export interface PresetScaleOptions {
  /** Side of the array the model sees: half the pixel side after one Haar stage. */
  imageSize: number;
  /** Channels of that array: 4 × image channels. */
  inChannels: number;
  numClasses: number;
}

interface Plan { levels: number; lowest: number }

function presetOf(name: string): UNetConfig {
  return UNET_PRESETS[name]!;
}

/** The preset's levels, lowest resolution and largest allowed lowest resolution. */
function shape(p: UNetConfig) {
  const levels = p.channelMult.length;
  const lowest = p.imageSize / 2 ** (levels - 1);
  return { levels, lowest, minLevels: Math.min(2, levels), maxLowest: Math.max(MAX_ATTENTION_RESOLUTION, lowest) };
}

/**
 * Level count for array side n: at least one downsampling (unless the preset has none), every
 * level an integer side, the lowest in [MIN_LOWEST_RESOLUTION, 16], and of those the lowest
 * resolution nearest (in octaves) to the preset's own; ties go to more levels. Powers-of-two
 * multiples of the native side thus keep the preset's lowest resolution exactly.
 */
function plan(p: UNetConfig, n: number): Plan | null {
  const s = shape(p);
  let best: Plan | null = null;
  for (let levels = s.minLevels; n % 2 ** (levels - 1) === 0; levels++) {
    const lowest = n / 2 ** (levels - 1);
    if (lowest < MIN_LOWEST_RESOLUTION) break;
    if (lowest > s.maxLowest) continue;
    if (!best || Math.abs(Math.log2(lowest / s.lowest)) <= Math.abs(Math.log2(best.lowest / s.lowest))) best = { levels, lowest };
  }
  return best;
}

function whyNot(p: UNetConfig, n: number): string {
  const s = shape(p);
  const floor = MIN_LOWEST_RESOLUTION * 2 ** (s.minLevels - 1);
  if (n < floor) return `array side ${n} is below the smallest, ${floor} (one halving to at least ${MIN_LOWEST_RESOLUTION})`;
  if (s.minLevels > 1 && n % 2 !== 0) return `array side ${n} is odd, so it cannot be downsampled`;
  let m = n;
  while (m % 2 === 0 && m / 2 >= MIN_LOWEST_RESOLUTION) m /= 2;
  return `array side ${n} halves evenly only down to ${m}, above the largest lowest resolution ${s.maxLowest}`;
}

/**
 * Pixel sizes (2 × array side) the preset accepts: the powers of two up to 512, and the allowed
 * sizes nearest to the refused one.
 */
function allowedText(p: UNetConfig, n: number): string {
  const ok = (side: number) => plan(p, side) !== null;
  const pow2: number[] = [];
  for (let side = 1; side <= 256; side *= 2) if (ok(side)) pow2.push(2 * side);
  const near: number[] = [];
  const start = Math.max(1, Math.floor(n));
  for (let side = start; side >= 1; side--) if (ok(side)) { near.push(2 * side); break; }
  for (let side = start + 1; side <= start + 4096; side++) if (ok(side)) { near.push(2 * side); break; }
  return `allowed pixel sizes: ${pow2.join(', ')}, … (any even pixel size whose array side halves evenly to ${MIN_LOWEST_RESOLUTION}–${shape(p).maxLowest}); nearest: ${near.join(', ')}`;
}

/**
 * The named preset scaled to the data: widths (baseChannels, multipliers, heads, groups,
 * embeddings) are the preset's; the level count follows the array side so the lowest resolution
 * stays near the preset's (levels beyond the preset's repeat its last multiplier, fewer levels
 * keep its first ones); attention sits at the same positions counted from the lowest level as in
 * the preset, only at sides ≤ 16 (at the lowest level if none is left). At the preset's native
 * side, with its inChannels and numClasses, this is exactly the preset.
 */
export function presetConfig(name: 'tiny' | 'small' | 'bench' | 'base' | 'unet-64' | 'unet-128', o: PresetScaleOptions): UNetConfig;
export function presetConfig(name: `dit-${string}`, o: PresetScaleOptions): DiTConfig;
export function presetConfig(name: string, o: PresetScaleOptions): DenoiserConfig;
export function presetConfig(name: string, o: PresetScaleOptions): DenoiserConfig {
  const known = typeof name === 'string' && (Object.hasOwn(UNET_PRESETS, name) || Object.hasOwn(DIT_PRESETS, name));
  if (!known) throw new Error(`unknown model preset ${JSON.stringify(name)}; allowed: ${MODEL_PRESET_NAMES.join(', ')}`);
  const n = o.imageSize;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new Error(`image size: the array side must be a positive integer (half the pixel side, which must be even), got ${JSON.stringify(n)}`);
  }
  return Object.hasOwn(DIT_PRESETS, name) ? ditPresetConfig(name, o) : unetPresetConfig(name, o);
}

function unetPresetConfig(name: string, o: PresetScaleOptions): UNetConfig {
  const p = presetOf(name);
  const n = o.imageSize;
  const pl = plan(p, n);
  if (!pl) throw new Error(`image size ${2 * n} (array ${n}): the ${name} preset cannot be built — ${whyNot(p, n)}; ${allowedText(p, n)}`);
  const s = shape(p);
  const channelMult = Array.from({ length: pl.levels }, (_, i) => p.channelMult[Math.min(i, s.levels - 1)]!);
  const attentionResolutions: number[] = [];
  for (const r of p.attentionResolutions) {
    const fromBottom = Math.round(Math.log2(r / s.lowest));
    const side = pl.lowest * 2 ** fromBottom;
    if (fromBottom < pl.levels && side <= MAX_ATTENTION_RESOLUTION && !attentionResolutions.includes(side)) attentionResolutions.push(side);
  }
  if (p.attentionResolutions.length > 0 && attentionResolutions.length === 0) attentionResolutions.push(pl.lowest);
  return validateUNetConfig({ ...p, imageSize: n, inChannels: o.inChannels, numClasses: o.numClasses, channelMult, attentionResolutions });
}

/**
 * A DiT preset scaled to the data: the width, depth and heads are the preset's and the token grid
 * follows the array side (the paper keeps the patch and lets the tokens grow with the image, as a
 * UNet's cost grows with its pixels). The patch is the preset's, or the largest allowed one below
 * it that divides the side (28² MedMNIST unpadded: 14 → patch 2); refused beyond MAX_DIT_TOKENS.
 */
function ditPresetConfig(name: string, o: PresetScaleOptions): DiTConfig {
  const p = DIT_PRESETS[name]!;
  const n = o.imageSize;
  const patchSize = [...DIT_PATCH_SIZES].reverse().find((q) => q <= p.patchSize && n % q === 0)!;
  const tokens = (n / patchSize) ** 2;
  if (tokens > MAX_DIT_TOKENS) {
    const ok = (side: number) => side % p.patchSize === 0 && (side / p.patchSize) ** 2 <= MAX_DIT_TOKENS;
    const near: number[] = [];
    for (let side = n - 1; side >= 1; side--) if (ok(side)) { near.push(2 * side); break; }
    for (let side = n + 1; side <= n + 64; side++) if (ok(side)) { near.push(2 * side); break; }
    throw new Error(`image size ${2 * n} (array ${n}): the ${name} preset would need patch ${patchSize} (the largest of ${DIT_PATCH_SIZES.join(', ')} up to ${p.patchSize} dividing ${n}), i.e. ${tokens} tokens, more than ${MAX_DIT_TOKENS}; allowed pixel sizes: multiples of ${2 * p.patchSize} up to ${2 * p.patchSize * Math.sqrt(MAX_DIT_TOKENS)}; nearest: ${near.join(', ')}`);
  }
  return validateDiTConfig({ ...p, imageSize: n, inChannels: o.inChannels, numClasses: o.numClasses, patchSize });
}
