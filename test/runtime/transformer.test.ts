// The DiT's fused kernels (adaLN LayerNorm, GELU, gated residual) against tfjs-cpu's composite ops, value and
// gradients, on the active backend (native code, or the JS loops on pure wasm); and the shared
// Identity / same-dtype Cast that keep tfjs's saved-for-backward tensors from being copied.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { relErr, setup, tf } from '../helpers.ts';
import { adaLayerNorm, gatedAdd, gelu } from '../../src/runtime/index.ts';

let active = 'wasm';
before(async () => { active = (await setup()).tfBackend; });

/** y and the gradients of Σ y·r w.r.t. every input, on the current backend. */
function run(shape: number[], modulated: boolean, withGelu: boolean, seed: number) {
  const d = shape[shape.length - 1]!, b = shape[0]!;
  return tf.tidy(() => {
    const x = tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), 3), 0.5);
    const sh = tf.randomNormal([b, d], 0, 0.5, 'float32', seed + 1), sc = tf.randomNormal([b, d], 0, 0.5, 'float32', seed + 2);
    const r = tf.randomNormal(shape, 0, 1, 'float32', seed + 3);
    const f = (xx: tf.Tensor, s1?: tf.Tensor, s2?: tf.Tensor) => {
      const y = adaLayerNorm(xx, modulated ? s1! : null, modulated ? s2! : null, 1e-6);
      return withGelu ? gelu(y) : y;
    };
    const loss = (...a: tf.Tensor[]) => tf.sum(tf.mul(f(...(a as [tf.Tensor, tf.Tensor?, tf.Tensor?])), r));
    const grads = tf.grads(loss)(modulated ? [x, sh, sc] : [x]);
    return [f(x, sh, sc), ...grads].map((t) => t.dataSync().slice());
  });
}

for (const shape of [[2, 5, 24], [3, 16, 384], [2, 3, 4, 8], [1, 1, 4], [64, 16, 16]]) {
  for (const [modulated, withGelu] of [[true, false], [false, false], [true, true]] as const) {
    const what = `${modulated ? 'adaLN' : 'LayerNorm'}${withGelu ? ' → GELU' : ''} ${JSON.stringify(shape)}`;
    test(`fused ${what} matches the composite cpu reference (value and gradients)`, async () => {
      const got = run(shape, modulated, withGelu, 5);
      await tf.setBackend('cpu');
      const ref = run(shape, modulated, withGelu, 5);
      await tf.setBackend(active);
      const names = ['y', 'dx', 'dshift', 'dscale'];
      got.forEach((g, i) => assert.ok(relErr(g, ref[i]!) < 2e-5, `${names[i]}: rel err ${relErr(g, ref[i]!)}`));
    });
  }
}

for (const shape of [[2, 5, 24], [3, 16, 384], [2, 3, 4, 8], [64, 1, 16]]) {
  test(`fused gated residual ${JSON.stringify(shape)} matches the composite cpu reference (value and gradients)`, async () => {
    const f = () => tf.tidy(() => {
      const d = shape[shape.length - 1]!;
      const x = tf.randomNormal(shape, 0, 1, 'float32', 1), g = tf.randomNormal([shape[0]!, d], 0, 1, 'float32', 2), h = tf.randomNormal(shape, 0, 2, 'float32', 3);
      const r = tf.randomNormal(shape, 0, 1, 'float32', 4);
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(gatedAdd(a, b, c), r)))([x, g, h]);
      return [gatedAdd(x, g, h), ...grads].map((t) => t.dataSync().slice());
    });
    const got = f();
    await tf.setBackend('cpu');
    const ref = f();
    await tf.setBackend(active);
    ['y', 'dx', 'dgate', 'dh'].forEach((n, i) => assert.ok(relErr(got[i]!, ref[i]!) < 2e-6, `${n}: rel err ${relErr(got[i]!, ref[i]!)}`));
  });
}

test('GELU is the tanh approximation, also far into both tails', async () => {
  const xs = [-12, -9.5, -5, -3, -1, -1e-3, 0, 1e-3, 0.5, 1, 3, 8.9, 12];
  const y = gelu(tf.tensor1d(xs)).dataSync();
  xs.forEach((x, i) => {
    const want = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    assert.ok(Math.abs(y[i]! - want) <= 1e-6 * Math.max(1, Math.abs(want)), `gelu(${x}) = ${y[i]}, want ${want}`);
  });
});

test('adaLayerNorm refuses modulation of the wrong shape', () => {
  const x = tf.zeros([2, 3, 8]);
  if (active === 'wasm') assert.throws(() => adaLayerNorm(x, tf.zeros([3, 8]), tf.zeros([3, 8])), /shift and scale must be \[B, D\] with B = 2/);
  x.dispose();
});

test('fused LayerNorm, GELU and gated residual leak no tensors through a gradient step', () => {
  const x = tf.randomNormal([2, 4, 8]), s = tf.variable(tf.zeros([2, 8])), c = tf.variable(tf.zeros([2, 8]));
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => tf.sum(gatedAdd(x, s, gelu(adaLayerNorm(x, s, c)))) as tf.Scalar, [s, c]);
  value.dispose(); tf.dispose(Object.values(grads));
  tf.tidy(() => { gelu(adaLayerNorm(x, null, null)); });
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x, s, c]);
});

test('Identity and same-dtype Cast share the data; the copy outlives its source; other casts convert', () => {
  const x = tf.tensor1d([1.5, -2, 3]);
  const c = tf.clone(x), f = tf.cast(x, 'float32'), i = tf.cast(x, 'int32'), b = tf.cast(tf.tensor1d([0, 2], 'int32'), 'float32');
  x.dispose();
  assert.deepEqual([...c.dataSync()], [1.5, -2, 3]);
  assert.deepEqual([...f.dataSync()], [1.5, -2, 3]);
  assert.deepEqual([...i.dataSync()], [1, -2, 3]);
  assert.equal(i.dtype, 'int32');
  assert.deepEqual([...b.dataSync()], [0, 2]);
  assert.equal(b.dtype, 'float32');
  const s = tf.clone(tf.tensor1d(['a', 'b'], 'string'));
  assert.deepEqual(s.dataSync(), ['a', 'b']);
  // a variable's saved value stays what it was when the variable is reassigned
  const v = tf.variable(tf.tensor1d([1, 2]));
  const kept = tf.clone(v);
  v.assign(tf.tensor1d([5, 6]));
  assert.deepEqual([...kept.dataSync()], [1, 2]);
  tf.dispose([c, f, i, b, s, v, kept]);
});
