// Public surface of the baselines: configs, the factory, the layers the architectures share.
import { ResNet } from './resnet.ts';
import { EfficientNet } from './efficientnet.ts';
import { VisionTransformer } from './vit.ts';
import { validateBaselineConfig } from './config.ts';
import type { BaselineConfig, BaselineNet } from './types.ts';

export { ResNet } from './resnet.ts';
export { EfficientNet } from './efficientnet.ts';
export { VisionTransformer } from './vit.ts';
export { BatchNorm2d, PendingStats, dropout } from './layers.ts';
export { validateBaselineConfig, defaultPatchSize, DEFAULT_BASELINE_DROPOUT, SMALL_INPUT_STEM_BELOW } from './config.ts';
export { BASELINE_ARCHS } from './types.ts';
export type { BaselineArch, BaselineConfig, BaselineForward, BaselineNet } from './types.ts';

/** Build a baseline network from a (partial) config; the architecture is `kind`. */
export function createBaseline(partial: Partial<BaselineConfig>, seed = 0): BaselineNet {
  const config = validateBaselineConfig(partial);
  switch (config.kind) {
    case 'resnet18':
    case 'resnet50':
      return new ResNet(config, seed);
    case 'efficientnet-b0':
      return new EfficientNet(config, seed);
    case 'vit-s16':
      return new VisionTransformer(config, seed);
    default:
      throw new Error(`baseline '${config.kind}' is not built yet`);
  }
}
