// The calibrated decision (a vote-share threshold fitted on validation data) beside the plain
// vote: its metrics, how sure it is (the share's distance from the threshold), its report section.
import { applyCalibration } from '../classify/index.ts';
import type { Calibration } from '../pipeline/index.ts';
import { summarize, thresholdUncertainty } from '../stats/index.ts';
import { accuracyAfterRemoving, accuracyAt, DEFAULT_REMOVAL_FRACTIONS, errorDetectionAuroc, meanErrorMargin, type RemovalPoint } from './uncertainty.ts';
import type { PredictionRecord } from './types.ts';

export interface CalibratedFigures {
  calibration: Calibration;
  accuracy: number; balancedAccuracy: number; macroF1: number; sensitivity: number | null; specificity: number | null; confusionMatrix: number[][];
  uncertainty: { rule: 'distance of the vote share from the threshold'; curve: RemovalPoint[]; errorDetectionAuroc: number };
  [key: string]: unknown;
}

export function calibratedFigures(records: readonly PredictionRecord[], cal: Calibration, K: number, positive: number): CalibratedFigures {
  const decided = records.map((r) => applyCalibration(cal, r.shares));
  const m = summarize(records.map((r, i) => ({ ...r, votePred: decided[i]! })), K, { positive }).vote;
  const correct = records.map((r, i) => decided[i] === r.label);
  const unc = records.map((r) => thresholdUncertainty(r.shares[cal.positive]!, cal.threshold));
  const curve = accuracyAfterRemoving(correct, unc, DEFAULT_REMOVAL_FRACTIONS, records.map((r) => meanErrorMargin(r.meanErrors)));
  return {
    calibration: cal, accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy, macroF1: m.macroF1, sensitivity: m.sensitivity, specificity: m.specificity, confusionMatrix: m.confusionMatrix,
    uncertainty: { rule: 'distance of the vote share from the threshold', curve, errorDetectionAuroc: errorDetectionAuroc(correct, unc) },
  };
}

export function calibratedSectionHtml(records: readonly PredictionRecord[], cal: Calibration, f: CalibratedFigures, classNames: readonly string[], positive: number): string {
  const pc = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  const plain = summarize([...records], classNames.length, { positive }).vote;
  const row = (k: string, v: { accuracy: number; balancedAccuracy: number; macroF1: number; sensitivity: number | null; specificity: number | null }) =>
    `<tr><th>${k}</th><td>${pc(v.accuracy)}</td><td>${pc(v.balancedAccuracy)}</td><td>${v.macroF1.toFixed(3)}</td><td>${pc(v.sensitivity)}</td><td>${pc(v.specificity)}</td></tr>`;
  const pos = classNames[cal.positive];
  return `<p>Vote-share threshold ${cal.threshold.toFixed(3)} for '${pos}', fitted on the ${cal.fittedOn.split} split (${cal.fittedOn.images} images, N = ${cal.fittedOn.n}) ${cal.objective === 'accuracy' ? `for accuracy (Platt scaling: where the probability of '${pos}' reaches 0.5; assumes the ${cal.fittedOn.split} split's class mix)` : 'for balanced accuracy'}; never on the evaluated data.${cal.tRange ? ` Both rows use pairs at diffusion times t ∈ [${cal.tRange.join(', ')}], a window fitted on the same ${cal.fittedOn.split} data (balanced accuracy there ${(100 * cal.fittedOn.balancedAccuracy).toFixed(1)}% against ${(100 * (cal.window?.fullRangeBalancedAccuracy ?? NaN)).toFixed(1)}% with the full range); <code>--t-range 0,1</code> gives the paper's rule.` : ''}</p><table><tr><th></th><th>accuracy</th><th>balanced accuracy</th><th>F1</th><th>sensitivity</th><th>specificity</th></tr>`
    + row('uncalibrated', plain) + row('calibrated', f) + '</table>'
    + `<p>Calibrated decision after setting aside the images whose vote share is nearest the threshold: ${[0.1, 0.25, 0.45].map((x) => `${pc(accuracyAt(f.uncertainty.curve, x))} (${100 * x}% set aside)`).join(', ')}; this distance detects wrong answers with AUROC ${f.uncertainty.errorDetectionAuroc.toFixed(3)}.</p>`;
}
