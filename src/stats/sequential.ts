// Sequential early stopping (method.md §5, Clark & Jaini 2023): after m of n pairs, how likely is
// it that the remaining n − m pairs change a decision? Pure math on vote counts and per-pair
// errors; no I/O. Pairs are i.i.d. given the image (own t and ε each, shared by every class), so a
// pair votes for class c with a fixed probability p_c, and the pairing makes each vote the sign of
// a paired difference d_k = e_k(c) − e_k(c').
//
// The predictive rule: with a uniform prior on the vote probabilities (Beta(1, 1), or Dirichlet(1,…,1)
// for K classes), the votes still to come are beta-binomial (Dirichlet-multinomial) given the votes
// seen, so the probability that the decision over all n pairs differs from the decision now is a
// finite sum. Stopping once it is below α keeps the n-pair decision with probability ≥ 1 − α given
// what was seen (under the prior); it is 0 exactly when the remaining pairs cannot change anything.

const logFact: number[] = [0];

/** ln k! for an integer k ≥ 0 (cached). */
export function logFactorial(k: number): number {
  if (!Number.isInteger(k) || k < 0) throw new Error(`logFactorial: ${k} is not an integer ≥ 0`);
  for (let j = logFact.length; j <= k; j++) logFact[j] = logFact[j - 1]! + Math.log(j);
  return logFact[k]!;
}

/** ln Γ(k) = ln (k − 1)! for an integer k ≥ 1. */
const logGammaInt = (k: number) => logFactorial(k - 1);

/** ln B(a, b) for integers a, b ≥ 1. */
const logBetaInt = (a: number, b: number) => logGammaInt(a) + logGammaInt(b) - logGammaInt(a + b);

/** The smallest number of positive votes j ≤ n with j / n ≥ threshold (the float rule of thresholdDecision); n + 1 if none. */
export function positiveVotesNeeded(n: number, threshold: number): number {
  for (let j = 0; j <= n; j++) if (j / n >= threshold) return j;
  return n + 1;
}

/**
 * Probability that the thresholded decision over all n pairs (positive iff its share ≥ threshold)
 * differs from the one over the `used` pairs seen, `positiveVotes` of which voted positive: the
 * future positive votes X of the r = n − used pairs left are beta-binomial(r, v + 1, used − v + 1).
 */
export function shareFlipProbability(positiveVotes: number, used: number, n: number, threshold: number): number {
  const v = positiveVotes, r = n - used;
  if (!(Number.isInteger(v) && Number.isInteger(used) && Number.isInteger(n) && v >= 0 && v <= used && used <= n)) {
    throw new Error(`shareFlipProbability: need 0 ≤ positiveVotes ≤ used ≤ n (integers), got ${v}, ${used}, ${n}`);
  }
  const now = used > 0 && v / used >= threshold;
  const c = positiveVotesNeeded(n, threshold);
  const a = v + 1, b = used - v + 1, lb = logBetaInt(a, b), lr = logFactorial(r);
  let flip = 0;
  for (let x = 0; x <= r; x++) {
    if ((v + x >= c) === now) continue;
    flip += Math.exp(lr - logFactorial(x) - logFactorial(r - x) + logBetaInt(x + a, r - x + b) - lb);
  }
  return Math.min(1, flip);
}

/**
 * Probability that the majority over all n = Σ votes + remaining pairs is not `leader` (a final tie
 * counts as a change): the future votes are Dirichlet-multinomial with parameters votes + 1. Exact
 * for two classes; for more, the sum over the other classes of the chance that each catches up
 * (a union bound, so never below the true probability).
 */
