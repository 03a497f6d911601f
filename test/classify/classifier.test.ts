import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from '../helpers.ts';
import { DiffusionClassifier, shouldStopEarly } from '../../src/classify/index.ts';
import { createDenoiser } from '../../src/models/index.ts';

before(setup);

import { S, oracle, asModel, noisyImages } from '../oracle.ts';

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
    // unanimous: shares 1 and 0, vote entropy 0
    assert.deepEqual(x.shares, x.votes.map((v) => v / 11));
    assert.deepEqual([...x.shares].sort(), [0, 1]);
    assert.equal(x.entropy, 0);
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
  // shares and the normalised vote entropy follow from the votes (split votes here: entropy > 0)
  for (const x of a) {
    assert.deepEqual(x.shares, x.votes.map((v) => v / 7));
    const h = -x.shares.reduce((s, p) => (p > 0 ? s + p * Math.log(p) : s), 0) / Math.log(2);
    assert.ok(Math.abs(x.entropy - h) < 1e-12, `entropy ${x.entropy}, expected ${h}`);
  }
  assert.ok(a.some((x) => x.entropy > 0), `some split vote: ${a.map((x) => x.votes.join(':'))}`);
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

test("early stopping 'paired': the classifier applies the rule to each image's first pairs, keeping the decisions on a seeded set", () => {
  const m = oracle();
  const { images } = noisyImages(6);
  const full = new DiffusionClassifier(asModel(m), { n: 41 }).classify(images, 6);
  const early = new DiffusionClassifier(asModel(m), { n: 41, earlyStop: 'paired' }).classify(images, 6);
  assert.deepEqual(early.map((x) => x.votePred), full.map((x) => x.votePred));
  const used = early.reduce((s, x) => s + x.forwardPasses, 0), all = full.reduce((s, x) => s + x.forwardPasses, 0);
  assert.ok(used <= all / 3, `'paired' used ${used} of ${all} passes`);
  // a tiny random model with a calibrated threshold: split votes, so images stop at different points
  const model = createDenoiser({ preset: 'tiny' }, 2);
  tf.tidy(() => { for (const v of model.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 7))); });
  const count = 10, n = 31;
  const x = noisyImages(count).images;
  const plain = new DiffusionClassifier(asModel(model), { n }).classify(x, count);
  const s0 = plain.map((r) => r.shares[0]!).sort((a, b) => a - b);
  const cfg = { n, decisionThreshold: { positive: 0, threshold: (s0[4]! + s0[5]!) / 2 }, earlyStop: 'paired' as const, alpha: 0.05, minPairs: 4, chunk: 2 };
  const ref = new DiffusionClassifier(asModel(model), { ...cfg, earlyStop: 'off' }).classify(x, count);
  const paired = new DiffusionClassifier(asModel(model), cfg);
  const got = paired.classify(x, count);
  for (const [i, r] of got.entries()) {
    // the first stop of the rule on the full run's errors, checked every chunk pairs
    let k = 0;
    do k = Math.min(n, k + 2); while (!shouldStopEarly(ref[i]!.errors!, k, 2, paired.cfg));
    assert.equal(r.pairsUsed, k, `image ${i}`);
  }
  const agree = got.filter((r, i) => r.predicted === ref[i]!.predicted && r.votePred === ref[i]!.votePred).length;
  assert.ok(agree >= count - 1, `${agree} of ${count} decisions kept`);
  assert.ok(got.some((r) => r.pairsUsed < n) && got.some((r) => r.pairsUsed > 4), `pairs used ${got.map((r) => r.pairsUsed)}`);
  model.dispose();
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
  // a class list that does not match the denoiser is rejected by the pipeline, and by the classifier
  // for a pipeline whose class list was changed after it was built
  assert.throws(() => asModel(m, ['a', 'b', 'c']), /lists 3 classes for a model with numClasses = 2/);
  const relabelled = Object.create(asModel(m), { classNames: { value: ['a', 'b', 'c'] } }) as ReturnType<typeof asModel>;
  assert.throws(() => new DiffusionClassifier(relabelled), /null class/);
  m.dispose();
});

test('every class of an image sees the same noise: a class-blind denoiser gives identical errors across each row', () => {
  const model = createDenoiser({ preset: 'tiny' }, 2);
  tf.tidy(() => { for (const v of model.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 3))); });
  const blind = { ...model, nullClass: model.nullClass, config: model.config, params: model.params, parameterCount: () => 0, dispose: () => {},
    apply: (z: tf.Tensor, l: tf.Tensor, y: tf.Tensor) => model.apply(z, l, tf.zerosLike(y)) };
  const { images } = noisyImages(2);
  const r = new DiffusionClassifier(asModel(blind), { n: 5 }).classify(images, 2);
  for (const x of r) {
    for (let k = 0; k < 5; k++) assert.ok(Math.abs(x.errors![2 * k]! - x.errors![2 * k + 1]!) <= 1e-6 * Math.abs(x.errors![2 * k]!), `pair ${k}`);
    assert.deepEqual(x.votes, [5, 0]); // exact ties go to the lower class index
  }
  model.dispose();
});

