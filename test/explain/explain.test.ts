import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from '../helpers.ts';
import { S, oracle, asModel, noisyImages, templates } from '../oracle.ts';
import { counterfactuals, explainImages, differenceMap, proximity, explanationGridPng, validateExplainConfig } from '../../src/explain/index.ts';
import { createDenoiser } from '../../src/models/index.ts';

before(setup);

test('with an oracle denoiser the counterfactual becomes the target class, flips and shows the difference', () => {
  const m = oracle();
  const { images } = noisyImages(4);
  const es = explainImages(asModel(m), images, 4, { explain: { steps: 6, guidance: 0 }, classify: { n: 9 } });
  const t = templates();
  for (const [i, e] of es.entries()) {
    assert.equal(e.factual, i % 2);
    assert.equal(e.target, 1 - (i % 2));
    assert.ok(e.flipped, `image ${i} should flip`);
    // the counterfactual is (close to) the other template: its mean |Δ| to the input is large
    let err = 0;
    for (let j = 0; j < S * S; j++) err += Math.abs(e.reconstructions[e.target]![j]! - t[e.target]![j]!);
    assert.ok(err / (S * S) < 0.05, `counterfactual off its template by ${err / (S * S)}`);
    assert.ok(e.proximity.meanAbsDiff > 0.5);
    // signed map: left/right halves swap, so the difference has both signs
    assert.ok(e.signed && Math.min(...e.difference) < -0.5 && Math.max(...e.difference) > 0.5);
  }
  m.dispose();
});

test('explanations follow the calibrated decision: factual, target and the flip check use the threshold', () => {
  const m = oracle();
  const { images } = noisyImages(2);
  // a threshold no share can reach: class 0 is never the answer, so both images are explained as class 1
  const es = explainImages(asModel(m), images, 2, { explain: { steps: 2, guidance: 0 }, classify: { n: 5, decisionThreshold: { positive: 0, threshold: 1.000001 } } });
  for (const e of es) {
    assert.equal(e.factual, 1);
    assert.equal(e.target, 0);
    assert.equal(e.counterfactualPrediction.predicted, 1);
    assert.equal(e.flipped, false, 'the flip check applies the same threshold');
  }
  assert.equal(es[0]!.prediction.votePred, 0, 'the plain vote still says class 0 for image 0');
  m.dispose();
});

test('the counterfactual starts from the modality default or the given t, and says which', () => {
  const m = oracle();
  const { images } = noisyImages(1);
  const run = (o: Parameters<typeof explainImages>[3]) => explainImages(asModel(m), images, 1, { ...o, explain: { steps: 2, ...o!.explain } })[0]!;
  assert.equal(run({ classify: { n: 3, tRange: [0.65, 1] } }).tExplain, 0.5);
  assert.equal(run({ classify: { n: 3 }, explain: { tExplain: 0.4 } }).tExplain, 0.4);
  m.dispose();
});

test('counterfactuals are deterministic for a seed and independent of the chunk size', () => {
  const model = createDenoiser({ preset: 'tiny' }, 4);
  tf.tidy(() => { for (const v of model.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 5))); });
  const { images } = noisyImages(3);
  const cfg = { steps: 3, seed: 7 };
  const a = counterfactuals(asModel(model), images, 3, cfg), b = counterfactuals(asModel(model), images, 3, cfg, undefined, 2);
  const c = counterfactuals(asModel(model), images, 3, { ...cfg, seed: 8 });
  for (let i = 0; i < 3; i++) for (let k = 0; k < 2; k++) {
    const x = a[i]!.reconstructions[k]!, y = b[i]!.reconstructions[k]!;
    for (let j = 0; j < x.length; j++) assert.ok(Math.abs(x[j]! - y[j]!) < 1e-5);
  }
  assert.notDeepEqual([...a[0]!.reconstructions[0]!], [...c[0]!.reconstructions[0]!]);
  model.dispose();
});

test('ancestral (--quality full) counterfactuals do not depend on the chunk size, and classes of an image share the step noise', () => {
  const model = createDenoiser({ preset: 'tiny' }, 4);
  tf.tidy(() => { for (const v of model.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 5))); });
  const { images } = noisyImages(3);
  const cfg = { steps: 3, seed: 7, sampler: 'ancestral' as const };
  const one = counterfactuals(asModel(model), images, 3, cfg, undefined, 1), all = counterfactuals(asModel(model), images, 3, cfg, undefined, 3);
  for (let i = 0; i < 3; i++) for (let k = 0; k < 2; k++) {
    assert.deepEqual([...one[i]!.reconstructions[k]!], [...all[i]!.reconstructions[k]!], `image ${i}, class ${k}: chunk 1 and chunk 3 differ`);
  }
  // the step noise matters (it is not DDIM in disguise)
  const ddim = counterfactuals(asModel(model), images, 3, { ...cfg, sampler: 'ddim' });
  assert.ok(ddim.some((d, i) => d.reconstructions.some((r, k) => r.some((v, j) => v !== one[i]!.reconstructions[k]![j]))));
  // a denoiser blind to the class: every class of an image must then get the very same reconstruction
  const blind: typeof model = {
    config: model.config, params: model.params, nullClass: model.nullClass, parameterCount: () => 0, dispose: () => {},
    apply: (z, lam, y) => tf.tidy(() => model.apply(z, lam, tf.zerosLike(y))),
  };
  for (const cf of counterfactuals(asModel(blind), images, 3, { ...cfg, guidance: 0 }, undefined, 2)) {
    assert.deepEqual([...cf.reconstructions[1]!], [...cf.reconstructions[0]!], 'the classes of one image saw different step noise');
  }
  model.dispose();
});

test('difference maps, proximity and the panel grid', async () => {
  assert.deepEqual([...differenceMap(Float32Array.of(0, 1), Float32Array.of(0.5, -1), 1)], [0.5, -2]);
  assert.deepEqual([...differenceMap(Float32Array.of(0, 0, 0, 1, 1, 1), Float32Array.of(0.3, -0.3, 0, 1, 1, 0.7), 3)].map((v) => +v.toFixed(4)), [0.2, 0.1]);
  const p = proximity(Float32Array.of(0, 0, 0, 0), Float32Array.of(0.05, 0.2, -0.5, 0));
  assert.ok(Math.abs(p.meanAbsDiff - 0.1875) < 1e-7);
  assert.equal(p.fractionChanged, 0.5);
  const m = oracle();
  const es = explainImages(asModel(m), noisyImages(1).images, 1, { explain: { steps: 2 }, classify: { n: 3 } });
  const png = await explanationGridPng(es);
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  m.dispose();
});

test('bad explanation settings are refused with the argument named', () => {
  assert.throws(() => validateExplainConfig({ tExplain: 1.2 }, 1), /--t must be in \(0, 1\)/);
  assert.throws(() => validateExplainConfig({ guidance: -1 }, 1), /--cfg \(guidance\) must be ≥ 0/);
  assert.throws(() => validateExplainConfig({ steps: 0 }, 1), /--steps must be a positive integer/);
  assert.equal(validateExplainConfig({}, 3).tExplain, 0.3);
  const m = oracle();
  assert.throws(() => explainImages(asModel(m), noisyImages(1).images, 1, { target: 5 }), /target class 5 out of range/);
  m.dispose();
});
