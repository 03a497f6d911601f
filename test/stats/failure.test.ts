import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  aurc, eaurc, expectedCalibrationError, nll, brier, softmax, fitTemperature, predictiveEntropy, meanProbabilities, mutualInformation,
} from '../../src/stats/index.ts';
import { Rng } from '../../src/util/index.ts';

const close = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol;

test('AURC of four images, worked by hand', () => {
  // kept from the least uncertain: ✓ ✗ ✓ ✗ → risks 0, 1/2, 1/3, 2/4
  const r = aurc([true, false, true, false], [0.1, 0.2, 0.3, 0.4]);
  assert.ok(close(r.aurc, (0 + 1 / 2 + 1 / 3 + 1 / 2) / 4), `aurc ${r.aurc}`);
  // optimal: ✓ ✓ ✗ ✗ → 0, 0, 1/3, 2/4
  assert.ok(close(r.optimalAurc, (1 / 3 + 1 / 2) / 4));
  assert.ok(close(r.eaurc, 0.125));
  assert.equal(r.errorRate, 0.5);
  assert.deepEqual(r.curve.map((p) => p.coverage), [0.25, 0.5, 0.75, 1]);
  assert.deepEqual(r.curve.map((p) => p.risk), [0, 0.5, 1 / 3, 0.5]);
  // input order is irrelevant
  assert.ok(close(aurc([false, true, false, true], [0.4, 0.3, 0.2, 0.1]).aurc, r.aurc));
});

test('AURC: tied uncertainties share their errors evenly', () => {
  // group {0.3: ✗, ✓}: risk(2) = (0 + ½) / 2 whichever of the two comes first
  const want = (0 + 0.25 + 1 / 3 + 1 / 2) / 4;
  assert.ok(close(aurc([true, false, true, false], [0.1, 0.3, 0.3, 0.4]).aurc, want));
  assert.ok(close(aurc([true, true, false, false], [0.1, 0.3, 0.3, 0.4]).aurc, want));
  const all = aurc([true, false, true], [0.5, 0.5, 0.5]);
  assert.ok(close(all.aurc, 1 / 3), 'one group: the risk is the error rate at every coverage');
  assert.equal(all.curve.length, 1);
  assert.ok(Number.isNaN(aurc([], []).aurc));
  assert.throws(() => aurc([true], [NaN]), /uncertainty\[0\]/);
  assert.throws(() => aurc([true, false], [0.1]), /lengths differ/);
});

test('AURC properties: perfect ranking is optimal, permutations change nothing, eaurc ≥ 0', () => {
  const data = fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 6 })), { minLength: 1, maxLength: 40 });
  fc.assert(fc.property(data, fc.integer(), (rows, seed) => {
    const correct = rows.map((r) => r[0]);
    const unc = rows.map((r) => r[1] / 6);
    const base = aurc(correct, unc);
    assert.ok(base.eaurc >= -1e-12, `eaurc ${base.eaurc}`);
    assert.ok(base.aurc >= 0 && base.aurc <= 1);
    const perm = new Rng(seed).permutation(rows.length);
    const p = aurc(Array.from(perm, (i) => correct[i]!), Array.from(perm, (i) => unc[i]!));
    assert.ok(close(p.aurc, base.aurc, 1e-12), `permuted ${p.aurc} vs ${base.aurc}`);
    // perfect ranking: every wrong answer more uncertain than every right one (ties inside each side)
    const perfect = aurc(correct, correct.map((c, i) => (c ? 0 : 2) + unc[i]!));
    assert.ok(close(perfect.eaurc, 0, 1e-12), `perfect ranking eaurc ${perfect.eaurc}`);
    assert.ok(close(eaurc(correct, unc), base.eaurc));
  }), { numRuns: 200, seed: 17 });
});

test('ECE with bins, by hand', () => {
  const conf = [0.95, 0.95, 0.55, 0.55, 1];
  const correct = [true, false, true, true, true];
  const r = expectedCalibrationError(conf, correct, 10);
  assert.equal(r.bins.length, 10);
  assert.deepEqual(r.bins.map((b) => b.count), [0, 0, 0, 0, 0, 2, 0, 0, 0, 3]);
  assert.ok(close(r.bins[9]!.confidence, (0.95 + 0.95 + 1) / 3));
  assert.ok(close(r.bins[9]!.accuracy, 2 / 3));
  assert.ok(Number.isNaN(r.bins[0]!.accuracy));
  // |2/3 − 0.9667|·3/5 + |1 − 0.55|·2/5
  assert.ok(close(r.ece, Math.abs(2 / 3 - 2.9 / 3) * 0.6 + 0.45 * 0.4));
  assert.ok(close(r.mce, 0.45));
  assert.throws(() => expectedCalibrationError([1.2], [true]), /confidence\[0\] = 1.2/);
});

