import { DEFAULT_DIT_CONFIG, DEFAULT_UNET_CONFIG, DIT_PRESETS, UNET_PRESETS } from './constants.ts';
import type { DenoiserConfig, DiTConfig, UNetConfig } from './types.ts';

const KEYS = Object.keys(DEFAULT_UNET_CONFIG) as (keyof UNetConfig)[];
const DIT_KEYS = Object.keys(DEFAULT_DIT_CONFIG) as (keyof DiTConfig)[];
export const DENOISER_KINDS = ['unet', 'dit'] as const;
/** Patch sides the DiT accepts (the paper studies 2, 4 and 8). */
export const DIT_PATCH_SIZES = [1, 2, 4, 8] as const;

function fail(field: string, msg: string): never {
  throw new Error(`invalid model config: '${field}' ${msg}`);
}

function posInt<C extends object>(cfg: C, field: keyof C & string): number {
  const v = cfg[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(field, `must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Resolutions the UNet passes through, top level first. */
export function unetResolutions(cfg: Pick<UNetConfig, 'imageSize' | 'channelMult'>): number[] {
  return cfg.channelMult.map((_, i) => cfg.imageSize / 2 ** i);
}

/**
 * Fill defaults from a preset name or DEFAULT_UNET_CONFIG, then reject anything the network
 * cannot build, naming the field and the allowed values.
 */
export function validateUNetConfig(partial: Partial<UNetConfig> & { preset?: string } = {}): UNetConfig {
  const { preset, ...rest } = partial as Partial<UNetConfig> & { preset?: string };
  // own keys only: `'constructor' in UNET_PRESETS` is true
  if (preset !== undefined && (typeof preset !== 'string' || !Object.hasOwn(UNET_PRESETS, preset))) {
    const dit = typeof preset === 'string' && Object.hasOwn(DIT_PRESETS, preset) ? ` (${preset} is a DiT preset: kind 'dit')` : '';
    fail('preset', `must be one of ${Object.keys(UNET_PRESETS).join(', ')}${dit}, got ${JSON.stringify(preset)}`);
  }
  const base = preset ? UNET_PRESETS[preset]! : DEFAULT_UNET_CONFIG;
  if (rest.kind !== undefined && rest.kind !== 'unet') fail('kind', `must be 'unet' for a UNet (allowed kinds: ${DENOISER_KINDS.join(', ')}), got ${JSON.stringify(rest.kind)}`);
  for (const k of Object.keys(rest)) {
    if (!(KEYS as string[]).includes(k)) fail(k, `is not a UNet option${otherKind(k, 'unet')}; allowed: ${KEYS.join(', ')}`);
  }
  const cfg: UNetConfig = { ...base, ...rest } as UNetConfig;
  for (const f of ['inChannels', 'imageSize', 'baseChannels', 'numResBlocks', 'numHeads', 'groups', 'embedDim', 'classEmbedDim', 'numClasses'] as const) posInt(cfg, f);
  if (!Array.isArray(cfg.channelMult) || cfg.channelMult.length === 0 || cfg.channelMult.some((m) => !Number.isInteger(m) || m < 1)) {
    fail('channelMult', `must be a non-empty list of positive integers, got ${JSON.stringify(cfg.channelMult)}`);
  }
  const levels = cfg.channelMult.length;
  if (cfg.imageSize % 2 ** (levels - 1) !== 0) {
    fail('imageSize', `${cfg.imageSize} must be divisible by 2^(levels−1) = ${2 ** (levels - 1)} for ${levels} levels`);
  }
  for (const m of cfg.channelMult) {
    const c = cfg.baseChannels * m;
    if (c % cfg.groups !== 0) fail('groups', `${cfg.groups} must divide every level's channels (baseChannels × channelMult = ${c}); allowed: a divisor of ${c}`);
    if (c % cfg.numHeads !== 0) fail('numHeads', `${cfg.numHeads} must divide every level's channels (${c}); allowed: a divisor of ${c}`);
  }
  if (cfg.baseChannels % cfg.groups !== 0) fail('groups', `${cfg.groups} must divide baseChannels ${cfg.baseChannels}`);
  const res = unetResolutions(cfg);
  if (!Array.isArray(cfg.attentionResolutions)) {
    fail('attentionResolutions', `must be a list of resolutions (allowed: ${res.join(', ')}), got ${JSON.stringify(cfg.attentionResolutions)}`);
  }
  for (const r of cfg.attentionResolutions) {
    if (!res.includes(r)) fail('attentionResolutions', `contains ${typeof r === 'number' ? r : JSON.stringify(r)}, a resolution the network never reaches; allowed: ${res.join(', ')}`);
  }
  if (cfg.embedDim % 2 !== 0) fail('embedDim', `must be even (sin and cos halves), got ${cfg.embedDim}`);
  if (typeof cfg.midAttention !== 'boolean') fail('midAttention', `must be true or false, got ${JSON.stringify(cfg.midAttention)}`);
  const lr = cfg.logSnrRange;
  if (!Array.isArray(lr) || lr.length !== 2 || !lr.every((x) => typeof x === 'number' && Number.isFinite(x)) || !(lr[0] < lr[1])) {
    fail('logSnrRange', `must be [min, max], two finite numbers with min < max, got ${JSON.stringify(lr)}`);
  }
  return { ...cfg, channelMult: [...cfg.channelMult], attentionResolutions: [...cfg.attentionResolutions], logSnrRange: [...cfg.logSnrRange] as [number, number] };
}

/** A hint when a field belongs to the other denoiser: the usual sign of a config of one kind read as the other. */
function otherKind(field: string, kind: 'unet' | 'dit'): string {
  if (kind === 'unet' && (DIT_KEYS as string[]).includes(field)) return ` (it is a DiT option: a DiT config needs kind 'dit')`;
  if (kind === 'dit' && (KEYS as string[]).includes(field)) return ` (it is a UNet option: a UNet config needs kind 'unet')`;
  return '';
}

/**
 * validateUNetConfig's DiT counterpart: defaults from a DiT preset or DEFAULT_DIT_CONFIG (the paper's
 * DiT-B/4), then every field the network could not be built with is named with its allowed values.
 */
export function validateDiTConfig(partial: Partial<DiTConfig> & { preset?: string } = {}): DiTConfig {
  const { preset, ...rest } = partial as Partial<DiTConfig> & { preset?: string };
  if (preset !== undefined && (typeof preset !== 'string' || !Object.hasOwn(DIT_PRESETS, preset))) {
    const unet = typeof preset === 'string' && Object.hasOwn(UNET_PRESETS, preset) ? ` (${preset} is a UNet preset: kind 'unet')` : '';
    fail('preset', `must be one of ${Object.keys(DIT_PRESETS).join(', ')}${unet}, got ${JSON.stringify(preset)}`);
  }
  if (rest.kind !== undefined && rest.kind !== 'dit') fail('kind', `must be 'dit' for a DiT (allowed kinds: ${DENOISER_KINDS.join(', ')}), got ${JSON.stringify(rest.kind)}`);
  for (const k of Object.keys(rest)) {
    if (!(DIT_KEYS as string[]).includes(k)) fail(k, `is not a DiT option${otherKind(k, 'dit')}; allowed: ${DIT_KEYS.join(', ')}`);
  }
  const cfg: DiTConfig = { ...(preset ? DIT_PRESETS[preset]! : DEFAULT_DIT_CONFIG), ...rest } as DiTConfig;
  for (const f of ['inChannels', 'imageSize', 'patchSize', 'hiddenSize', 'depth', 'numHeads', 'embedDim', 'numClasses'] as const) posInt(cfg, f);
  const n = cfg.imageSize, p = cfg.patchSize, D = cfg.hiddenSize;
  if (!(DIT_PATCH_SIZES as readonly number[]).includes(p)) fail('patchSize', `must be one of ${DIT_PATCH_SIZES.join(', ')}, got ${p}`);
  if (n % p !== 0) {
    const ok = DIT_PATCH_SIZES.filter((q) => n % q === 0);
    fail('patchSize', `${p} must divide imageSize ${n} (the array is cut into ${p}×${p} patches); allowed for this size: ${ok.join(', ')}`);
  }
  if (D % 4 !== 0) fail('hiddenSize', `must be a multiple of 4 (the 2-D sin-cos position embedding has a sin and a cos half per axis), got ${D}`);
  if (D % cfg.numHeads !== 0) fail('numHeads', `${cfg.numHeads} must divide hiddenSize ${D}; allowed: a divisor of ${D}`);
  const r = cfg.mlpRatio;
  if (typeof r !== 'number' || !(r > 0) || !Number.isInteger(r * D)) fail('mlpRatio', `must be a positive number with hiddenSize × mlpRatio an integer, got ${JSON.stringify(r)}`);
  if (cfg.embedDim % 2 !== 0) fail('embedDim', `must be even (sin and cos halves), got ${cfg.embedDim}`);
  const lr = cfg.logSnrRange;
  if (!Array.isArray(lr) || lr.length !== 2 || !lr.every((x) => typeof x === 'number' && Number.isFinite(x)) || !(lr[0] < lr[1])) {
    fail('logSnrRange', `must be [min, max], two finite numbers with min < max, got ${JSON.stringify(lr)}`);
  }
  return { ...cfg, logSnrRange: [...cfg.logSnrRange] as [number, number] };
}

/** Which denoiser a (partial) config means: its kind, else its preset's, else the UNet (folders before the DiT). */
export function denoiserKind(partial: { kind?: unknown; preset?: unknown }): 'unet' | 'dit' {
  const k = partial.kind ?? (typeof partial.preset === 'string' && Object.hasOwn(DIT_PRESETS, partial.preset) ? 'dit' : 'unet');
  if (k !== 'unet' && k !== 'dit') fail('kind', `must be one of ${DENOISER_KINDS.join(', ')}, got ${JSON.stringify(k)}`);
  return k;
}

/** Validate a config of either kind (the model section of config.json, `--config file.json`). */
export function validateDenoiserConfig(partial: (Partial<UNetConfig> | Partial<DiTConfig>) & { preset?: string } = {}): DenoiserConfig {
  return denoiserKind(partial) === 'dit' ? validateDiTConfig(partial as Partial<DiTConfig>) : validateUNetConfig(partial as Partial<UNetConfig>);
}
