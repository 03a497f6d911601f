import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { relErr, setup, tf } from '../helpers.ts';
import { groupNorm } from '../../src/runtime/index.ts';

let active = 'wasm';
before(async () => { active = (await setup()).tfBackend; });

/** y and the gradients of Σ y·r w.r.t. x, γ, β on the current backend. */
function run(shape: number[], groups: number, silu: boolean, seed: number) {
  const c = shape[shape.length - 1]!;
  return tf.tidy(() => {
    const x = tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), 3), 0.5);
    const g = tf.randomNormal([c], 1, 0.3, 'float32', seed + 1), b = tf.randomNormal([c], 0, 0.3, 'float32', seed + 2);
    const r = tf.randomNormal(shape, 0, 1, 'float32', seed + 3);
    const f = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(groupNorm(xx, gg, bb, groups, 1e-5, silu), r));
    const y = groupNorm(x, g, b, groups, 1e-5, silu);
    const grads = tf.grads(f)([x, g, b]);
    return [y, ...grads].map((t) => t.dataSync().slice());
  });
}

for (const [shape, groups] of [[[2, 5, 7, 8], 4], [[3, 16, 32], 8], [[1, 4, 4, 64], 32], [[2, 3, 3, 6], 1]] as const) {
  for (const silu of [false, true]) {
    test(`fused GroupNorm${silu ? '+SiLU' : ''} ${JSON.stringify(shape)} G=${groups} matches the composite cpu reference (value and gradients)`, async () => {
      const got = run([...shape], groups, silu, 11);
      await tf.setBackend('cpu');
      const ref = run([...shape], groups, silu, 11);
      await tf.setBackend(active);
      ['y', 'dx', 'dgamma', 'dbeta'].forEach((name, i) => assert.ok(relErr(got[i]!, ref[i]!) < 2e-4, `${name}: rel err ${relErr(got[i]!, ref[i]!)}`));
    });
  }
}

test('fused GroupNorm leaks no tensors through a gradient step', () => {
  const x = tf.randomNormal([2, 4, 4, 8]), g = tf.variable(tf.ones([8])), b = tf.variable(tf.zeros([8]));
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => tf.sum(groupNorm(x, g, b, 2, 1e-5, true)) as tf.Scalar, [g, b]);
  value.dispose(); tf.dispose(Object.values(grads));
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, g, b]);
});

test('column sums (bias gradients) match the reference; other reductions are unchanged', async () => {
  const cases: [number[], number[] | number, boolean][] = [[[4, 5, 6, 7], [0, 1, 2], false], [[3, 9], 0, true], [[2, 3, 4], [1, 0], false], [[2, 3, 4], [2], false], [[2, 3, 4], [0, 2], true], [[5], 0, false]];
  const run = () => cases.map(([shape, axis, keep]) => tf.tidy(() => tf.sum(tf.randomNormal(shape, 0, 1, 'float32', 3), axis, keep).dataSync().slice()));
  const got = run();
  await tf.setBackend('cpu');
  const ref = run();
  await tf.setBackend(active);
  got.forEach((g, i) => assert.ok(relErr(g, ref[i]!) < 1e-5, `case ${i}`));
});
