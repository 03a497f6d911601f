import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from '../../src/runtime/index.ts';
import {
  Rng, addNoise, diffusionLoss, minSnrWeight, minSnrWeightValue, predictEps, predictX0, randomNormal, sampleTimes, vTarget,
} from '../../src/diffusion/index.ts';
import { close, maxAbsDiff, ready } from './helpers.ts';

await ready;

test('v-parameterisation identities recover x and ε', () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const rng = new Rng(7);
    const x = randomNormal<tf.Rank.R4>([3, 4, 4, 2], rng), eps = randomNormal<tf.Rank.R4>([3, 4, 4, 2], rng);
    for (const lam of [tf.tensor1d([-12, 0, 9]), 2.5]) {
      const z = addNoise(x, eps, lam), v = vTarget(x, eps, lam);
      assert.ok(maxAbsDiff(predictX0(z, v, lam), x) < 1e-5, 'x̂₀ == x');
      assert.ok(maxAbsDiff(predictEps(z, v, lam), eps) < 1e-5, 'ε̂ == ε');
    }
    // Per-example broadcast: λ = 0 gives z = (x + ε)/√2 for that example only.
    const z = addNoise(x, eps, tf.tensor1d([0, 15, 15]));
    const expected = tf.mul(tf.add(x, eps), Math.SQRT1_2).slice([0, 0, 0, 0], [1, 4, 4, 2]);
    assert.ok(maxAbsDiff(z.slice([0, 0, 0, 0], [1, 4, 4, 2]), expected) < 1e-6);
  });
  assert.equal(tf.memory().numTensors, before, 'no leaks');
});

test('shape errors are reported', () => {
  tf.tidy(() => {
    const x = tf.zeros([2, 2, 2, 1]) as tf.Tensor4D;
    assert.throws(() => addNoise(x, tf.zeros([2, 2, 2, 2]) as tf.Tensor4D, 0), /shapes differ/);
    assert.throws(() => addNoise(x, x, tf.tensor1d([0, 0, 0])), /logSnr must have shape \[2\]/);
  });
});

test('min-SNR-5 weights', () => {
  // w = min(SNR, 5)/(SNR + 1), SNR = e^λ.
  const cases: [number, number][] = [[0, 0.5], [Math.log(2), 2 / 3], [Math.log(5), 5 / 6], [Math.log(20), 5 / 21], [-15, 1 / (1 + Math.exp(15))]];
  for (const [lam, w] of cases) close(minSnrWeightValue(lam), w, 1e-12, `w(${lam})`);
  close(minSnrWeightValue(Math.log(20), 1), 1 / 21, 1e-12, 'γ = 1');
  assert.ok(Number.isFinite(minSnrWeightValue(800)) && minSnrWeightValue(800) === 0);
  const t = tf.tidy(() => minSnrWeight(tf.tensor1d(cases.map((c) => c[0]))).arraySync());
  t.forEach((w, i) => close(w, cases[i]![1], 1e-6, `tensor w(${cases[i]![0]})`));
});

test('diffusion loss: weighted pixel mean, then batch mean', () => {
  tf.tidy(() => {
    const target = tf.zeros([2, 2, 2, 1]);
    // Example 0 error 1 everywhere (MSE 1, λ = 0, w = 1/2); example 1 error 2 (MSE 4, λ = ln 20, w = 5/21).
    const pred = tf.concat([tf.ones([1, 2, 2, 1]), tf.fill([1, 2, 2, 1], 2)], 0);
    const lam = tf.tensor1d([0, Math.log(20)]);
    close(diffusionLoss(pred, target, lam).dataSync()[0]!, (0.5 + (4 * 5) / 21) / 2, 1e-6, 'min-SNR-5 loss');
    close(diffusionLoss(pred, target, lam, { minSnrGamma: null }).dataSync()[0]!, 2.5, 1e-6, 'unweighted loss');
    // Differentiable in v̂ (the trainer's path): ∂L/∂v̂ = 2·w_b·(v̂ − v)/(B·pixels).
    const g = tf.grad((p: tf.Tensor) => diffusionLoss(p, target, lam))(pred).dataSync();
    close(g[0]!, (2 * 0.5 * 1) / 8, 1e-6, 'grad example 0');
    close(g[7]!, (2 * (5 / 21) * 2) / 8, 1e-6, 'grad example 1');
  });
});

test('stratified time sampling', () => {
  const B = 16;
  const t = sampleTimes(B, 3);
  assert.deepEqual(Array.from(sampleTimes(B, 3)), Array.from(t), 'deterministic for a seed');
  assert.notDeepEqual(Array.from(sampleTimes(B, 4)), Array.from(t));
  const sorted = Array.from(t).sort((a, b) => a - b);
  sorted.forEach((v, i) => assert.ok(v >= i / B && v <= (i + 1) / B, `t in stratum ${i}: ${v}`));
  assert.notDeepEqual(Array.from(t), sorted, 'shuffled');
  const iid = sampleTimes(64, new Rng(1), { stratified: false });
  assert.ok(iid.every((v) => v >= 0 && v < 1));
  assert.throws(() => sampleTimes(0, 1), /batch must be a positive integer/);
});
