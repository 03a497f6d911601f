// Decision calibration for two classes (method.md §11: the validation and test class mixes
// differ, so the vote's natural 50% boundary need not suit new data). A threshold on the positive
// class's vote share is fitted on VALIDATION data only, for balanced accuracy (default) or for
// accuracy by Platt scaling; reports show calibrated and uncalibrated results side by side.
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../runtime/index.ts';
import { balancedAccuracy } from '../eval/index.ts';
import type { DecisionThreshold } from './types.ts';
import { thresholdDecision } from './vote.ts';

export interface Calibration {
  kind: 'vote-share-threshold';
  /** Class whose vote share is thresholded. */
  positive: number;
  /** Predict `positive` when its vote share ≥ threshold. */
  threshold: number;
  fittedOn: { split: string; images: number; n: number; balancedAccuracy: number; uncalibratedBalancedAccuracy: number; accuracy?: number; uncalibratedAccuracy?: number };
  /**
   * What the threshold maximises: balanced accuracy (default; robust when the class mix of new data
   * differs from the fitting split's) or accuracy (the fitting split's class mix is assumed to hold:
   * the threshold is where the Platt-scaled probability of `positive` reaches 0.5).
   */
  objective?: CalibrationObjective;
  /** Platt scaling of the positive vote share s: P(positive) = σ(a·(s − 0.5) + b) (objective 'accuracy'). */
  platt?: { a: number; b: number };
  /** The exact weights it was fitted for (SHA-256 of the weight file); other weights ignore it. */
  weightsSha256?: string;
  /**
   * The diffusion-time window fitted on the same data (`meddiff calibrate --search-t`); the
   * threshold was fitted on votes from this window, and the classifier draws its pairs in it.
   */
  tRange?: [number, number];
  /** Fitted with the mirror view on alternate pairs (`--mirror`); the classifier then uses it too. */
  mirror?: boolean;
  window?: {
    fullRangeBalancedAccuracy: number; windowsTried: number; pairsPerImage: number;
    /** The best window found and its bootstrap p-value; tRange is [0, 1] when p ≥ significance. */
    searched?: { tRange: [number, number]; balancedAccuracy: number; pValue: number };
    significance?: number;
  };
}

export type CalibrationObjective = 'balanced-accuracy' | 'accuracy';

export const CALIBRATION_FILE = 'calibration.json';

/** Decisions from positive vote shares: `positive` when its share ≥ threshold, else the other class. */
export function thresholdDecisions(shares: readonly number[], threshold: number, positive: number): number[] {
  return shares.map((s) => thresholdDecision(s, threshold, positive));
}

/** Platt-scaled probability of the positive class for a positive vote share. */
function plattProbability(a: number, b: number, share: number): number {
  return 1 / (1 + Math.exp(-(a * (share - 0.5) + b)));
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
    const b = balancedAccuracy(labels, thresholdDecisions(shares, t, positive), 2);
    if (b > best.balancedAccuracy + 1e-12 || (Math.abs(b - best.balancedAccuracy) <= 1e-12 && Math.abs(t - 0.5) < Math.abs(best.threshold - 0.5))) best = { threshold: t, balancedAccuracy: b };
  }
  return best;
}

/**
 * Platt scaling of the positive vote share by maximum likelihood (Newton's method on the logistic
 * loss, a tiny ridge for stability). Smooth in the data, unlike a threshold chosen by counting
 * correct answers, which on a small split jumps between isolated optima. The returned threshold is
 * where P(positive) = 0.5, the accuracy-optimal rule under the fitting split's class mix.
 */
