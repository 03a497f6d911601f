/**
 * Uncertainty evaluation from the vote entropy (pure). method.md §6: sort predictions by entropy,
 * set aside the most uncertain fraction, report accuracy on the rest (paper Fig. 3); and compare
 * entropy between correct and wrong predictions (Fig. 9).
 */
import { auroc, quantileSorted } from '../stats/index.ts';
import type { BoxStats } from './types.ts';

/** Fractions 0, 0.05, …, 0.5 (the paper's Fig. 3 range). */
export const DEFAULT_REMOVAL_FRACTIONS: readonly number[] = Array.from({ length: 11 }, (_, i) => (i * 5) / 100);

export interface RemovalPoint {
  /** Fraction requested. */
  fraction: number;
  /** Images set aside: floor(fraction · n). */
  removed: number;
  kept: number;
  /** Accuracy on the kept images (NaN if none kept). */
  accuracy: number;
}

/**
 * Relative gap between the two smallest class mean errors, (e₂ − e₁) / e₁: near 0 when the
 * class-conditional reconstructions are nearly tied. Vote entropy takes only N/2 + 1 values for
 * two classes, so many images share an entropy; this margin orders them.
 */
export function meanErrorMargin(meanErrors: ArrayLike<number>): number {
  const s = Array.from(meanErrors).sort((a, b) => a - b);
  if (s.length < 2) return Infinity;
  return s[0]! > 0 ? (s[1]! - s[0]!) / s[0]! : s[1]! > 0 ? Infinity : 0;
}

/**
 * Order in which images are set aside: entropy descending; among equal entropies the smaller
 * mean-error margin goes first when margins are given, then the lower index (deterministic).
 */
export function uncertaintyOrder(entropy: ArrayLike<number>, margin?: ArrayLike<number>): number[] {
  if (margin && margin.length !== entropy.length) throw new Error(`uncertaintyOrder: ${entropy.length} entropies but ${margin.length} margins`);
  return Array.from({ length: entropy.length }, (_, i) => i)
    .sort((a, b) => entropy[b]! - entropy[a]! || (margin ? margin[a]! - margin[b]! : 0) || a - b);
}

/**
 * Accuracy after setting aside the floor(f·n) most uncertain images, for each fraction f
 * (ordered by uncertaintyOrder).
 */
export function accuracyAfterRemoving(
  correct: ArrayLike<boolean>, entropy: ArrayLike<number>, fractions: readonly number[] = DEFAULT_REMOVAL_FRACTIONS, margin?: ArrayLike<number>,
): RemovalPoint[] {
  const n = correct.length;
  if (entropy.length !== n) throw new Error(`accuracyAfterRemoving: ${n} correctness flags but ${entropy.length} entropies`);
  for (let i = 0; i < n; i++) if (Number.isNaN(entropy[i])) throw new Error(`accuracyAfterRemoving: entropy[${i}] is NaN`);
  const order = uncertaintyOrder(entropy, margin);
  // suffixCorrect[m] = correct count among order[m..n-1], i.e. after removing the first m.
  const suffixCorrect = new Array<number>(n + 1).fill(0);
  for (let m = n - 1; m >= 0; m--) suffixCorrect[m] = suffixCorrect[m + 1]! + (correct[order[m]!] ? 1 : 0);
  return fractions.map((fraction) => {
    if (!(fraction >= 0 && fraction <= 1)) throw new Error(`removal fraction ${fraction} is not in [0, 1]`);
    const removed = Math.min(n, Math.floor(fraction * n + 1e-9));
    const kept = n - removed;
    return { fraction, removed, kept, accuracy: kept > 0 ? suffixCorrect[removed]! / kept : NaN };
  });
}

/** Accuracy at one fraction of a removal curve (null when the curve has no such point). */
export function accuracyAt(curve: readonly RemovalPoint[], fraction: number): number | null {
  return curve.find((p) => Math.abs(p.fraction - fraction) < 1e-9)?.accuracy ?? null;
}

/** AUROC of the entropy for detecting wrong predictions (0.5 = no better than chance). */
export function errorDetectionAuroc(correct: ArrayLike<boolean>, entropy: ArrayLike<number>): number {
  const wrong = Array.from({ length: correct.length }, (_, i) => !correct[i]);
  return auroc(wrong, entropy, true);
}

/** Box-plot statistics of the values (all NaN with n = 0). */
export function boxStats(values: ArrayLike<number>): BoxStats {
  const s = Array.from(values).sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { n, min: NaN, q1: NaN, median: NaN, q3: NaN, max: NaN, mean: NaN };
  return {
    n,
    min: s[0]!,
    q1: quantileSorted(s, 0.25),
    median: quantileSorted(s, 0.5),
    q3: quantileSorted(s, 0.75),
    max: s[n - 1]!,
    mean: s.reduce((a, b) => a + b, 0) / n,
  };
}

export type EntropyGroupName = 'TP' | 'TN' | 'FP' | 'FN' | 'correct' | 'incorrect';

export interface EntropyGroup {
  group: EntropyGroupName;
  /** Plain-language name, e.g. 'True positive'. */
  title: string;
  stats: BoxStats;
  /** The entropies of the group, in input order (for plots with raw values). */
  values: number[];
}

const GROUP_TITLES: Record<EntropyGroupName, string> = {
  TP: 'True positive', TN: 'True negative', FP: 'False positive', FN: 'False negative',
  correct: 'Correct', incorrect: 'Incorrect',
};

export interface EntropyGroupOptions {
  /** Positive class for the binary TP/TN/FP/FN split (default 1). */
  positive?: number;
}

/**
 * Entropy grouped by outcome: binary (K = 2) → TP, TN, FP, FN (in that order) for the positive
 * class; K > 2 → correct, incorrect. Empty groups are kept (n = 0).
 */
export function entropyGroups(
  yTrue: ArrayLike<number>, yPred: ArrayLike<number>, entropy: ArrayLike<number>, K: number, opts: EntropyGroupOptions = {},
): EntropyGroup[] {
  const n = yTrue.length;
  if (yPred.length !== n || entropy.length !== n) throw new Error(`entropyGroups: lengths differ (${n}, ${yPred.length}, ${entropy.length})`);
  const positive = opts.positive ?? 1;
  const names: EntropyGroupName[] = K === 2 ? ['TP', 'TN', 'FP', 'FN'] : ['correct', 'incorrect'];
  const buckets = new Map<EntropyGroupName, number[]>(names.map((g) => [g, []]));
  for (let i = 0; i < n; i++) {
    const t = yTrue[i]!, p = yPred[i]!;
    let g: EntropyGroupName;
    if (K === 2) {
      const tp = t === positive, pp = p === positive;
      g = tp && pp ? 'TP' : !tp && !pp ? 'TN' : pp ? 'FP' : 'FN';
    } else {
      g = t === p ? 'correct' : 'incorrect';
    }
    buckets.get(g)!.push(entropy[i]!);
  }
  return names.map((g) => ({ group: g, title: GROUP_TITLES[g], stats: boxStats(buckets.get(g)!), values: buckets.get(g)! }));
}
