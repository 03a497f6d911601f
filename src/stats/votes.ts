// Pure aggregation of per-pair errors (method.md §5, §6): the one place the vote, the mean, their
// tie rules and the thresholded decision are written. errors is row-major [pairs × K]: row k holds
// the error of every class for pair k. NaN marks a (pair, class) that was not evaluated (a class
// pruned after the first pairs, src/stats/pruning.ts): it gets no vote and no share of the mean.
// No I/O, no tensors.

/** Class with the smallest error in row k (ties → lower index; NaN entries are skipped). */
export function pairVote(errors: ArrayLike<number>, k: number, K: number): number {
  let best = -1, min = Infinity;
  for (let c = 0; c < K; c++) {
    const e = errors[k * K + c]!;
    if (e < min) { min = e; best = c; }
  }
  return best < 0 ? 0 : best; // a row of +Infinity (or NaN) votes for class 0, as before
}

/** Votes per class over the first n pairs. */
export function voteCounts(errors: ArrayLike<number>, K: number, n = errors.length / K): number[] {
  const counts = new Array<number>(K).fill(0);
  for (let k = 0; k < n; k++) counts[pairVote(errors, k, K)]!++;
  return counts;
}

/**
 * Mean error per class over the first n pairs. A pruned class (NaN after its last evaluated pair)
 * keeps the mean of the pairs it was evaluated on: frozen at the pruning point.
 */
export function meanErrors(errors: ArrayLike<number>, K: number, n = errors.length / K): number[] {
  const sums = new Array<number>(K).fill(0), counts = new Array<number>(K).fill(0);
  for (let k = 0; k < n; k++) {
    for (let c = 0; c < K; c++) {
      const e = errors[k * K + c]!;
      if (!Number.isNaN(e)) { sums[c]! += e; counts[c]!++; }
    }
  }
  return sums.map((s, c) => (counts[c]! > 0 ? s / counts[c]! : NaN));
}

/** Index of the smallest value (ties → lower index). */
export function argmin(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! < xs[best]!) best = i;
  return best;
}

/**
 * The mean-error decision over the first n pairs: the lowest mean among the classes evaluated on
 * pair n − 1. With pruning a pruned class's mean covers only the first pairs, on which it lost to
 * every kept class; comparing it with the kept classes' means over other pairs would mix pair sets
 * (their errors vary far more with t than between classes), so it is left out.
 */
export function meanDecision(errors: ArrayLike<number>, K: number, n: number, means: ArrayLike<number> = meanErrors(errors, K, n)): number {
  let best = -1;
  for (let c = 0; c < K; c++) if (!Number.isNaN(errors[(n - 1) * K + c]) && (best < 0 || means[c]! < means[best]!)) best = c;
  return best < 0 ? argmin(means) : best;
}

/**
 * Majority vote: the class with most votes; ties broken by the lower mean error, then the lower
 * class index, so the result never depends on evaluation order.
 */
export function majorityVote(counts: ArrayLike<number>, means: ArrayLike<number>): number {
  let best = 0;
  for (let c = 1; c < counts.length; c++) {
    if (counts[c]! > counts[best]! || (counts[c] === counts[best] && means[c]! < means[best]!)) best = c;
  }
  return best;
}

export interface FirstPairsAggregate {
  votes: number[];
  meanErrors: number[];
  votePred: number;
  meanPred: number;
}

/**
 * Vote and mean aggregation over the first n pairs of one image's errors (N·K, row-major by pair):
 * votePred by majorityVote (ties → lower mean error, then lower index), meanPred by meanDecision
 * (argmin over the classes still evaluated).
 */
export function aggregateFirstPairs(errors: ArrayLike<number>, K: number, n: number): FirstPairsAggregate {
  const N = Math.floor(errors.length / K);
  if (!Number.isInteger(n) || n < 1 || n > N) throw new Error(`aggregateFirstPairs: n = ${n} is not in [1, ${N}]`);
  const votes = voteCounts(errors, K, n);
  const means = meanErrors(errors, K, n);
  return { votes, meanErrors: means, votePred: majorityVote(votes, means), meanPred: meanDecision(errors, K, n, means) };
}