export function majorityFlipProbability(votes: readonly number[], remaining: number, leader: number): number {
  const K = votes.length, r = remaining;
  if (!(Number.isInteger(r) && r >= 0) || !(leader >= 0 && leader < K) || votes.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new Error(`majorityFlipProbability: bad votes ${JSON.stringify(votes)}, remaining ${r} or leader ${leader}`);
  }
  const vL = votes[leader]!, aL = vL + 1;
  let flip = 0;
  for (let c = 0; c < K; c++) {
    if (c === leader) continue;
    const vc = votes[c]!, ac = vc + 1;
    if (vc + r < vL) continue; // cannot catch up
    if (K === 2) {
      // beta-binomial: x pairs go to the leader, the rest to c
      const lb = logBetaInt(aL, ac), lr = logFactorial(r);
      for (let x = 0; x <= r; x++) {
        if (vc + r - x < vL + x) continue;
        flip += Math.exp(lr - logFactorial(x) - logFactorial(r - x) + logBetaInt(x + aL, r - x + ac) - lb);
      }
      continue;
    }
    // Dirichlet-multinomial over (leader, c, every other class pooled): aggregation keeps it Dirichlet
    let aRest = 0;
    for (let j = 0; j < K; j++) if (j !== leader && j !== c) aRest += votes[j]! + 1;
    const A = aL + ac + aRest;
    const base = logFactorial(r) + logGammaInt(A) - logGammaInt(r + A) - logGammaInt(aL) - logGammaInt(ac) - logGammaInt(aRest);
    for (let xL = 0; xL <= r; xL++) {
      for (let xc = Math.max(0, vL + xL - vc); xc <= r - xL; xc++) {
        const xr = r - xL - xc;
        flip += Math.exp(base + logGammaInt(xL + aL) - logFactorial(xL) + logGammaInt(xc + ac) - logFactorial(xc) + logGammaInt(xr + aRest) - logFactorial(xr));
      }
    }
  }
  return Math.min(1, flip);
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const g = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  x -= 1;
  let s = g[0]!;
  for (let i = 1; i < 9; i++) s += g[i]! / (x + i);
  const t = x + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
}

/** Regularized incomplete beta I_x(a, b) (continued fraction, modified Lentz). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - (logGamma(a) + logGamma(b) - logGamma(a + b))) / a;
  const tiny = 1e-300;
  let c = 1, d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < tiny ? tiny : d);
  let f = d;
  for (let i = 1; i <= 300; i++) {
    for (const num of [(i * (b - i) * x) / ((a + 2 * i - 1) * (a + 2 * i)), -((a + i) * (a + b + i) * x) / ((a + 2 * i) * (a + 2 * i + 1))]) {
      d = 1 + num * d; d = 1 / (Math.abs(d) < tiny ? tiny : d);
      c = 1 + num / c; if (Math.abs(c) < tiny) c = tiny;
      f *= c * d;
    }
    if (Math.abs(c * d - 1) < 1e-14) break;
  }
  return Math.min(1, Math.max(0, front * f));
}

/** Two-sided p-value of Student's t statistic with df degrees of freedom. */
export function studentTwoSidedP(t: number, df: number): number {
  if (!(df > 0)) throw new Error(`studentTwoSidedP: df must be > 0, got ${df}`);
  if (!Number.isFinite(t)) return Number.isNaN(t) ? 1 : 0;
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/**
 * Paired t-test (Clark & Jaini) over the first n pairs of row-major errors [pairs × K]: is the mean
 * of d_k = e_k(b) − e_k(a) zero? Two-sided p; the pairing (same ε and t for both classes) removes
 * the noise the two errors share. All d equal: p = 0 unless they are all 0.
 */
export function pairedTTestP(errors: ArrayLike<number>, K: number, n: number, a: number, b: number): number {
  if (n < 2) return 1;
  let s = 0;
  for (let k = 0; k < n; k++) s += errors[k * K + b]! - errors[k * K + a]!;
  const mean = s / n;
  let ss = 0;
  for (let k = 0; k < n; k++) { const e = errors[k * K + b]! - errors[k * K + a]! - mean; ss += e * e; }
  const sd = Math.sqrt(ss / (n - 1));
  if (sd === 0) return mean === 0 ? 1 : 0;
  return studentTwoSidedP(mean / (sd / Math.sqrt(n)), n - 1);
}
