import { DEFAULT_UNET_CONFIG, UNET_PRESETS } from './constants.ts';
import type { UNetConfig } from './types.ts';

const KEYS = Object.keys(DEFAULT_UNET_CONFIG) as (keyof UNetConfig)[];

function fail(field: string, msg: string): never {
  throw new Error(`invalid model config: '${field}' ${msg}`);
}

function posInt(cfg: UNetConfig, field: keyof UNetConfig): number {
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
    fail('preset', `must be one of ${Object.keys(UNET_PRESETS).join(', ')}, got ${JSON.stringify(preset)}`);
  }
  const base = preset ? UNET_PRESETS[preset]! : DEFAULT_UNET_CONFIG;
  for (const k of Object.keys(rest)) {
    if (!(KEYS as string[]).includes(k)) fail(k, `is not a UNet option; allowed: ${KEYS.join(', ')}`);
  }
  const cfg: UNetConfig = { ...base, ...rest } as UNetConfig;
  if (cfg.kind !== 'unet') fail('kind', `must be 'unet' (allowed kinds: unet), got ${JSON.stringify(cfg.kind)}`);
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
