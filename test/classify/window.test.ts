import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapGainP, searchTimeWindow, windowVote, type PairRecord } from '../../src/classify/window.ts';
import { Rng } from '../../src/util/index.ts';
import { validateClassifyConfig } from '../../src/classify/config.ts';

test('windowVote counts only the pairs inside the window', () => {
  const p: PairRecord = { errors: [0.1, 0.2, 0.3, 0.1, 0.2, 0.9], times: [0.1, 0.5, 0.9] };
  assert.deepEqual(windowVote(p, 2, 0, 1).votes, [2, 1]);
  const mid = windowVote(p, 2, 0.4, 0.6);
  assert.deepEqual([mid.votes, mid.used, mid.pred], [[0, 1], 1, 1]);
  assert.equal(windowVote(p, 2, 0.6, 0.8).used, 0);
});

// Synthetic classifier errors: only pairs with 0.4 ≤ t ≤ 0.8 know the class; the others lean to a
// class by an image-dependent amount that has nothing to do with its label.
function synthetic(nImages: number, nPairs: number, seed: number) {
  const rng = new Rng(seed);
  const records: PairRecord[] = [], labels: number[] = [];
  for (let i = 0; i < nImages; i++) {
    const y = i % 3 === 0 ? 0 : 1;
    const times = Float64Array.from({ length: nPairs }, () => rng.float());
    const bias = 0.1 + 0.8 * rng.float();
    const errors = new Float32Array(nPairs * 2);
    times.forEach((t, k) => {
      const informative = t >= 0.4 && t <= 0.8;
      const lean = informative ? (rng.float() < 0.35 ? 1 - y : y) : rng.float() < bias ? 1 : 0;
      errors[k * 2 + lean] = 0.1; errors[k * 2 + 1 - lean] = 0.2;
    });
    records.push({ errors, times }); labels.push(y);
  }
  return { records, labels };
}

test('the window search finds the informative times and beats the full range', () => {
  const { records, labels } = synthetic(150, 51, 7);
  const fit = searchTimeWindow(records, labels, 2, { positive: 1 });
  assert.ok(fit.tRange[0] >= 0.3 && fit.tRange[0] <= 0.5 && fit.tRange[1] >= 0.7 && fit.tRange[1] <= 0.9, `window ${fit.tRange}`);
  assert.ok(fit.balancedAccuracy > fit.fullRangeBalancedAccuracy + 0.05, `${fit.balancedAccuracy} vs ${fit.fullRangeBalancedAccuracy}`);
  assert.ok(fit.searched.pValue < 0.05, `p ${fit.searched.pValue}`);
  assert.deepEqual(fit.tRange, fit.searched.tRange);
  assert.ok(fit.tRange[1] - fit.tRange[0] >= 0.3 - 1e-9);
  // the votes it returns are those of the chosen window
  const [lo, hi] = fit.tRange;
  records.forEach((p, i) => {
    const w = windowVote(p, 2, lo, hi);
    assert.deepEqual(fit.shares[i], w.votes.map((v) => v / w.used));
    assert.equal(fit.predictions[i], w.pred);
  });
});

test('when every time is equally informative the search keeps a wide window', () => {
  const rng = new Rng(3);
  const records: PairRecord[] = [], labels: number[] = [];
  for (let i = 0; i < 60; i++) {
    const y = i % 2;
    const times = Float64Array.from({ length: 31 }, () => rng.float());
    const errors = new Float32Array(62);
    for (let k = 0; k < 31; k++) { errors[k * 2 + y] = 0.1; errors[k * 2 + 1 - y] = 0.2; }
    records.push({ errors, times }); labels.push(y);
  }
  assert.deepEqual(searchTimeWindow(records, labels, 2).tRange, [0, 1]);
  assert.throws(() => searchTimeWindow(records, labels.slice(1), 2), /one pair record per label/);
});

test('tRange is validated with a clear message', () => {
  assert.deepEqual(validateClassifyConfig({}).tRange, [0, 1]);
  assert.deepEqual(validateClassifyConfig({ tRange: [0.2, 0.9] }).tRange, [0.2, 0.9]);
  assert.throws(() => validateClassifyConfig({ tRange: [0.5, 0.5] }), /tRange.*0 ≤ tMin < tMax ≤ 1/);
  assert.throws(() => validateClassifyConfig({ tRange: [-0.1, 0.5] }), /tRange/);
});

test('bootstrapGainP: certain gain, no gain, and a loss', () => {
  const labels = [0, 0, 1, 1, 1, 1];
  assert.equal(bootstrapGainP(labels, labels, labels.map((y) => 1 - y), 2), 0);
  assert.equal(bootstrapGainP(labels, labels, labels, 2), 1);
  assert.equal(bootstrapGainP(labels, labels.map((y) => 1 - y), labels, 2), 1);
  // one image of each class better, none worse: a positive gain in every resample that draws one
  const p = bootstrapGainP([0, 0, 0, 1, 1, 1], [0, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0], 2, 4000, 1);
  assert.ok(p > 0.05 && p < 0.5, `p ${p}`);
  assert.equal(bootstrapGainP([0, 0, 0, 1, 1, 1], [0, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0], 2, 4000, 1), p, 'seeded');
});

test('a window that is not significantly better on a small set is not kept', () => {
  // every time equally informative, but noisy: the best window is better by chance only
  const rng = new Rng(11);
  const records: PairRecord[] = [], labels: number[] = [];
  for (let i = 0; i < 40; i++) {
    const y = i % 2;
    const times = Float64Array.from({ length: 31 }, () => rng.float());
    const errors = new Float32Array(62);
    for (let k = 0; k < 31; k++) { const lean = rng.float() < 0.6 ? y : 1 - y; errors[k * 2 + lean] = 0.1; errors[k * 2 + 1 - lean] = 0.2; }
    records.push({ errors, times }); labels.push(y);
  }
  const fit = searchTimeWindow(records, labels, 2);
  assert.notDeepEqual(fit.searched.tRange, [0, 1], 'some window looks better by chance');
  assert.ok(fit.searched.balancedAccuracy > fit.fullRangeBalancedAccuracy);
  assert.ok(fit.searched.pValue >= 0.05, `p ${fit.searched.pValue}`);
  assert.deepEqual(fit.tRange, [0, 1]);
  assert.equal(fit.balancedAccuracy, fit.fullRangeBalancedAccuracy);
  const always = searchTimeWindow(records, labels, 2, { significance: 1 });
  assert.deepEqual(always.tRange, fit.searched.tRange);
});
