import type { ClassifyConfig, EarlyStopRule } from './types.ts';

export const DEFAULT_CLASSIFY_CONFIG: ClassifyConfig = {
  n: 51,
  times: 'uniform',
  tRange: [0, 1],
  aggregate: 'vote',
  mirror: false,
  seed: 0,
  batchSize: 256,
  earlyStop: 'off',
  chunk: 8,
  minPairs: 16,
  alpha: 1e-3,
  keepErrors: true,
  decisionThreshold: null,
  classOffsets: null,
  prune: null,
};

/**
 * Settings a rule brings with it when the caller leaves them open ('confident' keeps the general
 * defaults above). 'paired': chosen on the PneumoniaMNIST validation split (docs/results-notes.md,
 * issue 20): the chance that the remaining pairs would change the decision is below alpha, checked
 * every chunk pairs from minPairs on.
 */
export const EARLY_STOP_DEFAULTS: Partial<Record<EarlyStopRule, Pick<ClassifyConfig, 'alpha' | 'minPairs' | 'chunk'>>> = {
  paired: { alpha: 0.05, minPairs: 8, chunk: 2 },
};
