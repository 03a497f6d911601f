// Staged class pruning (Li et al. 2023, "Your diffusion model is secretly a zero-shot classifier"):
// every class is evaluated on the first `afterPairs` pairs, then only the `keep` classes with the
// lowest mean error so far are evaluated on the rest. Pure: no I/O, no tensors. Errors are row-major
// [pairs × K]; the classifier writes NaN for a pruned (pair, class), which pairVote and meanErrors
// skip, so a pruned class keeps the votes it had and its mean over the first pairs (frozen).
import { meanErrors } from './votes.ts';

export interface PruneConfig {
  /** Pairs evaluated for every class before pruning. */
  afterPairs: number;
  /** Classes evaluated on the remaining pairs (those with the lowest mean error over the first pairs). */
  keep: number;
}

/** The prune settings in force for K classes and N pairs: null when pruning would evaluate every class anyway. */
export function effectivePrune(prune: PruneConfig | null, K: number, n: number): PruneConfig | null {
  return prune && prune.keep < K && prune.afterPairs < n ? prune : null;
}

/**
 * The `keep` classes with the lowest mean error over the first `afterPairs` pairs, in class order
 * (ties → lower index, as argmin breaks them).
 */
export function keptClasses(errors: ArrayLike<number>, K: number, afterPairs: number, keep: number): number[] {
  if (!Number.isInteger(keep) || keep < 1 || keep > K) throw new Error(`keptClasses: keep = ${keep} is not in [1, ${K}]`);
  if (!Number.isInteger(afterPairs) || afterPairs < 1 || afterPairs * K > errors.length) throw new Error(`keptClasses: afterPairs = ${afterPairs} is not in [1, ${Math.floor(errors.length / K)}]`);
  const m = meanErrors(errors, K, afterPairs);
  const order = Array.from({ length: K }, (_, c) => c).sort((a, b) => m[a]! - m[b]! || a - b);
  return order.slice(0, keep).sort((a, b) => a - b);
}

/** Forward passes for `used` pairs of one image: K per pair up to afterPairs, then `keep` per pair. */
export function prunedForwardPasses(used: number, K: number, prune: PruneConfig | null): number {
  if (!prune) return used * K;
  const first = Math.min(used, prune.afterPairs);
  return first * K + (used - first) * Math.min(prune.keep, K);
}

/**
 * voteDecided when some classes can gain no more votes (pruned): the leader must stay ahead of
 * every class that can still gain even if it takes all `remaining` pairs, and ahead of every
 * pruned class as it stands. With every class able to gain this is exactly voteDecided.
 */
export function voteDecidedAmong(counts: readonly number[], remaining: number, canGain: readonly boolean[]): boolean {
  let lead = 0;
  for (let c = 1; c < counts.length; c++) if (counts[c]! > counts[lead]!) lead = c;
  for (let c = 0; c < counts.length; c++) {
    if (c !== lead && !(counts[lead]! - counts[c]! > (canGain[c] ? remaining : 0))) return false;
  }
  return true;
}

/** Which classes were evaluated on pair `row` (false: pruned, its error is NaN). */
export function evaluatedAt(errors: ArrayLike<number>, K: number, row: number): boolean[] {
  return Array.from({ length: K }, (_, c) => !Number.isNaN(errors[row * K + c]!));
}
