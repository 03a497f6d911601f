import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from '../../src/runtime/index.ts';
import { haarForward, haarInverse, randomNormal } from '../../src/diffusion/index.ts';
import { Rng } from '../../src/util/index.ts';
import { close, maxAbsDiff, ready } from './helpers.ts';

await ready;

test('hand-computed 2×2 blocks and channel order [LL, LH, HL, HH]', () => {
  tf.tidy(() => {
    // Block [[1, 2], [3, 4]]: LL = 5, LH = (1+2−3−4)/2 = −2, HL = (1−2+3−4)/2 = −1, HH = 0.
    const one = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    assert.deepEqual(Array.from(haarForward(one).dataSync()), [5, -2, -1, 0]);
    assert.deepEqual(Array.from(haarForward(one, { scale: 'half' }).dataSync()), [2.5, -1, -0.5, 0]);
    // Two channels (second = 10× first): all C of LL first, then all C of LH, ...
    const two = tf.tensor4d([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]);
    assert.deepEqual(Array.from(haarForward(two).dataSync()), [5, 50, -2, -20, -1, -10, 0, 0]);
    // 4×4 ramp x[h][w] = 4h + w: block (i, j) has a = 8i + 2j, so LL = 2a + 5, LH = −4, HL = −1, HH = 0.
    const ramp = haarForward(tf.range(0, 16).reshape([1, 4, 4, 1]) as tf.Tensor4D);
    assert.deepEqual(ramp.shape, [1, 2, 2, 4]);
    assert.deepEqual(ramp.arraySync(), [[[[5, -4, -1, 0], [9, -4, -1, 0]], [[21, -4, -1, 0], [25, -4, -1, 0]]]]);
  });
});

test('round trip is exact and the orthonormal version preserves energy', () => {
  const before = tf.memory().numTensors;
  tf.tidy(() => {
    const x = randomNormal<tf.Rank.R4>([2, 6, 8, 3], new Rng(11));
    const y = haarForward(x);
    assert.deepEqual(y.shape, [2, 3, 4, 12]);
    assert.ok(maxAbsDiff(haarInverse(y), x) < 1e-6, 'orthonormal round trip');
    const ex = tf.sum(tf.square(x)).dataSync()[0]!, ey = tf.sum(tf.square(y)).dataSync()[0]!;
    close(ey / ex, 1, 1e-5, 'energy ratio');
    const yh = haarForward(x, { scale: 'half' });
    assert.ok(maxAbsDiff(haarInverse(yh, { scale: 'half' }), x) < 1e-6, 'half round trip');
    close(tf.sum(tf.square(yh)).dataSync()[0]! / ex, 0.25, 1e-5, 'half scale energy');
    // Inputs in [−1, 1] stay in [−1, 1] with the official extra /2.
    const u = tf.sub(tf.mul(tf.tensor(new Rng(2).uniforms(2 * 8 * 8), [2, 8, 8, 1]), 2), 1) as tf.Tensor4D;
    assert.ok(tf.max(tf.abs(haarForward(u, { scale: 'half' }))).dataSync()[0]! <= 1);
  });
  assert.equal(tf.memory().numTensors, before, 'no leaks');
});

test('errors: odd sizes, bad channel count, bad scale', () => {
  tf.tidy(() => {
    assert.throws(() => haarForward(tf.zeros([1, 3, 4, 1]) as tf.Tensor4D), /height and width must be even, got 3×4/);
    assert.throws(() => haarForward(tf.zeros([1, 4, 5, 1]) as tf.Tensor4D), /must be even/);
    assert.throws(() => haarInverse(tf.zeros([1, 2, 2, 3]) as tf.Tensor4D), /multiple of 4/);
    assert.throws(() => haarForward(tf.zeros([1, 2, 2, 1]) as tf.Tensor4D, { scale: 'quarter' as never }), /allowed: orthonormal, half/);
  });
});
