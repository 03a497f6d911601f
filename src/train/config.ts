import { DEFAULT_ADAM_CONFIG, type AdamConfig } from './optim.ts';
import { DEFAULT_EMA_CONFIG, PAPER_EMA_CONFIG, type EmaConfig } from './ema.ts';

export interface TrainConfig {
  steps: number;
  /** Examples per optimizer step. */
  batchSize: number;
  /**
   * Examples per forward/backward pass; gradients are accumulated up to batchSize. Results do not
   * depend on it (the step's random draws are made per batch). trainFromData picks it from the
   * memory a step needs when unset or 'auto' (see memory.ts); here 'auto' stands for batchSize.
   */
  microBatch: number;
  seed: number;
  optimizer: AdamConfig;
  ema: EmaConfig;
  /** Probability of replacing the label with the null class (classifier-free guidance). */
  condDropout: number;
  /** γ of the min-SNR weighting; null = plain v-MSE. */
  minSnrGamma: number | null;
  /** Stratified t within a batch (lower-variance loss) instead of i.i.d. U(0, 1). */
  stratifiedTimes: boolean;
  /** Haar transform scaling ('orthonormal' or the official code's extra /2). */
  haarScale: 'orthonormal' | 'half';
  /** Balance classes by over-sampling the minority classes in training batches. */
  balance: boolean;
  /**
   * Mirror each training image left–right with probability ½: doubles a small data set where
   * side carries no meaning (ultrasound); leave off for chest X-rays (the heart is on one side).
   */
  hflip: boolean;
  /**
   * Translate each training image by a random whole number of pixels in [−shift, shift] along
   * each axis (edges repeated): small data sets stop the model from memorising exact positions.
   */
  shift: number;
  /** Save a checkpoint every this many steps (and at the end). */
  checkpointEvery: number;
  logEvery: number;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  steps: 3000,
  batchSize: 64,
  microBatch: 64,
  seed: 0,
  optimizer: DEFAULT_ADAM_CONFIG,
  ema: DEFAULT_EMA_CONFIG,
  condDropout: 0.1,
  minSnrGamma: 5,
  stratifiedTimes: true,
  haarScale: 'orthonormal',
  balance: false,
  hflip: false,
  shift: 0,
  checkpointEvery: 250,
  logEvery: 10,
};

export { PAPER_EMA_CONFIG };

const KEYS = Object.keys(DEFAULT_TRAIN_CONFIG);

function fail(field: string, msg: string): never {
  throw new Error(`invalid train config: '${field}' ${msg}`);
}

export type PartialTrainConfig = Partial<Omit<TrainConfig, 'optimizer' | 'ema' | 'microBatch'>> & {
  microBatch?: number | 'auto'; optimizer?: Partial<AdamConfig>; ema?: Partial<EmaConfig>;
};

export function validateTrainConfig(partial: PartialTrainConfig = {}): TrainConfig {
  for (const k of Object.keys(partial)) if (!KEYS.includes(k)) fail(k, `is not a training option; allowed: ${KEYS.join(', ')}`);
  const c: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG, ...partial,
    ...(partial.microBatch === 'auto' ? { microBatch: partial.batchSize ?? DEFAULT_TRAIN_CONFIG.batchSize } : {}),
    optimizer: { ...DEFAULT_ADAM_CONFIG, ...partial.optimizer },
    ema: { ...DEFAULT_EMA_CONFIG, ...partial.ema },
  } as TrainConfig;
  const int = (f: keyof TrainConfig, v: unknown, min: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(f, `must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  };
  int('steps', c.steps, 1);
  int('batchSize', c.batchSize, 1);
  if (typeof c.microBatch !== 'number' || !Number.isInteger(c.microBatch) || c.microBatch < 1) fail('microBatch', `must be an integer ≥ 1 or 'auto', got ${JSON.stringify(c.microBatch)}`);
  int('seed', c.seed, 0);
  int('checkpointEvery', c.checkpointEvery, 1);
  int('logEvery', c.logEvery, 1);
  int('shift', c.shift, 0);
  if (c.microBatch > c.batchSize) c.microBatch = c.batchSize;
  if (c.batchSize % c.microBatch !== 0) fail('microBatch', `${c.microBatch} must divide batchSize ${c.batchSize}`);
  if (!(c.condDropout >= 0 && c.condDropout < 1)) fail('condDropout', `must be in [0, 1), got ${c.condDropout}`);
  if (c.minSnrGamma !== null && !(c.minSnrGamma > 0)) fail('minSnrGamma', `must be > 0 or null, got ${c.minSnrGamma}`);
  if (!['orthonormal', 'half'].includes(c.haarScale)) fail('haarScale', `must be 'orthonormal' or 'half', got '${c.haarScale}'`);
  const o = c.optimizer;
  if (!(o.lr > 0)) fail('optimizer.lr', `must be > 0, got ${o.lr}`);
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) fail('optimizer.beta1/beta2', 'must be in [0, 1)');
  if (!(o.clipNorm >= 0)) fail('optimizer.clipNorm', `must be ≥ 0, got ${o.clipNorm}`);
  if (!Number.isInteger(o.warmupSteps) || o.warmupSteps < 0) fail('optimizer.warmupSteps', `must be an integer ≥ 0, got ${o.warmupSteps}`);
  const e = c.ema;
  if (!(e.maxDecay >= 0 && e.maxDecay < 1)) fail('ema.maxDecay', `must be in [0, 1), got ${e.maxDecay}`);
  if (!Number.isInteger(e.every) || e.every < 1) fail('ema.every', `must be an integer ≥ 1, got ${e.every}`);
  return c;
}
