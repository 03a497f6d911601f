// The calibrated decision (fitted on validation data: a vote-share threshold for two classes,
// per-class vote-share offsets for K > 2) beside the plain vote: its metrics, how sure it is, its
// report section.
import { applyCalibration } from '../classify/index.ts';
import type { Calibration } from '../pipeline/index.ts';
import { escapeHtml } from '../util/index.ts';
import { offsetUncertainty, summarize, thresholdUncertainty } from '../stats/index.ts';
import { accuracyAfterRemoving, accuracyAt, DEFAULT_REMOVAL_FRACTIONS, errorDetectionAuroc, meanErrorMargin, type RemovalPoint } from './uncertainty.ts';
import type { PredictionRecord } from './types.ts';

type UncertaintyRule = 'distance of the vote share from the threshold' | 'gap between the two best offset vote shares';

export interface CalibratedFigures {
  calibration: Calibration;
  accuracy: number; balancedAccuracy: number; macroF1: number; sensitivity: number | null; specificity: number | null; confusionMatrix: number[][];
  /** Recall of each class under the calibrated decision (NaN → null when a class is absent). */
  perClassRecall: number[];
  uncertainty: { rule: UncertaintyRule; curve: RemovalPoint[]; errorDetectionAuroc: number };
  [key: string]: unknown;
}

/** How unsure the calibrated decision is for one image, in [0, 1]. */
function calibratedUncertainty(cal: Calibration, shares: readonly number[]): number {
  return cal.kind === 'vote-share-threshold' ? thresholdUncertainty(shares[cal.positive]!, cal.threshold) : offsetUncertainty(shares, cal.offsets);
}

export function calibratedFigures(records: readonly PredictionRecord[], cal: Calibration, K: number, positive: number): CalibratedFigures {
  const decided = records.map((r) => applyCalibration(cal, r.shares, r.meanErrors));
  const m = summarize(records.map((r, i) => ({ ...r, votePred: decided[i]! })), K, { positive }).vote;
  const correct = records.map((r, i) => decided[i] === r.label);
  const unc = records.map((r) => calibratedUncertainty(cal, r.shares));
  const curve = accuracyAfterRemoving(correct, unc, DEFAULT_REMOVAL_FRACTIONS, records.map((r) => meanErrorMargin(r.meanErrors)));
  return {
    calibration: cal, accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy, macroF1: m.macroF1, sensitivity: m.sensitivity, specificity: m.specificity, confusionMatrix: m.confusionMatrix,
    perClassRecall: m.perClass.map((c) => c.recall),
    uncertainty: {
      rule: cal.kind === 'vote-share-threshold' ? 'distance of the vote share from the threshold' : 'gap between the two best offset vote shares',
      curve, errorDetectionAuroc: errorDetectionAuroc(correct, unc),
    },
  };
}

export function calibratedSectionHtml(records: readonly PredictionRecord[], cal: Calibration, f: CalibratedFigures, classNames: readonly string[], positive: number): string {
  const pc = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  const plain = summarize([...records], classNames.length, { positive }).vote;
  const binary = classNames.length === 2;
  const row = (k: string, v: { accuracy: number; balancedAccuracy: number; macroF1: number; sensitivity: number | null; specificity: number | null }) =>
    `<tr><th>${k}</th><td>${pc(v.accuracy)}</td><td>${pc(v.balancedAccuracy)}</td><td>${v.macroF1.toFixed(3)}</td>${binary ? `<td>${pc(v.sensitivity)}</td><td>${pc(v.specificity)}</td>` : ''}</tr>`;
  const fo = cal.fittedOn, where = `fitted on the ${fo.split} split (${fo.images} images, N = ${fo.n})`;
  const rule = cal.kind === 'vote-share-threshold'
    ? `Vote-share threshold ${cal.threshold.toFixed(3)} for '${escapeHtml(classNames[cal.positive]!)}', ${where} ${cal.objective === 'accuracy' ? `for accuracy (Platt scaling: where the probability of '${escapeHtml(classNames[cal.positive]!)}' reaches 0.5; assumes the ${fo.split} split's class mix)` : 'for balanced accuracy'}`
    : `The class with the highest vote share plus its offset (${classNames.map((c, k) => `${escapeHtml(c)} ${cal.offsets[k]! >= 0 ? '+' : '−'}${Math.abs(cal.offsets[k]!).toFixed(3)}`).join(', ')}), offsets ${where} for ${cal.objective === 'accuracy' ? 'accuracy' : 'balanced accuracy'}`;
  const head = `<tr><th></th><th>accuracy</th><th>balanced accuracy</th><th>F1</th>${binary ? '<th>sensitivity</th><th>specificity</th>' : ''}</tr>`;
  const recall = binary ? '' : `<table><tr><th>recall</th>${classNames.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`
    + `<tr><th>uncalibrated</th>${plain.perClass.map((c) => `<td>${pc(c.recall)}</td>`).join('')}</tr><tr><th>calibrated</th>${f.perClassRecall.map((r) => `<td>${pc(r)}</td>`).join('')}</tr></table>`;
  const setAside = binary ? 'whose vote share is nearest the threshold' : 'whose two best offset vote shares are nearest';
  return `<p>${rule}; never on the evaluated data.${cal.tRange ? ` Both rows use pairs at diffusion times t ∈ [${cal.tRange.join(', ')}], a window fitted on the same ${fo.split} data${cal.window ? ` (balanced accuracy there ${(100 * fo.balancedAccuracy).toFixed(1)}% against ${(100 * (cal.window.fullRangeBalancedAccuracy ?? NaN)).toFixed(1)}% with the full range)` : ''}; <code>--t-range 0,1</code> gives the paper's rule.` : ''}</p><table>${head}`
    + row('uncalibrated', plain) + row('calibrated', f) + '</table>' + recall
    + `<p>Calibrated decision after setting aside the images ${setAside}: ${[0.1, 0.25, 0.45].map((x) => `${pc(accuracyAt(f.uncertainty.curve, x))} (${100 * x}% set aside)`).join(', ')}; this uncertainty detects wrong answers with AUROC ${f.uncertainty.errorDetectionAuroc.toFixed(3)}.</p>`;
}
