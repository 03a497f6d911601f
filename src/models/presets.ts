// Scale a named UNet preset to the data (issue 14 item 4). The presets are written for one array
// side (tiny/small: 16, base: 128); at another side the number of levels and the attention
// resolutions must follow, or the network never reaches the resolutions the preset names.
import { validateUNetConfig } from './config.ts';
import { UNET_PRESETS } from './constants.ts';
import type { UNetConfig } from './types.ts';

/** The lowest resolution (array side after the last downsampling) may not go below this. */
export const MIN_LOWEST_RESOLUTION = 4;
/** Attention (per level, and the middle block at the lowest level) only at sides up to this. */
export const MAX_ATTENTION_RESOLUTION = 16;

export interface PresetScaleOptions {
  /** Side of the array the model sees: half the pixel side after one Haar stage. */
  imageSize: number;
  /** Channels of that array: 4 × image channels. */
  inChannels: number;
  numClasses: number;
}

interface Plan { levels: number; lowest: number }

function presetOf(name: string): UNetConfig {
  if (typeof name !== 'string' || !Object.hasOwn(UNET_PRESETS, name)) {
    throw new Error(`unknown model preset ${JSON.stringify(name)}; allowed: ${Object.keys(UNET_PRESETS).join(', ')}`);
  }
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
export function presetConfig(name: string, o: PresetScaleOptions): UNetConfig {
  const p = presetOf(name);
  const n = o.imageSize;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
    throw new Error(`image size: the array side must be a positive integer (half the pixel side, which must be even), got ${JSON.stringify(n)}`);
  }
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
