// Decision calibration for two classes (method.md §11: the validation and test class mixes
// differ, so the vote's natural 50% boundary need not suit new data). A threshold on the positive
// class's vote share is fitted on VALIDATION data only, to maximise balanced accuracy; reports
// show calibrated and uncalibrated results side by side.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../runtime/index.ts';
import { balancedAccuracy } from '../eval/index.ts';

export interface Calibration {
  kind: 'vote-share-threshold';
  /** Class whose vote share is thresholded. */
  positive: number;
  /** Predict `positive` when its vote share ≥ threshold. */
  threshold: number;
  fittedOn: { split: string; images: number; n: number; balancedAccuracy: number; uncalibratedBalancedAccuracy: number };
  /** The exact weights it was fitted for (SHA-256 of the weight file); other weights ignore it. */
  weightsSha256?: string;
  /**
   * The diffusion-time window fitted on the same data (`meddiff calibrate --search-t`); the
   * threshold was fitted on votes from this window, and the classifier draws its pairs in it.
   */
  tRange?: [number, number];
  window?: {
    fullRangeBalancedAccuracy: number; windowsTried: number; pairsPerImage: number;
    /** The best window found and its bootstrap p-value; tRange is [0, 1] when p ≥ significance. */
    searched?: { tRange: [number, number]; balancedAccuracy: number; pValue: number };
    significance?: number;
  };
}

export const CALIBRATION_FILE = 'calibration.json';

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
    const b = balancedAccuracy(labels, labels.map((_, i) => (shares[i]! >= t ? positive : 1 - positive)), 2);
    if (b > best.balancedAccuracy + 1e-12 || (Math.abs(b - best.balancedAccuracy) <= 1e-12 && Math.abs(t - 0.5) < Math.abs(best.threshold - 0.5))) best = { threshold: t, balancedAccuracy: b };
  }
  return best;
}

export function applyCalibration(c: Calibration, shares: readonly number[]): number {
  return shares[c.positive]! >= c.threshold ? c.positive : 1 - c.positive;
}

/**
 * The classify settings a stored calibration implies, and the calibration if it still applies: an
 * explicit tRange other than the calibrated window keeps the user's window and drops the threshold
 * (it was fitted on other votes).
 */
export function applyCalibratedWindow<T extends { tRange?: [number, number] }>(cfg: T, cal: Calibration | null, warn: (m: string) => void = (m) => process.stderr.write(`warning: ${m}\n`)): { cfg: T; cal: Calibration | null } {
  if (!cal?.tRange) return { cfg, cal };
  if (!cfg.tRange) return { cfg: { ...cfg, tRange: cal.tRange }, cal };
  if (cfg.tRange[0] === cal.tRange[0] && cfg.tRange[1] === cal.tRange[1]) return { cfg, cal };
  warn(`--t-range ${cfg.tRange.join(',')} differs from the calibrated window ${cal.tRange.join(',')}; the calibrated threshold is not applied`);
  return { cfg, cal: null };
}

export function saveCalibration(modelDir: string, c: Calibration): string {
  const file = path.join(modelDir, CALIBRATION_FILE);
  writeFileAtomic(file, JSON.stringify(c, null, 2) + '\n');
  return file;
}

/**
 * The calibration stored in a model folder, or null. One fitted for other weights (another step,
 * raw vs EMA) is ignored with a warning rather than applied to the wrong model.
 */
export function loadCalibration(modelDir: string, weightsSha256?: string, warn: (m: string) => void = (m) => process.stderr.write(`warning: ${m}\n`)): Calibration | null {
  const f = path.join(modelDir, CALIBRATION_FILE);
  if (!fs.existsSync(f)) return null;
  const c = JSON.parse(fs.readFileSync(f, 'utf8')) as Calibration;
  if (c.kind !== 'vote-share-threshold' || !(c.threshold >= 0 && c.threshold <= 1.000001)) throw new Error(`${f}: not a meddiff calibration (kind '${c.kind}')`);
  if (weightsSha256 && c.weightsSha256 && c.weightsSha256 !== weightsSha256) {
    warn(`${f} was fitted for other weights; ignoring it (run meddiff calibrate again)`);
    return null;
  }
  return c;
}
