import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from '../helpers.ts';
import { DiffusionClassifier, type ClassifierModel } from '../../src/classify/index.ts';
import { createDenoiser, type Denoiser } from '../../src/models/index.ts';
import { validateScheduleConfig, alphaSigmaTensor, haarForward } from '../../src/diffusion/index.ts';

before(setup);

const S = 32;
const schedule = validateScheduleConfig({ kind: 'shifted-cosine', imageSize: 16 });

/** Two class templates: a bright left half and a bright right half. */
function templates(): Float32Array[] {
  return [0, 1].map((c) => Float32Array.from({ length: S * S }, (_, i) => ((i % S < S / 2) === (c === 0) ? 0.8 : -0.8)));
}

/**
 * A denoiser that "knows" each class's template: it predicts x̂₀ = template of the class asked
 * for (the null class gets their average). The classifier must then pick the matching template.
 */
function oracle(): Denoiser {
  const xs = tf.tidy(() => {
    const t = templates().map((a) => haarForward(tf.tensor4d(a, [1, S, S, 1])));
    return tf.concat([...t, tf.div(tf.add(t[0]!, t[1]!), 2)], 0); // [3, 16, 16, 4]
  });
  const model = createDenoiser({ preset: 'tiny' });
  return {
    config: model.config, params: model.params, nullClass: 2, parameterCount: () => 0, dispose: () => { xs.dispose(); model.dispose(); },
    apply(z, lam, classes) {
      return tf.tidy(() => {
        const x0 = tf.gather(xs, tf.cast(classes, 'int32'));
        const { alpha, sigma } = alphaSigmaTensor(tf.reshape(lam, [-1, 1, 1, 1]));
        const eps = tf.div(tf.sub(z, tf.mul(alpha, x0)), sigma);
        return tf.sub(tf.mul(alpha, eps), tf.mul(sigma, x0));
      });
    },
  };
}

const asModel = (model: Denoiser): ClassifierModel => ({ model, classNames: ['left', 'right'], imageSize: S, channels: 1, haarScale: 'orthonormal', schedule });

function noisyImages(count: number): { images: Float32Array; labels: number[] } {
  const t = templates();
  const images = new Float32Array(count * S * S);
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const c = i % 2;
    labels.push(c);
    for (let j = 0; j < S * S; j++) images[i * S * S + j] = t[c]![j]! + 0.3 * Math.sin(17 * i + j);
  }
  return { images, labels };
}

test('with an oracle denoiser the vote and the mean both find the right class', () => {
  const m = oracle();
  const { images, labels } = noisyImages(6);
  const r = new DiffusionClassifier(asModel(m), { n: 11 }).classify(images, 6);
  assert.deepEqual(r.map((x) => x.votePred), labels);
  assert.deepEqual(r.map((x) => x.meanPred), labels);
  for (const x of r) {
    assert.equal(x.pairsUsed, 11);
    assert.equal(x.forwardPasses, 22);
    assert.equal(x.votes.reduce((a, b) => a + b, 0), 11);
    assert.equal(x.errors!.length, 22);
    assert.ok(x.entropy >= 0 && x.entropy <= 1);
  }
  m.dispose();
});

test('deterministic for a seed, independent of batch size and of the other images', () => {
  const model = createDenoiser({ preset: 'tiny' }, 2);
  tf.tidy(() => { for (const v of model.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 3))); });
  const { images } = noisyImages(5);
  const run = (cfg: object, imgs = images, count = 5) => new DiffusionClassifier(asModel(model), { n: 7, ...cfg }).classify(imgs, count);
  const a = run({ batchSize: 256 }), b = run({ batchSize: 6 }), c = run({ seed: 1 });
  const single = run({}, images.slice(3 * S * S, 4 * S * S), 1);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(a[i]!.votes, b[i]!.votes);
    for (let j = 0; j < a[i]!.errors!.length; j++) assert.ok(Math.abs(a[i]!.errors![j]! - b[i]!.errors![j]!) <= 1e-5 * Math.abs(a[i]!.errors![j]!) + 1e-7);
  }
  assert.deepEqual(single[0]!.votes, a[3]!.votes);
  assert.notDeepEqual(a.map((x) => [...x.errors!]), c.map((x) => [...x.errors!]));
  model.dispose();
});

test("early stopping 'decided' saves passes and never changes the vote", () => {
  const m = oracle();
  const { images } = noisyImages(4);
  const full = new DiffusionClassifier(asModel(m), { n: 41 }).classify(images, 4);
  const early = new DiffusionClassifier(asModel(m), { n: 41, earlyStop: 'decided', chunk: 4 }).classify(images, 4);
  assert.deepEqual(early.map((x) => x.votePred), full.map((x) => x.votePred));
  const used = early.reduce((s, x) => s + x.forwardPasses, 0), all = full.reduce((s, x) => s + x.forwardPasses, 0);
  assert.ok(used < all / 1.5, `early stopping used ${used} of ${all} passes`);
  // a unanimous image stops as soon as the leader is out of reach: 21 of 41 pairs, in chunks of 4
  assert.ok(early.every((x) => x.pairsUsed <= 24));
  m.dispose();
});

test('classification leaks no tensors and rejects bad configs and shapes', () => {
  const m = oracle();
  const { images } = noisyImages(2);
  const c = new DiffusionClassifier(asModel(m), { n: 3 });
  c.classify(images, 2);
  const before = tf.memory().numTensors;
  c.classify(images, 2);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => c.classify(images.subarray(5), 2), /expected 2 images of 32×32×1/);
  assert.throws(() => new DiffusionClassifier(asModel(m), { n: 0 }), /'n' must be an integer ≥ 1/);
  assert.throws(() => new DiffusionClassifier(asModel(m), { aggregate: 'median' as never }), /'aggregate' must be one of vote, mean/);
  assert.throws(() => new DiffusionClassifier({ ...asModel(m), classNames: ['a', 'b', 'c'] }), /null class/);
  m.dispose();
});
