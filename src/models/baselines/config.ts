// Baseline model configs: defaults per architecture and validation naming the bad field.
import { BASELINE_ARCHS, type BaselineArch, type BaselineConfig } from './types.ts';

/** Below this side a CNN gets MedMNIST's small-input stem (3×3 stride 1, no max-pool). */
export const SMALL_INPUT_STEM_BELOW = 64;

/** Per-architecture defaults (dropout before the head: EfficientNet-B0's own 0.2; ResNet and ViT have none). */
export const DEFAULT_BASELINE_DROPOUT: Record<BaselineArch, number> = { resnet18: 0, resnet50: 0, 'efficientnet-b0': 0.2, 'vit-s16': 0 };

/** ViT patch side for an image side: 16 at ≥ 224² (the paper's ViT-S/16), else the side / 7 rounded to a divisor (28² → 4: 7×7 tokens). */
export function defaultPatchSize(imageSize: number): number {
  if (imageSize >= 224 && imageSize % 16 === 0) return 16;
  const want = Math.max(1, Math.round(imageSize / 7));
  for (let d = 0; d <= imageSize; d++) {
    for (const c of [want - d, want + d]) if (c >= 1 && imageSize % c === 0) return c;
  }
  return 1;
}

function fail(field: string, msg: string): never {
  throw new Error(`invalid baseline model config: '${field}' ${msg}`);
}

const KEYS: (keyof BaselineConfig)[] = ['kind', 'inChannels', 'imageSize', 'numClasses', 'dropout', 'smallInputStem', 'patchSize'];

/** A complete, checked config from a partial one (kind, inChannels, imageSize and numClasses are required). */
export function validateBaselineConfig(partial: Partial<BaselineConfig>): BaselineConfig {
  for (const k of Object.keys(partial)) if (!(KEYS as string[]).includes(k)) fail(k, `is not a baseline model field; allowed: ${KEYS.join(', ')}`);
  const kind = partial.kind;
  if (!BASELINE_ARCHS.includes(kind as BaselineArch)) fail('kind', `must be one of ${BASELINE_ARCHS.join(', ')}, got ${JSON.stringify(kind)}`);
  const arch = kind as BaselineArch;
  const c: BaselineConfig = {
    kind: arch, inChannels: partial.inChannels as 1 | 3, imageSize: partial.imageSize as number, numClasses: partial.numClasses as number,
    dropout: partial.dropout ?? DEFAULT_BASELINE_DROPOUT[arch],
    smallInputStem: partial.smallInputStem ?? (typeof partial.imageSize === 'number' && partial.imageSize < SMALL_INPUT_STEM_BELOW),
  };
  if (c.inChannels !== 1 && c.inChannels !== 3) fail('inChannels', `must be 1 or 3, got ${JSON.stringify(c.inChannels)}`);
  if (!Number.isInteger(c.imageSize) || c.imageSize < 8) fail('imageSize', `must be an integer ≥ 8, got ${JSON.stringify(c.imageSize)}`);
  if (!Number.isInteger(c.numClasses) || c.numClasses < 2) fail('numClasses', `must be an integer ≥ 2, got ${JSON.stringify(c.numClasses)}`);
  if (typeof c.dropout !== 'number' || !(c.dropout >= 0 && c.dropout < 1)) fail('dropout', `must be in [0, 1), got ${JSON.stringify(c.dropout)}`);
  if (typeof c.smallInputStem !== 'boolean') fail('smallInputStem', `must be true or false, got ${JSON.stringify(c.smallInputStem)}`);
  if (arch === 'vit-s16') {
    const ps = partial.patchSize ?? defaultPatchSize(c.imageSize);
    if (!Number.isInteger(ps) || ps < 1 || c.imageSize % ps !== 0) {
      const ok = [1, 2, 4, 7, 8, 14, 16, 28, 32].filter((d) => c.imageSize % d === 0);
      fail('patchSize', `must be a whole number dividing the image side ${c.imageSize} (e.g. ${ok.join(', ')}), got ${JSON.stringify(ps)}`);
    }
    c.patchSize = ps;
  } else if (partial.patchSize !== undefined) fail('patchSize', `applies to vit-s16 only, not '${arch}'`);
  return c;
}
