// Training settings of the discriminative baselines (method.md §8, paper appendix B): Adam, lr 1e-4
// for CNNs with weight decay, 1e-5 for ViT, batch 64, the paper's augmentations (each switchable).
import { DEFAULT_BASELINE_AUGMENT, validateBaselineAugment, type BaselineAugment, type BaselineAugmentInput } from '../data/index.ts';
import type { BaselineArch } from '../models/index.ts';
import { DEFAULT_ADAM_CONFIG, type AdamConfig } from './optim.ts';

export interface BaselineTrainConfig {
  epochs: number;
  batchSize: number;
  seed: number;
  optimizer: AdamConfig;
  augment: BaselineAugment;
  /** Over-sample minority classes so batches are class-balanced. */
  balance: boolean;
  /** Validate (and keep the best weights in best/) every this many epochs. */
  valEvery: number;
  logEvery: number;
}

/** The paper's optimiser per family: CNNs lr 1e-4 with weight decay 1e-5 (ISIC), ViT lr 1e-5. No warm-up or clipping. */
export function defaultBaselineOptimizer(arch: BaselineArch): AdamConfig {
  return { ...DEFAULT_ADAM_CONFIG, lr: arch === 'vit-s16' ? 1e-5 : 1e-4, weightDecay: arch === 'vit-s16' ? 0 : 1e-5, warmupSteps: 0, clipNorm: 0 };
}

export const DEFAULT_BASELINE_TRAIN_CONFIG: Omit<BaselineTrainConfig, 'optimizer'> = {
  epochs: 20, batchSize: 64, seed: 0, augment: DEFAULT_BASELINE_AUGMENT, balance: false, valEvery: 1, logEvery: 10,
};

type Partial2 = Partial<Omit<BaselineTrainConfig, 'optimizer' | 'augment'>> & { optimizer?: Partial<AdamConfig>; augment?: BaselineAugmentInput };

function fail(field: string, msg: string): never {
  throw new Error(`invalid baseline train config: '${field}' ${msg}`);
}

export function validateBaselineTrainConfig(arch: BaselineArch, partial: Partial2 = {}): BaselineTrainConfig {
  const keys = [...Object.keys(DEFAULT_BASELINE_TRAIN_CONFIG), 'optimizer'];
  for (const k of Object.keys(partial)) if (!keys.includes(k)) fail(k, `is not a baseline training option; allowed: ${keys.join(', ')}`);
  const c: BaselineTrainConfig = {
    ...DEFAULT_BASELINE_TRAIN_CONFIG, ...partial,
    optimizer: { ...defaultBaselineOptimizer(arch), ...partial.optimizer },
    augment: validateBaselineAugment(partial.augment ?? {}),
  } as BaselineTrainConfig;
  for (const [f, min] of [['epochs', 1], ['batchSize', 1], ['seed', 0], ['valEvery', 0], ['logEvery', 1]] as const) {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(f, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  if (typeof c.balance !== 'boolean') fail('balance', 'must be true or false');
  const o = c.optimizer;
  const optKeys = Object.keys(defaultBaselineOptimizer(arch));
  for (const k of Object.keys(partial.optimizer ?? {})) if (!optKeys.includes(k)) fail(`optimizer.${k}`, `is not an Adam setting; allowed: ${optKeys.join(', ')}`);
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) fail('optimizer.beta1/beta2', 'must be in [0, 1)');
  if (!(o.eps > 0)) fail('optimizer.eps', `must be > 0, got ${o.eps}`);
  if (!(o.lr > 0)) fail('optimizer.lr', `must be > 0, got ${o.lr}`);
  if (!(o.weightDecay >= 0)) fail('optimizer.weightDecay', `must be ≥ 0, got ${o.weightDecay}`);
  return c;
}
