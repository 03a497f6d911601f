// Decision calibration for two classes (method.md §11: the validation and test class mixes
// differ, so the vote's natural 50% boundary need not suit new data). A threshold on the positive
// class's vote share is fitted on VALIDATION data only, to maximise balanced accuracy; reports
// show calibrated and uncalibrated results side by side.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../runtime/index.ts';

export interface Calibration {
  kind: 'vote-share-threshold';
  /** Class whose vote share is thresholded. */
  positive: number;
  /** Predict `positive` when its vote share ≥ threshold. */
  threshold: number;
  fittedOn: { split: string; images: number; n: number; balancedAccuracy: number; uncalibratedBalancedAccuracy: number };
}

export const CALIBRATION_FILE = 'calibration.json';

function balancedAcc(labels: readonly number[], pred: (i: number) => number, positive: number): number {
  let tp = 0, p = 0, tn = 0, q = 0;
  labels.forEach((y, i) => {
    if (y === positive) { p++; if (pred(i) === positive) tp++; } else { q++; if (pred(i) !== positive) tn++; }
  });
  return ((p ? tp / p : 0) + (q ? tn / q : 0)) / ((p ? 1 : 0) + (q ? 1 : 0) || 1);
}

/**
 * The threshold on the positive vote share that maximises balanced accuracy. Candidates are the
 * midpoints between observed shares; ties go to the threshold closest to 0.5 (the uncalibrated rule).
 */
export function fitVoteThreshold(shares: readonly number[], labels: readonly number[], positive = 1): { threshold: number; balancedAccuracy: number } {
  if (shares.length !== labels.length || shares.length === 0) throw new Error('fitVoteThreshold: need one vote share per label');
  const u = [...new Set(shares)].sort((a, b) => a - b);
  const cands = [0.5, u[0]! - 1e-9, ...u.slice(1).map((v, i) => (v + u[i]!) / 2), u.at(-1)! + 1e-9];
  let best = { threshold: 0.5, balancedAccuracy: -1 };
  for (const t of cands) {
    const b = balancedAcc(labels, (i) => (shares[i]! >= t ? positive : 1 - positive), positive);
    if (b > best.balancedAccuracy + 1e-12 || (Math.abs(b - best.balancedAccuracy) <= 1e-12 && Math.abs(t - 0.5) < Math.abs(best.threshold - 0.5))) best = { threshold: t, balancedAccuracy: b };
  }
  return best;
}

export function applyCalibration(c: Calibration, shares: readonly number[]): number {
  return shares[c.positive]! >= c.threshold ? c.positive : 1 - c.positive;
}

export function saveCalibration(modelDir: string, c: Calibration): string {
  const file = path.join(modelDir, CALIBRATION_FILE);
  writeFileAtomic(file, JSON.stringify(c, null, 2) + '\n');
  return file;
}

/** The calibration stored beside a model (its run folder or checkpoint folder), or null. */
export function loadCalibration(modelDir: string): Calibration | null {
  for (const f of [path.join(modelDir, CALIBRATION_FILE), path.join(modelDir, '..', CALIBRATION_FILE)]) {
    if (!fs.existsSync(f)) continue;
    const c = JSON.parse(fs.readFileSync(f, 'utf8')) as Calibration;
    if (c.kind !== 'vote-share-threshold' || !(c.threshold >= 0 && c.threshold <= 1.000001)) throw new Error(`${f}: not a meddiff calibration (kind '${c.kind}')`);
    return c;
  }
  return null;
}
