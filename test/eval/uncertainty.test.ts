import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracyAfterRemoving, errorDetectionAuroc, boxStats, entropyGroups, uncertaintyOrder, meanErrorMargin, thresholdUncertainty, DEFAULT_REMOVAL_FRACTIONS,
} from '../../src/eval/index.ts';
import { close } from './helpers.ts';

test('default fractions are 0, 0.05, …, 0.5', () => {
  assert.equal(DEFAULT_REMOVAL_FRACTIONS.length, 11);
  assert.equal(DEFAULT_REMOVAL_FRACTIONS[0], 0);
  assert.equal(DEFAULT_REMOVAL_FRACTIONS[3], 0.15);
  assert.equal(DEFAULT_REMOVAL_FRACTIONS[10], 0.5);
});

test('accuracy after removing the most uncertain, by hand', () => {
  const correct = [true, false, true, true, false, true, true, true, false, true];
  const entropy = [0.1, 0.9, 0.2, 0.5, 0.8, 0.5, 0, 0, 0.9, 0.3];
  // order: 1(F) 8(F) 4(F) 3 5 9 2 0 6 7
  assert.deepEqual(uncertaintyOrder(entropy), [1, 8, 4, 3, 5, 9, 2, 0, 6, 7]);
  const pts = accuracyAfterRemoving(correct, entropy, [0, 0.05, 0.1, 0.2, 0.3, 0.5]);
  assert.deepEqual(pts.map((p) => p.removed), [0, 0, 1, 2, 3, 5]);
  assert.deepEqual(pts.map((p) => p.kept), [10, 10, 9, 8, 7, 5]);
  const acc = [7 / 10, 7 / 10, 7 / 9, 7 / 8, 1, 1];
  pts.forEach((p, i) => assert.ok(close(p.accuracy, acc[i]!), `f=${p.fraction}: ${p.accuracy} vs ${acc[i]}`));
  assert.throws(() => accuracyAfterRemoving(correct, entropy, [1.5]), /not in \[0, 1\]/);
});

test('ties in entropy: the lower index is set aside first', () => {
  assert.equal(accuracyAfterRemoving([true, false], [0.5, 0.5], [0.5])[0]!.accuracy, 0);
  assert.equal(accuracyAfterRemoving([false, true], [0.5, 0.5], [0.5])[0]!.accuracy, 1);
});

test('ties in entropy with margins: the nearer tie between the class errors goes first', () => {
  assert.ok(Math.abs(meanErrorMargin([0.2, 0.25]) - 0.25) < 1e-12);
  assert.ok(Math.abs(meanErrorMargin([0.3, 0.1, 0.12]) - 0.2) < 1e-12);
  assert.equal(meanErrorMargin([0, 0]), 0);
  const entropy = [0.5, 0.5, 0.9, 0.5];
  assert.deepEqual(uncertaintyOrder(entropy, [0.3, 0.1, 0.5, 0.1]), [2, 1, 3, 0]);
  // the wrong image has the smaller margin, so it is set aside first whatever its index
  assert.equal(accuracyAfterRemoving([false, true], [0.5, 0.5], [0.5], [0.1, 0.2])[0]!.accuracy, 1);
  assert.equal(accuracyAfterRemoving([true, false], [0.5, 0.5], [0.5], [0.2, 0.1])[0]!.accuracy, 1);
  assert.throws(() => uncertaintyOrder([0.1, 0.2], [0.1]), /2 entropies but 1 margins/);
});

test('error-detection AUROC of the entropy', () => {
  // errors have entropy {0.6, 0.6}, correct {0.2, 0.6} → 0.75
  assert.equal(errorDetectionAuroc([true, true, false, false], [0.2, 0.6, 0.6, 0.6]), 0.75);
  assert.ok(Number.isNaN(errorDetectionAuroc([true, true], [0.1, 0.2])));
});

test('box statistics (linear-interpolation quartiles)', () => {
  assert.deepEqual(boxStats([7, 1, 3, 5]), { n: 4, min: 1, q1: 2.5, median: 4, q3: 5.5, max: 7, mean: 4 });
  assert.deepEqual(boxStats([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), { n: 10, min: 1, q1: 3.25, median: 5.5, q3: 7.75, max: 10, mean: 5.5 });
  assert.deepEqual(boxStats([0.4]), { n: 1, min: 0.4, q1: 0.4, median: 0.4, q3: 0.4, max: 0.4, mean: 0.4 });
  const empty = boxStats([]);
  assert.equal(empty.n, 0);
  assert.ok(Number.isNaN(empty.median));
});

test('entropy groups: TP/TN/FP/FN for two classes, correct/incorrect for more', () => {
  const g = entropyGroups([1, 1, 0, 0, 1, 0], [1, 0, 0, 1, 1, 0], [0.1, 0.9, 0.2, 0.8, 0.3, 0.4], 2);
  assert.deepEqual(g.map((x) => x.group), ['TP', 'TN', 'FP', 'FN']);
  assert.deepEqual(g.map((x) => x.values), [[0.1, 0.3], [0.2, 0.4], [0.8], [0.9]]);
  assert.ok(close(g[0]!.stats.median, 0.2));
  assert.equal(g[2]!.stats.n, 1);
  assert.equal(g[0]!.title, 'True positive');
  // positive = 0 swaps the roles
  const g0 = entropyGroups([1, 1, 0, 0, 1, 0], [1, 0, 0, 1, 1, 0], [0.1, 0.9, 0.2, 0.8, 0.3, 0.4], 2, { positive: 0 });
  assert.deepEqual(g0.map((x) => x.values), [[0.2, 0.4], [0.1, 0.3], [0.9], [0.8]]);
  const m = entropyGroups([0, 1, 2, 2], [0, 2, 2, 1], [0.1, 0.7, 0.3, 0.9], 3);
  assert.deepEqual(m.map((x) => [x.group, x.stats.n, x.stats.mean]), [['correct', 2, 0.2], ['incorrect', 2, 0.8]]);
});

test('threshold uncertainty: 1 at the threshold, 0 when unanimous; at 1/2 it ranks like the vote entropy', async () => {
  const { voteEntropy } = await import('../../src/classify/index.ts');
  assert.equal(thresholdUncertainty(0.773, 0.773), 1);
  assert.equal(thresholdUncertainty(1, 0.773), 0);
  assert.equal(thresholdUncertainty(0, 0.773), 0);
  close(thresholdUncertainty(0.59, 0.773), 1 - 0.183 / 0.773);
  // a share of 0.59 is fairly sure of the lower class under 0.773, unlike under 1/2
  assert.ok(thresholdUncertainty(0.59, 0.773) < thresholdUncertainty(0.75, 0.773));
  assert.ok(thresholdUncertainty(0.59, 0.5) > thresholdUncertainty(0.75, 0.5));
  const shares = Array.from({ length: 52 }, (_, v) => v / 51);
  const r = (x: number) => Math.round(x * 1e9) / 1e9; // s and 1 − s tie up to the last bit
  const byThr = uncertaintyOrder(shares.map((s) => r(thresholdUncertainty(s, 0.5))));
  const byEntropy = uncertaintyOrder(shares.map((s, v) => r(voteEntropy([v, 51 - v]))));
  assert.deepEqual(byThr, byEntropy);
});
