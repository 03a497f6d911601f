export { DiffusionClassifier } from './classifier.ts';
export type { ClassifierModel, ClassifyProgress } from './classifier.ts';
export { validateClassifyConfig } from './config.ts';
export { DEFAULT_CLASSIFY_CONFIG } from './constants.ts';
export { pairVote, voteCounts, meanErrors, majorityVote, voteEntropy, voteDecided, signTestP, argmin } from './vote.ts';
export type { Aggregate, ClassifyConfig, EarlyStopRule, ImageResult, TimeSampling } from './types.ts';
export { loadForModel, padCenter } from './input.ts';
export type { ModelInput } from './input.ts';
