// Early-stopping rules (method.md §5): after `used` of n pairs of one image, may the classifier stop?
// A pure function of the per-pair errors seen so far, shared by the classifier and the benchmark's
// replay of a full run (bench:classify), so both apply exactly the same rule.
import {
  binomialTestP, evaluatedAt, majorityFlipProbability, majorityVote, meanDecision, meanErrors, offsetsDecided, pairedTTestP, pairVote, shareDecided,
  shareFlipProbability, signTestP, voteDecided, voteDecidedAmong,
} from '../stats/index.ts';
import type { ClassifyConfig } from './types.ts';

export type StopConfig = Pick<ClassifyConfig, 'n' | 'earlyStop' | 'minPairs' | 'alpha' | 'aggregate' | 'decisionThreshold'> & Partial<Pick<ClassifyConfig, 'classOffsets'>>;

/**
 * True when an image may stop after its first `used` pairs (errors row-major [pairs × K]):
 * - 'off': only at n.
 * - 'decided': once neither the majority nor the thresholded decision can change.
 * - 'confident': also once a sign test on the top two vote counts (and a binomial test of the
 *   positive share against the threshold) gives p < alpha, after minPairs pairs.
 * - 'paired': also once, after minPairs pairs, the probability that the remaining pairs change the
 *   decision is below alpha for every decision shown: the majority vote (Dirichlet-multinomial
 *   predictive of the paired votes), the thresholded vote share (beta-binomial predictive) and,
 *   with aggregate 'mean', the mean error (paired t-test of the leader against every other class,
 *   Bonferroni over the K − 1 tests; Clark & Jaini 2023).
 * With staged pruning (NaN errors for the classes no longer evaluated) the rules work on the
 * classes still evaluated: a pruned class keeps its votes but cannot gain any ('decided' needs the
 * leader ahead of it as it stands), and the mean test compares the leader with the kept classes
 * only. Calibrated class offsets (K > 2) must be decided exactly under every rule (offsetsDecided).
 */
export function shouldStopEarly(errors: ArrayLike<number>, used: number, K: number, cfg: StopConfig): boolean {
  const { n, earlyStop, minPairs, alpha } = cfg;
  if (used >= n) return true;
  if (earlyStop === 'off') return false;
  const votes = new Array<number>(K).fill(0);
  for (let k = 0; k < used; k++) votes[pairVote(errors, k, K)]!++;
  const d = cfg.aggregate === 'vote' ? cfg.decisionThreshold : null;
  const o = cfg.aggregate === 'vote' ? cfg.classOffsets ?? null : null;
  if (o && !offsetsDecided(votes, used, n, o, meanErrors(errors, K, used))) return false;
  if (earlyStop === 'paired') return pairedStop(errors, votes, used, K, cfg);
  const confident = earlyStop === 'confident' && used >= minPairs;
  const sorted = [...votes].sort((a, b) => b - a);
  const majority = decidedNow(errors, votes, used, K, n) || (confident && signTestP(sorted[0]!, sorted[1] ?? 0) < alpha);
  if (!d) return majority;
  // a calibrated threshold must be safe too (26 of 26 votes can still end at 51%, under 0.773),
  // and so must the plain majority, which reports show beside it
  const v = votes[d.positive]!;
  return majority && (shareDecided(v, used, n, d.threshold) || (confident && binomialTestP(v, used, d.threshold) < alpha));
}

/** voteDecided, knowing that the classes pruned by the last pair used can gain no more votes. */
function decidedNow(errors: ArrayLike<number>, votes: number[], used: number, K: number, n: number): boolean {
  const canGain = evaluatedAt(errors, K, used - 1);
  return canGain.every(Boolean) ? voteDecided(votes, n - used) : voteDecidedAmong(votes, n - used, canGain);
}

function pairedStop(errors: ArrayLike<number>, votes: number[], used: number, K: number, cfg: StopConfig): boolean {
  const { n, minPairs, alpha } = cfg;
  const d = cfg.aggregate === 'vote' ? cfg.decisionThreshold : null;
  // the exact checks first: they allow a stop before minPairs (as 'decided' does), and cost nothing
  const majorityExact = decidedNow(errors, votes, used, K, n);
  const shareExact = !d || shareDecided(votes[d.positive]!, used, n, d.threshold);
  if (used < minPairs) return cfg.aggregate === 'vote' && majorityExact && shareExact;
  const means = meanErrors(errors, K, used);
  if (!majorityExact && majorityFlipProbability(votes, n - used, majorityVote(votes, means)) >= alpha) return false;
  if (!shareExact && shareFlipProbability(votes[d!.positive]!, used, n, d!.threshold) >= alpha) return false;
  if (cfg.aggregate === 'mean') {
    const best = meanDecision(errors, K, used, means), kept = evaluatedAt(errors, K, used - 1);
    const others = kept.filter((k, c) => k && c !== best).length;
    for (let c = 0; c < K; c++) if (c !== best && kept[c] && !(pairedTTestP(errors, K, used, best, c) < alpha / others)) return false;
  }
  return true;
}
