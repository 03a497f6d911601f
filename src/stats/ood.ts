// Out-of-distribution scoring from the classifier's own denoising errors (method.md §1): the
// ε-prediction error estimates how unlikely an image is under the model, so an image unlike the
// training data is denoised badly under every class. Pure: no I/O.

/** Quantile by linear interpolation between order statistics (numpy default, d3.quantile); `s` sorted ascending. */
export function quantileSorted(s: readonly number[], p: number): number {
  const h = (s.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

/** The p-quantile of unsorted values. */
export function quantile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) throw new Error('quantile: no values');
  if (!(p >= 0 && p <= 1)) throw new Error(`quantile: p must be in [0, 1], got ${p}`);
  return quantileSorted(Array.from(values).sort((a, b) => a - b), p);
}

/**
 * OOD score of one image: the mean denoising error under its best class (the lowest class mean
 * error over the pairs). High = the model cannot denoise it under any class = unlike its training data.
 */
export function oodScore(meanErrors: readonly number[]): number {
  let m = Infinity;
  for (const e of meanErrors) if (e < m) m = e;
  return m;
}

export interface ConformalThreshold {
  threshold: number;
  /** 1-based rank of the threshold among the sorted scores: ⌈(n + 1)(1 − α)⌉, at most n. */
  rank: number;
  /** The rank exceeded n (too few scores for this α): the threshold is the largest score, and the flag rate bound no longer holds. */
  capped: boolean;
}

/**
 * Split-conformal threshold: the ⌈(n + 1)(1 − α)⌉-th smallest of n calibration scores, so that a
 * new exchangeable in-distribution score exceeds it with probability ≤ α. With too few scores that
 * rank exceeds n: the largest score is used and `capped` says so.
 */
export function conformalThreshold(scores: ArrayLike<number>, alpha: number): ConformalThreshold {
  const n = scores.length;
  if (n === 0) throw new Error('conformalThreshold: no scores');
  if (!(alpha > 0 && alpha < 1)) throw new Error(`conformalThreshold: alpha must be in (0, 1), got ${alpha}`);
  const s = Array.from(scores).sort((a, b) => a - b);
  // the tiny slack keeps (n + 1)(1 − α) = 515.0000000001 from rounding up to 516
  const k = Math.ceil((n + 1) * (1 - alpha) - 1e-9);
  const rank = Math.max(1, Math.min(k, n));
  return { threshold: s[rank - 1]!, rank, capped: k > n };
}
