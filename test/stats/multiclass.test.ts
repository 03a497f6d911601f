// Pure K-class pieces: NaN-aware vote math, staged class pruning, class offsets and their fit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evaluatedAt, fitClassOffsets, keptClasses, majorityVote, meanDecision, meanErrors, offsetDecision, offsetsDecided, offsetUncertainty, pairVote, prunedForwardPasses,
  voteCounts, voteDecided, voteDecidedAmong, balancedAccuracy, confusionMatrix, perClassMetrics,
} from '../../src/stats/index.ts';

function lcg(seed: number): () => number {
  let s = seed % 2147483647 || 1;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

test('a pruned (NaN) entry gets no vote and no share of the mean: the class keeps its mean over the pairs it was evaluated on', () => {
  const K = 3;
  // pairs 0-1 all classes; pair 2-3: class 2 pruned
  const e = Float32Array.from([0.5, 0.4, 0.1, 0.3, 0.6, 0.2, 0.9, 0.8, NaN, 0.2, 0.7, NaN]);
  assert.equal(pairVote(e, 0, K), 2);
  assert.equal(pairVote(e, 2, K), 1);
  assert.equal(pairVote(e, 3, K), 0);
  assert.deepEqual(voteCounts(e, K), [1, 1, 2]);
  const m = meanErrors(e, K);
  assert.ok(Math.abs(m[0]! - (0.5 + 0.3 + 0.9 + 0.2) / 4) < 1e-6 && Math.abs(m[2]! - (0.1 + 0.2) / 2) < 1e-6, `means ${m}`);
  // the mean decision leaves out class 2, whose lower mean is over the first two pairs only
  assert.equal(meanDecision(e, K, 4), 0);
  assert.equal(meanDecision(e, K, 2), 2);
  assert.deepEqual(evaluatedAt(e, K, 1), [true, true, true]);
  assert.deepEqual(evaluatedAt(e, K, 3), [true, true, false]);
  // a NaN in the first column no longer steals the vote of row k (it used to start the minimum)
  assert.equal(pairVote(Float32Array.from([NaN, 0.3, 0.2]), 0, 3), 2);
});

test('keptClasses keeps the lowest mean errors over the first pairs (ties → lower index); forward passes count K then keep per pair', () => {
  const K = 5;
  const e = new Float32Array(4 * K);
  const means = [0.5, 0.2, 0.9, 0.2, 0.3];
  for (let k = 0; k < 4; k++) for (let c = 0; c < K; c++) e[k * K + c] = means[c]! + (k < 2 ? 0 : 10 * (c === 2 ? -1 : 1)); // pairs 2-3 must not count
  assert.deepEqual(keptClasses(e, K, 2, 2), [1, 3]);
  assert.deepEqual(keptClasses(e, K, 2, 3), [1, 3, 4]);
  assert.deepEqual(keptClasses(e, K, 4, 1), [2]);
  assert.throws(() => keptClasses(e, K, 2, 6), /keep = 6 is not in \[1, 5\]/);
  assert.throws(() => keptClasses(e, K, 5, 2), /afterPairs = 5/);
  assert.equal(prunedForwardPasses(51, 5, { afterPairs: 10, keep: 2 }), 10 * 5 + 41 * 2);
  assert.equal(prunedForwardPasses(7, 5, { afterPairs: 10, keep: 2 }), 35);
  assert.equal(prunedForwardPasses(7, 5, null), 35);
});

test('voteDecidedAmong: pruned classes cannot gain votes; with every class able to gain it is voteDecided', () => {
  const rnd = lcg(3);
  for (let i = 0; i < 300; i++) {
    const counts = Array.from({ length: 4 }, () => Math.floor(rnd() * 8)), rem = Math.floor(rnd() * 6);
    assert.equal(voteDecidedAmong(counts, rem, [true, true, true, true]), voteDecided(counts, rem), `${counts} ${rem}`);
  }
  // leader 6 vs a pruned 5: nothing can catch up while the remaining 3 pairs go to kept classes at 1
  assert.equal(voteDecidedAmong([6, 5, 1, 1], 3, [true, false, true, true]), true);
  assert.equal(voteDecided([6, 5, 1, 1], 3), false);
  // a kept class 3 behind with 3 pairs left could tie
  assert.equal(voteDecidedAmong([6, 5, 3, 1], 3, [true, false, true, true]), false);
});

test('offsetDecision: zero offsets give exactly the majority vote (ties by lower mean error); an offset moves the boundary', () => {
  const rnd = lcg(11);
  for (let i = 0; i < 200; i++) {
    const votes = Array.from({ length: 5 }, () => Math.floor(rnd() * 4)), n = votes.reduce((a, b) => a + b, 0) || 1;
    const means = Array.from({ length: 5 }, () => rnd());
    assert.equal(offsetDecision(votes.map((v) => v / n), [0, 0, 0, 0, 0], means), majorityVote(votes, means));
  }
  assert.equal(offsetDecision([0.5, 0.3, 0.2], [0, 0.25, 0]), 1);
  assert.equal(offsetDecision([0.5, 0.3, 0.2], [0, 0.15, 0]), 0);
  assert.ok(Math.abs(offsetUncertainty([0.5, 0.3, 0.2], [0, 0.15, 0]) - 0.95) < 1e-12);
  assert.equal(offsetUncertainty([1, 0, 0], [0, 0, 0]), 0);
});

test('offsetsDecided: true only when no allocation of the remaining pairs changes the offset decision', () => {
  const offsets = [0, 0.1, -0.05];
  const rnd = lcg(5);
  const n = 6;
  for (let i = 0; i < 200; i++) {
    const used = 1 + Math.floor(rnd() * n);
    const votes = [0, 0, 0];
    for (let k = 0; k < used; k++) votes[Math.floor(rnd() * 3)]!++;
    if (!offsetsDecided(votes, used, n, offsets)) continue;
    const now = offsetDecision(votes.map((v) => v / used), offsets);
    // every way of giving the remaining pairs to the classes ends in the same decision
    const R = n - used;
    for (let a = 0; a <= R; a++) for (let b = 0; a + b <= R; b++) {
      const fin = [votes[0]! + a, votes[1]! + b, votes[2]! + R - a - b];
      assert.equal(offsetDecision(fin.map((v) => v / n), offsets), now, `votes ${votes} used ${used} → ${fin}`);
    }
  }
  assert.equal(offsetsDecided([1, 0, 0], 1, 6, offsets), false);
  assert.equal(offsetsDecided([6, 0, 0], 6, 6, offsets), true);
});

test('fitClassOffsets recovers a known per-class shift of the vote shares and restores balanced accuracy', () => {
  const K = 4, n = 400, shift = [0, 0.3, -0.2, 0.25];
  const rnd = lcg(7);
  const labels: number[] = [], shares: number[][] = [];
  for (let i = 0; i < n; i++) {
    const y = i % K;
    labels.push(y);
    // true score: 0.4 for the label plus noise in [0, 0.3); the observed share is shifted down by shift[c]
    shares.push(Array.from({ length: K }, (_, c) => (c === y ? 0.4 : 0) + 0.3 * rnd() - shift[c]!));
  }
  const plain = shares.map((s) => offsetDecision(s, [0, 0, 0, 0]));
  const fit = fitClassOffsets(shares, labels, K);
  assert.ok(balancedAccuracy(labels, plain, K) < 0.8, `the shift hurts the plain decision: ${balancedAccuracy(labels, plain, K)}`);
  assert.equal(fit.uncalibratedScore, balancedAccuracy(labels, plain, K));
  assert.equal(fit.score, 1, `offsets ${fit.offsets}`);
  assert.equal(fit.offsets[0], 0);
  // the perfect band is ±0.1 around the true shift; the fit sits in its middle
  for (let c = 1; c < K; c++) assert.ok(Math.abs(fit.offsets[c]! - shift[c]!) < 0.04, `offset ${c}: ${fit.offsets[c]} vs ${shift[c]}`);
  // no shift: the offsets stay small
  const fair = shares.map((s) => s.map((v, c) => v + shift[c]!));
  const f0 = fitClassOffsets(fair, labels, K);
  assert.equal(f0.score, 1);
  for (let c = 1; c < K; c++) assert.ok(Math.abs(f0.offsets[c]!) < 0.04, `offset ${c}: ${f0.offsets[c]}`);
  assert.throws(() => fitClassOffsets([[0.5, 0.5]], [0], 3), /shares\[0\] has 2 values, expected K = 3/);
  assert.throws(() => fitClassOffsets(shares, labels, K, { objective: 'f1' as never }), /objective must be/);
});

test('confusion matrix and per-class recall for five classes', () => {
  const yTrue = [0, 0, 1, 2, 2, 2, 3, 4, 4, 4];
  const yPred = [0, 1, 1, 2, 3, 2, 3, 4, 0, 4];
  const cm = confusionMatrix(yTrue, yPred, 5);
  assert.deepEqual(cm, [[1, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 2, 1, 0], [0, 0, 0, 1, 0], [1, 0, 0, 0, 2]]);
  assert.deepEqual(perClassMetrics(yTrue, yPred, 5).map((m) => m.recall), [0.5, 1, 2 / 3, 1, 2 / 3]);
  assert.ok(Math.abs(balancedAccuracy(yTrue, yPred, 5) - (0.5 + 1 + 2 / 3 + 1 + 2 / 3) / 5) < 1e-12);
});
