// Decision calibration for K classes: per-class additive offsets b_c on the vote shares (a log-prior
// in spirit: the decision is argmax_c s_c + b_c), fitted on validation data by coordinate search for
// balanced accuracy (or accuracy). b_0 = 0: adding a constant to every offset changes nothing. Pure.
import { accuracy, balancedAccuracy } from './metrics.ts';

export type OffsetObjective = 'balanced-accuracy' | 'accuracy';

/**
 * argmax_c shares[c] + offsets[c]; ties (within 1e-12) → lower mean error, then lower index, as
 * majorityVote breaks them, so zero offsets give exactly the majority vote.
 */
export function offsetDecision(shares: ArrayLike<number>, offsets: ArrayLike<number>, means?: ArrayLike<number>): number {
  let best = 0, top = shares[0]! + offsets[0]!;
  for (let c = 1; c < shares.length; c++) {
    const v = shares[c]! + offsets[c]!;
    if (v > top + 1e-12 || (Math.abs(v - top) <= 1e-12 && means !== undefined && means[c]! < means[best]!)) { best = c; top = v; }
  }
  return best;
}

/**
 * How unsure an offset decision is, in [0, 1]: 1 − the gap between the best and second-best
 * adjusted share (1 = a tie, 0 = a gap of a whole share).
 */
export function offsetUncertainty(shares: ArrayLike<number>, offsets: ArrayLike<number>): number {
  let first = -Infinity, second = -Infinity;
  for (let c = 0; c < shares.length; c++) {
    const v = shares[c]! + offsets[c]!;
    if (v > first) { second = first; first = v; } else if (v > second) second = v;
  }
  return Math.min(1, Math.max(0, 1 - (first - second)));
}

/**
 * True when the offset decision over all n pairs can no longer change: its leader stays ahead even
 * if it gets none of the remaining pairs and any other class gets all of them, and the decision on
 * the shares over the `used` pairs so far is that same leader.
 */
export function offsetsDecided(votes: readonly number[], used: number, n: number, offsets: readonly number[], means?: readonly number[]): boolean {
  const R = n - used;
  const now = offsetDecision(votes.map((v) => v / used), offsets, means);
  const lead = votes[now]! / n + offsets[now]!;
  for (let c = 0; c < votes.length; c++) if (c !== now && !(lead > (votes[c]! + R) / n + offsets[c]! + 1e-12)) return false;
  return true;
}

export interface ClassOffsetFit {
  /** One per class; offsets[0] = 0. */
  offsets: number[];
  /** The objective on the fitting data with the offsets, and with none (the majority vote). */
  score: number;
  uncalibratedScore: number;
  sweeps: number;
}

/**
 * Per-class offsets that maximise balanced accuracy (or accuracy) of argmax(shares + offsets) on
 * labelled data, by coordinate search: for each class c ≥ 1 in turn, every value of b_c at which
 * an image's decision can change is a breakpoint; the candidates are the midpoints between them.
 * Among the best candidates the middle of the run nearest the current b_c is kept (the widest
 * margin, and the smallest move), and sweeps repeat until nothing moves.
 */
export function fitClassOffsets(
  shares: readonly (readonly number[])[], labels: readonly number[], K: number,
  o: { objective?: OffsetObjective; means?: readonly (readonly number[])[]; maxSweeps?: number } = {},
): ClassOffsetFit {
  if (!Number.isInteger(K) || K < 2) throw new Error(`fitClassOffsets: K must be an integer ≥ 2, got ${K}`);
  if (shares.length !== labels.length || shares.length === 0) throw new Error('fitClassOffsets: need one vote-share vector per label');
  shares.forEach((s, i) => { if (s.length !== K) throw new Error(`fitClassOffsets: shares[${i}] has ${s.length} values, expected K = ${K}`); });
  const objective = o.objective ?? 'balanced-accuracy';
  if (objective !== 'balanced-accuracy' && objective !== 'accuracy') throw new Error(`fitClassOffsets: objective must be 'balanced-accuracy' or 'accuracy', got '${String(objective)}'`);
  const metric = (pred: number[]) => (objective === 'accuracy' ? accuracy(labels, pred) : balancedAccuracy(labels, pred, K));
  const b = new Array<number>(K).fill(0);
  const score = () => metric(shares.map((s, i) => offsetDecision(s, b, o.means?.[i])));
  const uncalibratedScore = score();
  let current = uncalibratedScore, sweeps = 0;
  for (; sweeps < (o.maxSweeps ?? 20); sweeps++) {
    let moved = false;
    for (let c = 1; c < K; c++) {
      // b_c at which image i's class-c score ties its best other class
      const cuts = [...new Set(shares.map((s) => {
        let other = -Infinity;
        for (let d = 0; d < K; d++) if (d !== c) other = Math.max(other, s[d]! + b[d]!);
        return other - s[c]!;
      }))].sort((x, y) => x - y);
      const cands = [cuts[0]! - 1e-6, ...cuts.slice(1).map((v, i) => (v + cuts[i]!) / 2), cuts.at(-1)! + 1e-6];
      const old = b[c]!;
      const scores = cands.map((v) => { b[c] = v; return score(); });
      const best = Math.max(...scores);
      // runs of consecutive best candidates; keep the one nearest the current value
      let pick: [number, number] | null = null, dist = Infinity;
      for (let i = 0; i < cands.length; i++) {
        if (scores[i]! < best - 1e-12) continue;
        let j = i;
        while (j + 1 < cands.length && scores[j + 1]! >= best - 1e-12) j++;
        const dd = old < cands[i]! ? cands[i]! - old : old > cands[j]! ? old - cands[j]! : 0;
        if (dd < dist) { dist = dd; pick = [i, j]; }
        i = j;
      }
      const [i, j] = pick!;
      b[c] = (cands[i]! + cands[j]!) / 2;
      if (score() < best - 1e-12) b[c] = cands[Math.round((i + j) / 2)]!; // the midpoint sat on a breakpoint
      if (best < current - 1e-12) { b[c] = old; continue; }
      current = score();
      if (Math.abs(b[c]! - old) > 1e-9) moved = true;
    }
    if (!moved) break;
  }
  return { offsets: b.slice(), score: current, uncalibratedScore, sweeps };
}