test('ECE is in [0, 1] and 0 for a model whose confidence is its accuracy', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.boolean()), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 20 }), (rows, bins) => {
    const r = expectedCalibrationError(rows.map((x) => x[0]), rows.map((x) => x[1]), bins);
    assert.ok(r.ece >= 0 && r.ece <= 1, `ece ${r.ece}`);
    assert.equal(r.bins.reduce((a, b) => a + b.count, 0), rows.length);
  }), { numRuns: 200, seed: 3 });
  // four images at 0.75, three right
  assert.ok(close(expectedCalibrationError([0.75, 0.75, 0.75, 0.75], [true, true, false, true]).ece, 0));
});

test('NLL and Brier, by hand', () => {
  const p = [[0.8, 0.2], [0.4, 0.6], [1, 0]];
  const y = [0, 0, 1];
  assert.ok(close(nll(p, y), -(Math.log(0.8) + Math.log(0.4) + Math.log(1e-15)) / 3));
  assert.ok(close(brier(p, y), ((0.04 + 0.04) + (0.36 + 0.36) + (1 + 1)) / 3));
  assert.throws(() => nll(p, [0, 2, 1]), /labels\[1\] = 2/);
});

test('softmax: stable, and temperature flattens', () => {
  const p = softmax([1000, 1001, 1002]);
  assert.ok(close(p.reduce((a, b) => a + b, 0), 1));
  assert.ok(close(p[2]! / p[1]!, Math.E, 1e-9));
  const hot = softmax([0, 2], 2);
  assert.ok(close(hot[1]! / hot[0]!, Math.E, 1e-12));
  assert.throws(() => softmax([1, 2], 0), /temperature/);
});

/** Logits of n images and labels drawn from softmax(logits / T). */
function sampled(n: number, K: number, T: number, seed: number): { logits: number[][]; labels: number[] } {
  const rng = new Rng(seed);
  const logits: number[][] = [], labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: K }, () => 4 * rng.normal());
    const p = softmax(z, T);
    let u = rng.float(), y = 0;
    while (y < K - 1 && (u -= p[y]!) > 0) y++;
    logits.push(z); labels.push(y);
  }
  return { logits, labels };
}

test('temperature fit recovers the temperature the labels were drawn with (within 10%)', () => {
  fc.assert(fc.property(fc.double({ min: 0.5, max: 4, noNaN: true }), fc.integer({ min: 2, max: 4 }), fc.integer({ min: 0, max: 1000 }), (T, K, seed) => {
    const { logits, labels } = sampled(3000, K, T, seed);
    const fit = fitTemperature(logits, labels);
    assert.ok(Math.abs(fit.temperature / T - 1) < 0.1, `T = ${T}, K = ${K}: fitted ${fit.temperature}`);
    assert.ok(fit.nllAfter <= fit.nllBefore + 1e-12);
    assert.deepEqual(fitTemperature(logits, labels), fit, 'deterministic');
  }), { numRuns: 12, seed: 5 });
});

test('temperature fit stays in [0.05, 20]', () => {
  // labels always the argmax: the NLL keeps falling as T → 0
  const fit = fitTemperature([[0, 3], [2, 0], [0, 1]], [1, 0, 1]);
  assert.ok(fit.temperature >= 0.05 && fit.temperature < 0.051, `T ${fit.temperature}`);
  assert.throws(() => fitTemperature([], []), /no images/);
});

test('predictive entropy, mean probabilities and mutual information', () => {
  assert.ok(close(predictiveEntropy([0.5, 0.5]), 1));
  assert.ok(close(predictiveEntropy([1, 0, 0]), 0));
  assert.ok(close(predictiveEntropy([1 / 3, 1 / 3, 1 / 3]), 1));
  const members = [[[1, 0], [0.5, 0.5]], [[0, 1], [0.5, 0.5]]];
  assert.deepEqual(meanProbabilities(members), [[0.5, 0.5], [0.5, 0.5]]);
  const mi = mutualInformation(members);
  // image 0: members disagree completely → log 2; image 1: they agree → 0
  assert.ok(close(mi[0]!, Math.log(2)));
  assert.equal(mi[1], 0);
  assert.throws(() => meanProbabilities([[[1, 0]], [[1, 0], [0, 1]]]), /member 1 has 2 images/);
  assert.throws(() => mutualInformation([]), /no members/);
});
