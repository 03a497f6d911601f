/** Evaluation of the diffusion classifier: metrics, uncertainty, vote-vs-mean curves, plots and the report. */
export type { PredictionRecord, Aggregate, BoxStats } from './types.ts';
export {
  confusionMatrix, accuracy, balancedAccuracy, macroF1, perClassMetrics, perClassFromConfusion, sensitivity, specificity,
  midranks, auroc, macroAurocOvr, classScores, summarize, defaultPositiveClass,
  type Labels, type ClassMetrics, type AggregateMetrics, type Summary, type SummarizeOptions,
  thresholdUncertainty, aggregateFirstPairs, type FirstPairsAggregate,
} from '../stats/index.ts';
export { escapeHtml } from '../util/index.ts';
export {
  DEFAULT_REMOVAL_FRACTIONS, uncertaintyOrder, meanErrorMargin, accuracyAfterRemoving, accuracyAt, errorDetectionAuroc, boxStats, entropyGroups,
  type RemovalPoint, type EntropyGroup, type EntropyGroupName, type EntropyGroupOptions,
} from './uncertainty.ts';
export {
  nGrid, nGridWithEnd, voteWinner, voteVsMeanTable,
  type VoteVsMeanRow, type ErrorRecord, type VoteVsMeanOptions,
} from './curves.ts';
export {
  PLOT_FONT, uncertaintyCurveSpec, entropyBoxSpec, voteVsMeanSpec, renderSvg, cropSvgToContent, renderPlot, svgToPng, prefixSvgIds,
  type PlotText, type EntropyPlotOptions, type RenderedPlot,
} from './plots.ts';
export {
  writeReport, pct,
  type ReportSummary, type ReportInput, type ReportSettings, type ReportTimings, type ReportTiming, type ReportSection,
  type ReportEntropyGroup, type ModelInfo,
} from './report.ts';
export { predictionsCsv, classColumnNames } from './csv.ts';
export { evaluate } from './evaluate.ts';
export type { EvaluateOptions } from './evaluate.ts';
export { calibratedFigures } from './calibrated.ts';
export type { CalibratedFigures } from './calibrated.ts';
export { measureSubset, measureBaselineSubset } from './check.ts';
export type { SubsetCheckSpec, SubsetCheckResult } from './check.ts';
export { oodDetection } from './ood.ts';
export type { OodReport, OodOptions, OodSetResult, InDistribution } from './ood.ts';
export { judgeCounterfactuals, contentImage } from './judge.ts';
export type { JudgeResult } from './judge.ts';
export { evaluateBaseline } from './evaluate-baseline.ts';
export type { EvaluateBaselineOptions } from './evaluate-baseline.ts';
export {
  writeBaselineReport, baselineMetrics, baselineScores, baselinePredictionsCsv,
  type BaselineRecord, type BaselineMethod, type BaselineScore, type BaselineModelInfo, type BaselineSettings, type BaselineReportInput,
  type BaselineUncertainty, type BaselineMethodSummary, type BaselineReportSummary,
  baselineLabel,
} from './baseline-report.ts';
export { compareReports, type CompareOptions, type CompareSummary, type CompareUncertaintyRow, type Table1Cell } from './compare.ts';
export { compareText } from './compare-html.ts';
export { removalCurvesSpec, reliabilitySpec, type RemovalSeries, type ReliabilitySeries } from './failure-plots.ts';