test('tRange draws every pair inside the window and reports each pair time; [0, 1] keeps the default stream', () => {
  const m = oracle();
  const { images } = noisyImages(3);
  const full = new DiffusionClassifier(asModel(m), { n: 9 }).classify(images, 3);
  const same = new DiffusionClassifier(asModel(m), { n: 9, tRange: [0, 1] }).classify(images, 3);
  const win = new DiffusionClassifier(asModel(m), { n: 9, tRange: [0.25, 0.5] }).classify(images, 3);
  for (let i = 0; i < 3; i++) {
    assert.equal(full[i]!.times!.length, 9);
    assert.deepEqual([...same[i]!.times!], [...full[i]!.times!]);
    assert.ok(win[i]!.times!.every((t) => t >= 0.25 && t <= 0.5), `times ${[...win[i]!.times!]}`);
    // same uniform draws, mapped linearly into the window
    for (let k = 0; k < 9; k++) assert.ok(Math.abs(win[i]!.times![k]! - (0.25 + 0.25 * full[i]!.times![k]!)) < 1e-6);
  }
  m.dispose();
});

test('mirror: odd pairs see the mirrored image with the same noise stream; a mirror-symmetric image gives identical errors', () => {
  const model = createDenoiser({ preset: 'tiny' }, 2);
  tf.tidy(() => { for (const v of model.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 3))); });
  const { images } = noisyImages(2);
  const symmetric = Float32Array.from(images.subarray(0, S * S));
  for (let y = 0; y < S; y++) for (let x = 0; x < S / 2; x++) symmetric[y * S + (S - 1 - x)] = symmetric[y * S + x]!;
  const both = new Float32Array(2 * S * S);
  both.set(symmetric, 0); both.set(images.subarray(S * S, 2 * S * S), S * S);
  const plain = new DiffusionClassifier(asModel(model), { n: 6 }).classify(both, 2);
  const mirrored = new DiffusionClassifier(asModel(model), { n: 6, mirror: true }).classify(both, 2);
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.abs(a) + 1e-7;
  // image 0 is its own mirror: every pair is unchanged
  for (let j = 0; j < 12; j++) assert.ok(close(plain[0]!.errors![j]!, mirrored[0]!.errors![j]!), `symmetric image, entry ${j}`);
  // image 1: even pairs are the same; odd pairs see another image, so their errors move
  let oddMoved = 0;
  for (let k = 0; k < 6; k++) {
    for (let c = 0; c < 2; c++) {
      const a = plain[1]!.errors![2 * k + c]!, b = mirrored[1]!.errors![2 * k + c]!;
      if (k % 2 === 0) assert.ok(close(a, b), `pair ${k} class ${c}`);
      else if (!close(a, b)) oddMoved++;
    }
  }
  assert.ok(oddMoved >= 4, `${oddMoved} odd-pair errors moved`);
  assert.deepEqual([...mirrored[1]!.times!], [...plain[1]!.times!]);
  assert.throws(() => new DiffusionClassifier(asModel(model), { mirror: 'yes' as never }), /'mirror' must be true or false/);
  model.dispose();
});

test("a calibrated decisionThreshold sets 'predicted' and early stopping keeps that decision, not the majority", () => {
  const model = createDenoiser({ preset: 'tiny' }, 2);
  // seed 7: class 0 leads every image by 15–21 votes of 21, so a threshold far above 1/2 matters
  tf.tidy(() => { for (const v of model.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 7))); });
  const count = 8, n = 21;
  const { images } = noisyImages(count);
  const plain = new DiffusionClassifier(asModel(model), { n }).classify(images, count);
  // a threshold between two observed shares of class 0, so it changes some decisions
  const s0 = [...new Set(plain.map((r) => r.shares[0]!))].sort((a, b) => a - b);
  assert.ok(s0.length >= 2, `shares ${s0}`);
  const mid = Math.floor(s0.length / 2);
  const thr = { positive: 0, threshold: (s0[mid - 1]! + s0[mid]!) / 2 };
  const full = new DiffusionClassifier(asModel(model), { n, decisionThreshold: thr }).classify(images, count);
  for (const [i, r] of full.entries()) {
    assert.equal(r.predicted, r.shares[0]! >= thr.threshold ? 0 : 1, `image ${i}`);
    assert.equal(r.votePred, plain[i]!.votePred, 'votePred stays the plain majority');
  }
  for (const rule of ['decided', 'confident', 'paired'] as const) {
    const early = new DiffusionClassifier(asModel(model), { n, decisionThreshold: thr, earlyStop: rule, chunk: 2, minPairs: 4, alpha: rule === 'decided' ? 1e-3 : 1e-9 }).classify(images, count);
    assert.deepEqual(early.map((r) => r.predicted), full.map((r) => r.predicted), rule);
    if (rule === 'decided') assert.deepEqual(early.map((r) => r.votePred), full.map((r) => r.votePred), 'the plain majority is kept too');
  }
  // the plain 'decided' rule stops once the majority is safe, which can flip the thresholded decision
  const naive = new DiffusionClassifier(asModel(model), { n, earlyStop: 'decided', chunk: 2 }).classify(images, count);
  assert.ok(naive.some((r, i) => (r.shares[0]! >= thr.threshold ? 0 : 1) !== full[i]!.predicted), 'this case must tell the two stopping rules apart');
  assert.throws(() => new DiffusionClassifier(asModel(model), { decisionThreshold: { positive: 0, threshold: 2 } }), /'decisionThreshold' must be null or/);
  model.dispose();
  const m3 = createDenoiser({ preset: 'tiny', numClasses: 3 }, 2);
  assert.throws(() => new DiffusionClassifier(asModel(m3, ['a', 'b', 'c']), { decisionThreshold: thr }), /needs a two-class model/);
  m3.dispose();
});
