// Choosing the diffusion-time window of the classifier's pairs on validation data. Every pair
// casts one vote, but pairs at nearly pure noise or nearly clean images say little about the
// class: their votes are close to coin flips, or lean one way whatever the image. Restricting the
// pairs to an informative window fitted on VALIDATION data keeps the paper's vote and spends the
// forward passes where they discriminate. Pure math: no I/O, no tensors.
import { auroc, balancedAccuracy, majorityVote, meanErrors, pairVote } from '../stats/index.ts';
import { fitVoteThreshold } from './calibrate.ts';
import { Rng } from '../util/index.ts';

/** One image's evaluated pairs: row-major [pairs × K] errors and each pair's time. */
export interface PairRecord { errors: ArrayLike<number>; times: ArrayLike<number> }

/** Votes, mean errors and the pairs used, counting only pairs with lo ≤ t ≤ hi. */
export function windowVote(p: PairRecord, K: number, lo: number, hi: number): { votes: number[]; means: number[]; used: number; pred: number } {
  const votes = new Array<number>(K).fill(0);
  const kept: number[] = [];
  for (let k = 0; k < p.times.length; k++) {
    const t = p.times[k]!;
    if (t < lo || t > hi) continue;
    votes[pairVote(p.errors, k, K)]!++;
    for (let c = 0; c < K; c++) kept.push(p.errors[k * K + c]!);
  }
  const used = kept.length / K;
  const means = used ? meanErrors(kept, K, used) : new Array<number>(K).fill(0);
  return { votes, means, used, pred: majorityVote(votes, means) };
}

export interface TimeWindowOptions {
  /** Grid step of the window ends (default 0.05). */
  step?: number;
  /** Narrowest window considered (default 0.3): narrower ones over-fit a small validation set. */
  minWidth?: number;
  /** Positive class for two-class data (its vote share is thresholded). */
  positive?: number;
  /**
   * Keep the best window only if it beats the full range with a paired bootstrap p-value below
   * this (default 0.05); 1 always keeps it. A small validation set otherwise picks noise.
   */
  significance?: number;
  /** Bootstrap resamples (default 2000) and their seed (default 0). */
  resamples?: number;
  seed?: number;
}

export interface TimeWindowFit {
  /** The window to use: the best one found, or [0, 1] when its gain was not significant. */
  tRange: [number, number];
  /** The best window found, its balanced accuracy, and the bootstrap p-value of its gain over [0, 1]. */
  searched: { tRange: [number, number]; balancedAccuracy: number; pValue: number };
  /** Balanced accuracy on the fitting data with the window (and, for two classes, the fitted threshold). */
  balancedAccuracy: number;
  /** The same for the full range [0, 1], for comparison. */
  fullRangeBalancedAccuracy: number;
  auroc: number;
  windowsTried: number;
  /** Per image, in the chosen window: the vote shares of every class and the majority vote. */
  shares: number[][];
  predictions: number[];
}

/**
 * The window [lo, hi] whose votes give the best balanced accuracy on the given (validation)
 * records. For two classes the vote-share threshold is fitted per window, so windows are compared
 * on how well they separate the classes rather than on where the 50% line falls; ties go to the
 * wider window (more pairs, less vote noise), then to AUROC.
 */
export function searchTimeWindow(records: readonly PairRecord[], labels: readonly number[], K: number, o: TimeWindowOptions = {}): TimeWindowFit {
  const step = o.step ?? 0.05, minWidth = o.minWidth ?? 0.3, positive = o.positive ?? 1;
  if (records.length !== labels.length || records.length === 0) throw new Error('searchTimeWindow: need one pair record per label');
  if (!(step > 0 && step <= 0.5) || !(minWidth > 0 && minWidth <= 1)) throw new Error('searchTimeWindow: step must be in (0, 0.5] and minWidth in (0, 1]');
  const m = Math.round(1 / step);
  const score = (lo: number, hi: number) => {
    const r = records.map((p) => windowVote(p, K, lo, hi));
    if (r.some((x) => x.used === 0)) return null; // some image would have no pairs at all
    const votes = { shares: r.map((x) => x.votes.map((v) => v / x.used)), predictions: r.map((x) => x.pred) };
    if (K !== 2) return { bal: balancedAccuracy(labels, votes.predictions, K), auc: NaN, votes, decided: votes.predictions };
    const shares = votes.shares.map((s) => s[positive]!);
    const fit = fitVoteThreshold(shares, labels, positive);
    const decided = shares.map((v) => (v >= fit.threshold ? positive : 1 - positive));
    return { bal: fit.balancedAccuracy, auc: auroc(labels, shares, positive), votes, decided };
  };
  const full = score(0, 1)!;
  let best = { lo: 0, hi: 1, ...full };
  let tried = 0;
  for (let i = 0; i < m; i++) {
    for (let j = m; j > i; j--) {
      const lo = i / m, hi = j / m;
      if (hi - lo < minWidth - 1e-9) continue;
      const s = score(lo, hi);
      tried++;
      if (!s) continue;
      const width = hi - lo, bestWidth = best.hi - best.lo;
      const better = s.bal > best.bal + 1e-12
        || (Math.abs(s.bal - best.bal) <= 1e-12 && (width > bestWidth + 1e-9 || (Math.abs(width - bestWidth) <= 1e-9 && s.auc > best.auc)));
      if (better) best = { lo, hi, ...s };
    }
  }
  const pValue = best.lo === 0 && best.hi === 1 ? 1
    : bootstrapGainP(labels, best.decided, full.decided, K, o.resamples ?? 2000, o.seed ?? 0);
  const searched = { tRange: [best.lo, best.hi] as [number, number], balancedAccuracy: best.bal, pValue };
  const alpha = o.significance ?? 0.05;
  const chosen = alpha >= 1 || pValue < alpha ? best : { lo: 0, hi: 1, ...full };
  return { tRange: [chosen.lo, chosen.hi], searched, balancedAccuracy: chosen.bal, fullRangeBalancedAccuracy: full.bal, auroc: chosen.auc, windowsTried: tried, ...chosen.votes };
}

/**
 * One-sided paired bootstrap p-value that predictions A have a higher balanced accuracy than B on
 * the same images: the share of class-stratified resamples (class sizes kept, so every class's
 * recall is defined) in which A does not beat B.
 */
export function bootstrapGainP(labels: readonly number[], a: readonly number[], b: readonly number[], K: number, resamples = 2000, seed = 0): number {
  const byClass = Array.from({ length: K }, () => [] as number[]);
  labels.forEach((y, i) => byClass[y]!.push((a[i] === y ? 1 : 0) - (b[i] === y ? 1 : 0)));
  const present = byClass.filter((d) => d.length > 0);
  const rng = new Rng(seed);
  let notBetter = 0;
  for (let r = 0; r < resamples; r++) {
    let gain = 0;
    for (const d of present) {
      let s = 0;
      for (let k = 0; k < d.length; k++) s += d[Math.floor(rng.float() * d.length)]!;
      gain += s / d.length;
    }
    if (gain <= 1e-12) notBetter++;
  }
  return notBetter / resamples;
}
