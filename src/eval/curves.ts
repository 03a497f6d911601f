/**
 * Majority vote vs mean error as the number of pairs N grows (paper Fig. 2), computed from ONE
 * run's per-pair errors by taking the first n pairs of every image (pure).
 *
 * Rules at a given n (pairs 0..n-1):
 * - mean: class = argmin_c of the mean error over the n pairs; exact ties → lower class index.
 * - vote: each pair votes for its argmin class (ties within a pair → lower class index); the class
 *   with most votes wins; tied vote counts are broken by the lower mean error over the same n
 *   pairs, then by the lower class index.
 */
import { accuracy, argmin, balancedAccuracy, majorityVote, pairVote } from '../stats/index.ts';

/** Most votes; ties → lower mean error, then lower class index (stats' majorityVote, kept under its old name). */
export const voteWinner = majorityVote;

/** The paper's N values: 1, 5, 11, 25, 51, 101, 201, 501, 1001, 2001, 5001, … */
export function nGrid(maxN: number): number[] {
  if (!Number.isInteger(maxN) || maxN < 1) throw new Error(`nGrid: maxN must be a positive integer, got ${maxN}`);
  const out: number[] = [];
  const head = [1, 5, 11, 25, 51];
  for (const n of head) if (n <= maxN) out.push(n);
  for (let scale = 100; scale < maxN; scale *= 10) {
    for (const m of [1, 2, 5]) {
      const n = m * scale + 1;
      if (n <= maxN) out.push(n);
    }
  }
  return out;
}

/** The grid up to N, with N itself appended when it is not on the grid. */
export function nGridWithEnd(N: number): number[] {
  const g = nGrid(N);
  if (g[g.length - 1] !== N) g.push(N);
  return g;
}

export interface VoteVsMeanRow {
  /** Pairs used per image. */
  n: number;
  voteAccuracy: number;
  meanAccuracy: number;
  voteBalancedAccuracy: number;
  meanBalancedAccuracy: number;
}

export interface ErrorRecord {
  errors?: Float32Array | ArrayLike<number>;
  label: number;
}

export interface VoteVsMeanOptions {
  /** N values to evaluate (default: nGridWithEnd of the common N). Values above N are dropped. */
  ns?: readonly number[];
}

/**
 * Accuracy and balanced accuracy of vote and mean at each n, from the first n pairs of every
 * image. N is the smallest pair count among the records (all must carry errors).
 */
export function voteVsMeanTable(records: readonly ErrorRecord[], K: number, opts: VoteVsMeanOptions = {}): VoteVsMeanRow[] {
  if (records.length === 0) return [];
  let N = Infinity;
  records.forEach((r, i) => {
    if (!r.errors) throw new Error(`voteVsMeanTable: record ${i} has no per-pair errors`);
    if (r.errors.length % K !== 0) throw new Error(`voteVsMeanTable: record ${i} has ${r.errors.length} errors, not a multiple of K = ${K}`);
    N = Math.min(N, r.errors.length / K);
  });
  if (N < 1) throw new Error('voteVsMeanTable: a record has no pairs');
  const ns = (opts.ns ? [...opts.ns] : nGridWithEnd(N)).filter((n) => n >= 1 && n <= N).sort((a, b) => a - b);
  const uniq = ns.filter((n, i) => i === 0 || n !== ns[i - 1]);
  const yTrue = records.map((r) => r.label);
  const votePreds = uniq.map(() => new Array<number>(records.length));
  const meanPreds = uniq.map(() => new Array<number>(records.length));
  const votes = new Array<number>(K);
  const sums = new Array<number>(K);
  const means = new Array<number>(K);
  records.forEach((r, i) => {
    const e = r.errors!;
    votes.fill(0);
    sums.fill(0);
    let g = 0;
    // Running sums over the pairs (the same additions, in the same order, as stats' meanErrors),
    // so every n on the grid costs one pass over the errors.
    for (let k = 0; k < N && g < uniq.length; k++) {
      for (let c = 0; c < K; c++) sums[c] += e[k * K + c]!;
      votes[pairVote(e, k, K)]++;
      if (k + 1 === uniq[g]) {
        for (let c = 0; c < K; c++) means[c] = sums[c]! / (k + 1);
        votePreds[g]![i] = majorityVote(votes, means);
        meanPreds[g]![i] = argmin(means);
        g++;
      }
    }
  });
  return uniq.map((n, g) => ({
    n,
    voteAccuracy: accuracy(yTrue, votePreds[g]!),
    meanAccuracy: accuracy(yTrue, meanPreds[g]!),
    voteBalancedAccuracy: balancedAccuracy(yTrue, votePreds[g]!, K),
    meanBalancedAccuracy: balancedAccuracy(yTrue, meanPreds[g]!, K),
  }));
}
