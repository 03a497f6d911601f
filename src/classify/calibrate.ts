// Decision calibration for two classes (method.md §11: the validation and test class mixes
// differ, so the vote's natural 50% boundary need not suit new data). A threshold on the positive
// class's vote share is fitted on VALIDATION data only, for balanced accuracy (default) or for
// accuracy by Platt scaling; reports show calibrated and uncalibrated results side by side. For
// K > 2 the same role is played by per-class offsets on the vote shares (fitClassOffsets in stats).
import type { Calibration } from '../pipeline/index.ts';
import type { DecisionThreshold } from './types.ts';
import { balancedAccuracy, offsetDecision, thresholdDecision, thresholdDecisions } from '../stats/index.ts';

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
  return c.kind === 'vote-share-threshold' && c.platt ? plattProbability(c.platt.a, c.platt.b, shares[c.positive]!) : null;
}

/** The calibrated decision for one image's vote shares (and mean errors, which break offset ties as the vote does). */
export function applyCalibration(c: Calibration, shares: readonly number[], means?: readonly number[]): number {
  return c.kind === 'vote-share-threshold' ? thresholdDecision(shares[c.positive]!, c.threshold, c.positive) : offsetDecision(shares, c.offsets, means);
}

/**
 * The classify settings a stored calibration implies: its time window, its mirror view and its
 * decision threshold. A setting given explicitly is kept; if it differs from the calibrated one the
 * threshold is dropped (it was fitted on other votes) but the other calibrated settings still apply.
 * A calibration without a stored window was fitted on the full range [0, 1].
 */
export function applyCalibratedSettings<T extends { tRange?: [number, number]; mirror?: boolean; decisionThreshold?: DecisionThreshold | null; classOffsets?: number[] | null }>(cfg: T, cal: Calibration | null, warn: (m: string) => void = () => {}): { cfg: T; cal: Calibration | null } {
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
    warn(`${conflicts.join('; ')}; the calibrated ${cal.kind === 'vote-share-threshold' ? 'threshold is' : 'class offsets are'} not applied`);
    return { cfg: out, cal: null };
  }
  // a decision the caller chose (or null: the plain vote) decides instead of the calibrated one
  if (cfg.decisionThreshold !== undefined || cfg.classOffsets !== undefined) return { cfg: out, cal: null };
  if (cal.kind === 'vote-share-threshold') out.decisionThreshold = { positive: cal.positive, threshold: cal.threshold };
  else out.classOffsets = [...cal.offsets];
  return { cfg: out, cal };
}
