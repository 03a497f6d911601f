import type { ClassifyConfig } from './types.ts';

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
};
