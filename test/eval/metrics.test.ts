import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  confusionMatrix, accuracy, balancedAccuracy, macroF1, perClassMetrics, sensitivity, specificity,
  midranks, auroc, macroAurocOvr, summarize, classScores, type PredictionRecord,
} from '../../src/eval/index.ts';
import { close, lcg } from './helpers.ts';

// 3 classes: cm = [[2,1,0],[0,1,1],[0,0,1]].
const yT = [0, 0, 0, 1, 1, 2];
const yP = [0, 0, 1, 1, 2, 2];

test('confusion matrix: rows true, columns predicted', () => {
  assert.deepEqual(confusionMatrix(yT, yP, 3), [[2, 1, 0], [0, 1, 1], [0, 0, 1]]);
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), /not a class index/);
  assert.throws(() => confusionMatrix([0], [0, 1], 3), /lengths differ/);
});

test('accuracy, balanced accuracy, macro F1 by hand', () => {
  assert.ok(close(accuracy(yT, yP), 4 / 6));
  // recall 2/3, 1/2, 1 → 13/18
  assert.ok(close(balancedAccuracy(yT, yP, 3), 13 / 18));
  // precision 1, 1/2, 1/2; F1 4/5, 1/2, 2/3 → 59/90
  const pc = perClassMetrics(yT, yP, 3);
  assert.deepEqual(pc.map((m) => m.support), [3, 2, 1]);
  assert.deepEqual(pc.map((m) => m.predicted), [2, 2, 2]);
  assert.ok(close(pc[0]!.f1, 0.8) && close(pc[1]!.f1, 0.5) && close(pc[2]!.f1, 2 / 3));
  assert.ok(close(macroF1(yT, yP, 3), 59 / 90));
  assert.ok(Number.isNaN(accuracy([], [])));
});

test('a class absent from labels and predictions is left out (sklearn convention)', () => {
  const t = [0, 1, 1], p = [0, 1, 0];
  assert.ok(close(balancedAccuracy(t, p, 3), 0.75));
  assert.ok(close(macroF1(t, p, 3), 2 / 3));
  // a class predicted but never present: precision 0, F1 0, counted in macro F1 (sklearn)
  assert.ok(close(macroF1([0, 0], [0, 2], 3), (2 / 3 + 0) / 2));
});

test('sensitivity and specificity with a configurable positive class', () => {
  const t = [1, 1, 1, 0, 0], p = [1, 0, 1, 0, 1];
  assert.ok(close(sensitivity(t, p), 2 / 3));
  assert.ok(close(specificity(t, p), 1 / 2));
  assert.ok(close(sensitivity(t, p, 0), 1 / 2));
  assert.ok(close(specificity(t, p, 0), 2 / 3));
});

test('midranks average ties', () => {
  assert.deepEqual(Array.from(midranks([3, 1, 3, 2])), [3.5, 1, 3.5, 2]);
});

test('AUROC with ties: known value 0.75', () => {
  // positives score {0.6, 0.6}, negatives {0.2, 0.6}: each positive beats 0.2 (1) and ties 0.6 (1/2).
  assert.equal(auroc([0, 0, 1, 1], [0.2, 0.6, 0.6, 0.6]), 0.75);
  assert.equal(auroc([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.9]), 0.875);
  assert.equal(auroc([0, 0, 1, 1], [0.9, 0.5, 0.5, 0.1], 0), 0.875);
  assert.equal(auroc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]), 1);
  assert.ok(Number.isNaN(auroc([1, 1], [0.3, 0.4])));
});

function pairwiseAuc(y: number[], s: number[], pos: number): number {
  let num = 0, den = 0;
  for (let i = 0; i < y.length; i++) for (let j = 0; j < y.length; j++) {
    if (y[i] === pos && y[j] !== pos) { den++; num += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0; }
  }
  return num / den;
}

test('AUROC equals the pairwise definition on random data with many ties; macro OvR', () => {
  const rnd = lcg(3);
  const y = Array.from({ length: 60 }, () => Math.floor(rnd() * 3));
  const scores = y.map(() => [0, 1, 2].map(() => Math.round(rnd() * 5) / 5));
  for (let c = 0; c < 3; c++) {
    const s = scores.map((r) => r[c]!);
    assert.ok(close(auroc(y, s, c), pairwiseAuc(y, s, c)));
  }
  const expected = [0, 1, 2].reduce((a, c) => a + pairwiseAuc(y, scores.map((r) => r[c]!), c), 0) / 3;
  assert.ok(close(macroAurocOvr(y, scores, 3), expected));
});

function rec(label: number, votePred: number, meanPred: number, shares: number[], meanErrors: number[]): PredictionRecord {
  return {
    id: `x${label}`, label, votePred, meanPred, votes: shares.map((s) => s * 10), shares, entropy: 0,
    meanErrors, pairsUsed: 10, forwardPasses: 10 * shares.length,
  };
}

test('summarize: vote and mean metrics, binary AUROC from vote shares and mean-error margins', () => {
  const records = [
    rec(1, 1, 1, [0.2, 0.8], [0.5, 0.3]),
    rec(1, 0, 1, [0.6, 0.4], [0.5, 0.4]),
    rec(0, 0, 0, [0.6, 0.4], [0.2, 0.6]),
    rec(0, 1, 0, [0.3, 0.7], [0.3, 0.35]),
  ];
  const s = summarize(records, 2);
  assert.equal(s.vote.accuracy, 0.5);
  assert.equal(s.mean.accuracy, 1);
  assert.deepEqual(s.vote.confusionMatrix, [[1, 1], [1, 1]]);
  assert.equal(s.vote.sensitivity, 0.5);
  assert.equal(s.mean.specificity, 1);
  // vote scores for class 1: pos {0.8, 0.4}, neg {0.4, 0.7} → (1 + 1 + 0.5 + 0) / 4
  assert.equal(s.vote.auroc, 0.625);
  // margins e0 − e1: pos {0.2, 0.1}, neg {−0.4, −0.05} → 1
  assert.deepEqual(classScores(records[0]!, 'mean').map((x) => Math.round(x * 100) / 100), [-0.2, 0.2]);
  assert.equal(s.mean.auroc, 1);
  const s3 = summarize([rec(0, 0, 0, [1, 0, 0], [0, 1, 1]), rec(2, 1, 2, [0, 1, 0], [1, 1, 0])], 3);
  assert.equal(s3.vote.sensitivity, null);
  assert.equal(s3.vote.specificity, null);
  assert.throws(() => summarize(records, 3), /expected K = 3/);
});