/** Vote entropy H = −Σ p log p, divided by log K so 0 = unanimous and 1 = evenly split. */
export function voteEntropy(counts: readonly number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  const K = counts.length;
  if (n === 0 || K < 2) return 0;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * Math.log(c / n);
  return h / Math.log(K);
}

/**
 * True when the vote leader can no longer be overtaken (nor tied) by any class with the pairs
 * still to come, so stopping now gives the same majority vote as evaluating all of them.
 */
export function voteDecided(counts: readonly number[], remaining: number): boolean {
  let first = -1, second = -1;
  for (const c of counts) {
    if (c > first) { second = first; first = c; } else if (c > second) second = c;
  }
  return first - Math.max(second, 0) > remaining;
}

/** The thresholded two-class decision: `positive` when its vote share is ≥ threshold, else the other class. */
export function thresholdDecision(share: number, threshold: number, positive: number): number {
  return share >= threshold ? positive : 1 - positive;
}

/** Decisions from positive vote shares: `positive` when its share ≥ threshold, else the other class. */
export function thresholdDecisions(shares: readonly number[], threshold: number, positive: number): number[] {
  return shares.map((s) => thresholdDecision(s, threshold, positive));
}

/**
 * Uncertainty of a thresholded two-class decision: 1 − the share's distance from the threshold,
 * as a fraction of the room on its side (1 at the threshold, 0 when every vote agrees). With the
 * threshold at 1/2 it orders images exactly as the vote entropy does; with a calibrated threshold
 * (0.773, say) an image at 0.59 is fairly sure of the lower class, not at its most uncertain.
 */
export function thresholdUncertainty(share: number, threshold: number): number {
  const room = share >= threshold ? 1 - threshold : threshold;
  return room > 0 ? Math.max(0, 1 - Math.abs(share - threshold) / room) : 1;
}

/**
 * True when a thresholded two-class decision (positive iff its vote share over all n pairs is
 * ≥ threshold) can no longer change: the share stays above the threshold even if every remaining
 * pair votes against, or stays below it even if every one votes for. The share over the pairs
 * used so far then lies on the same side, so stopping gives the decision all n would give.
 */
export function shareDecided(positiveVotes: number, used: number, n: number, threshold: number): boolean {
  return positiveVotes / n >= threshold || (positiveVotes + n - used) / n < threshold;
}

/**
 * Two-sided exact binomial test of k successes in m trials against success probability p0
 * (the smaller tail, doubled). The sign test against a calibrated threshold instead of 1/2.
 */
export function binomialTestP(k: number, m: number, p0: number): number {
  if (m === 0) return 1;
  if (!(p0 > 0 && p0 < 1)) return (p0 <= 0 ? k > 0 : k < m) ? 0 : 1;
  const lp = Math.log(p0), lq = Math.log1p(-p0);
  let logC = 0, lower = 0, upper = 0;
  for (let j = 0; j <= m; j++) {
    if (j > 0) logC += Math.log((m - j + 1) / j);
    const pj = Math.exp(logC + j * lp + (m - j) * lq);
    if (j <= k) lower += pj;
    if (j >= k) upper += pj;
  }
  return Math.min(1, 2 * Math.min(lower, upper));
}

/** Two-sided exact sign test: P(|X − m/2| ≥ |a − m/2|) for X ~ Binomial(m = a + b, 1/2). */
export function signTestP(a: number, b: number): number {
  const m = a + b;
  if (m === 0) return 1;
  const hi = Math.max(a, b);
  // log C(m, j) by recurrence; sum the upper tail j ≥ hi, double it for two sides.
  let logC = 0;
  let tail = 0;
  for (let j = 0; j <= m; j++) {
    if (j > 0) logC += Math.log((m - j + 1) / j);
    if (j >= hi) tail += Math.exp(logC - m * Math.LN2);
  }
  return Math.min(1, 2 * tail);
}