export function fitPlatt(shares: readonly number[], labels: readonly number[], positive = 1): { a: number; b: number; threshold: number } {
  if (shares.length !== labels.length || shares.length === 0) throw new Error('fitPlatt: need one vote share per label');
  const y = labels.map((l) => (l === positive ? 1 : 0));
  if (y.every((v) => v === y[0])) throw new Error('fitPlatt: the labels hold only one class; calibration needs both');
  const ridge = 1e-6;
  // penalised negative log-likelihood, softplus(z) − y·z written to stay finite for large |z|
  const loss = (a: number, b: number) => {
    let l = 0.5 * ridge * a * a;
    for (let i = 0; i < shares.length; i++) {
      const z = a * (shares[i]! - 0.5) + b;
      l += Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z))) - y[i]! * z;
    }
    return l;
  };
  let a = 1, b = 0, current = loss(a, b), converged = false;
  for (let it = 0; it < 200 && !converged; it++) {
    let ga = ridge * a, gb = 0, haa = ridge, hab = 0, hbb = 0;
    for (let i = 0; i < shares.length; i++) {
      const x = shares[i]! - 0.5;
      const p = plattProbability(a, b, shares[i]!);
      const g = p - y[i]!, w = Math.max(p * (1 - p), 1e-12);
      ga += g * x; gb += g; haa += w * x * x; hab += w * x; hbb += w;
    }
    const det = haa * hbb - hab * hab;
    const da = (hbb * ga - hab * gb) / det, db = (haa * gb - hab * ga) / det;
    if (!Number.isFinite(da) || !Number.isFinite(db)) break;
    // halve the Newton step until the loss does not rise (near-separable splits overshoot)
    if (Math.abs(da) + Math.abs(db) < 1e-10 * (1 + Math.abs(a) + Math.abs(b))) { converged = true; break; }
    let step = 1, next = loss(a - da, b - db);
    while (!(next <= current + 1e-12 * Math.abs(current)) && step > 1e-8) { step /= 2; next = loss(a - step * da, b - step * db); }
    if (!(next <= current + 1e-12 * Math.abs(current))) break; // no descent along Newton's direction: give up
    a -= step * da; b -= step * db; current = next;
  }
  if (!converged) throw new Error(`fitPlatt: the fit did not converge; the vote share separates the two classes (almost) perfectly on this split, so no probability can be fitted from it. Use --objective balanced, or calibrate on more images`);
  if (!(a > 0) || !Number.isFinite(b)) throw new Error(`fitPlatt: the ${positive === 1 ? 'second' : 'first'} class's vote share does not rise with the label on this split (slope ${a.toFixed(3)}); the model does not separate the classes here`);
  return { a, b, threshold: Math.min(1.000001, Math.max(0, 0.5 - b / a)) };
}

/** Platt-scaled probability of the positive class, when the calibration has one. */
export function calibratedProbability(c: Calibration, shares: readonly number[]): number | null {
  return c.platt ? plattProbability(c.platt.a, c.platt.b, shares[c.positive]!) : null;
}

export function applyCalibration(c: Calibration, shares: readonly number[]): number {
  return thresholdDecision(shares[c.positive]!, c.threshold, c.positive);
}

/**
 * The classify settings a stored calibration implies: its time window, its mirror view and its
 * decision threshold. A setting given explicitly is kept; if it differs from the calibrated one the
 * threshold is dropped (it was fitted on other votes) but the other calibrated settings still apply.
 * A calibration without a stored window was fitted on the full range [0, 1].
 */
export function applyCalibratedSettings<T extends { tRange?: [number, number]; mirror?: boolean; decisionThreshold?: DecisionThreshold | null }>(cfg: T, cal: Calibration | null, warn: (m: string) => void = (m) => process.stderr.write(`warning: ${m}\n`)): { cfg: T; cal: Calibration | null } {
  if (!cal) return { cfg, cal };
  const out = { ...cfg };
  const conflicts: string[] = [];
  const calRange = cal.tRange ?? [0, 1];
  if (!cfg.tRange) {
    if (cal.tRange) out.tRange = cal.tRange;
  } else if (cfg.tRange[0] !== calRange[0] || cfg.tRange[1] !== calRange[1]) {
    conflicts.push(`--t-range ${cfg.tRange.join(',')} differs from the calibrated window ${calRange.join(',')}`);
  }
  const calMirror = cal.mirror ?? false;
  if (cfg.mirror === undefined) {
    if (calMirror) out.mirror = true;
  } else if (cfg.mirror !== calMirror) {
    conflicts.push(`the calibration was fitted ${calMirror ? 'with' : 'without'} the mirror view (${calMirror ? '--mirror' : '--no-mirror'})`);
  }
  if (conflicts.length) {
    warn(`${conflicts.join('; ')}; the calibrated threshold is not applied`);
    return { cfg: out, cal: null };
  }
  if (out.decisionThreshold === undefined) out.decisionThreshold = { positive: cal.positive, threshold: cal.threshold };
  return { cfg: out, cal };
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
