/** Pure statistics (no I/O, no tensors, imports nothing outside this folder): vote aggregation and decision rules, classification metrics. */
export {
  pairVote, voteCounts, meanErrors, meanDecision, argmin, majorityVote, aggregateFirstPairs, voteEntropy, voteDecided,
  thresholdDecision, thresholdDecisions, thresholdUncertainty, shareDecided, binomialTestP, signTestP,
  type FirstPairsAggregate,
} from './votes.ts';
export {
  confusionMatrix, accuracy, balancedAccuracy, macroF1, perClassMetrics, perClassFromConfusion, sensitivity, specificity,
  midranks, auroc, macroAurocOvr, classScores, summarize, defaultPositiveClass,
  type Aggregate, type ScoredPrediction, type Labels, type ClassMetrics, type AggregateMetrics, type Summary, type SummarizeOptions,
} from './metrics.ts';
export {
  logFactorial, positiveVotesNeeded, shareFlipProbability, majorityFlipProbability, logGamma, incompleteBeta, studentTwoSidedP, pairedTTestP,
} from './sequential.ts';
export { oodScore, quantile, quantileSorted, conformalThreshold, type ConformalThreshold } from './ood.ts';
export { cholesky, spdInverse, fitGaussian, mahalanobis, type GaussianFit } from './mahalanobis.ts';
export {
  aurc, eaurc, expectedCalibrationError, nll, brier, softmax, fitTemperature, predictiveEntropy, meanProbabilities, mutualInformation,
  NLL_EPSILON, TEMPERATURE_RANGE,
  type AurcResult, type RiskCoveragePoint, type ReliabilityBin, type CalibrationResult, type TemperatureFit,
} from './failure.ts';
export { effectivePrune, evaluatedAt, keptClasses, prunedForwardPasses, voteDecidedAmong, type PruneConfig } from './pruning.ts';
export { offsetDecision, offsetUncertainty, offsetsDecided, fitClassOffsets, type ClassOffsetFit, type OffsetObjective } from './offsets.ts';
