// The out-of-distribution flag: a score from the classifier's own denoising errors, a threshold
// fitted on validation data, detection measured against other data.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup } from '../helpers.ts';
import { S, oracle, asModel, noisyImages } from '../oracle.ts';
import { oodScore, quantile, auroc } from '../../src/stats/index.ts';
import { classifyPixels } from '../../src/classify/index.ts';

before(setup);

test('quantile interpolates like numpy and oodScore is the lowest class mean error', () => {
  assert.equal(quantile([3, 1, 2, 4], 0), 1);
  assert.equal(quantile([3, 1, 2, 4], 1), 4);
  assert.equal(quantile([3, 1, 2, 4], 0.5), 2.5);
  assert.ok(Math.abs(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.98) - 9.82) < 1e-12);
  assert.throws(() => quantile([], 0.5), /no values/);
  assert.equal(oodScore([0.4, 0.2, 0.9]), 0.2);
});

test('with an oracle denoiser, images unlike both class templates score higher and are flagged', () => {
  const m = oracle();
  const p = asModel(m);
  try {
    const { images } = noisyImages(8);
    // other data: a centred bright square on black, which neither half-image template explains
    const other = new Float32Array(8 * S * S);
    for (let i = 0; i < 8; i++) {
      for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) other[i * S * S + y * S + x] = Math.abs(x - 16) < 6 + (i % 3) && Math.abs(y - 16) < 6 ? 0.8 : -0.8;
    }
    // pairs from t ≥ 0.2: the oracle's ε-error grows like 1/σ² as t → 0 for any image off its templates
    const inScores = classifyPixels(p, images, 8, { n: 9, tRange: [0.2, 1] }).results.map((r) => oodScore(r.meanErrors));
    p.calibration = {
      kind: 'vote-share-threshold', positive: 1, threshold: 0.5, fittedOn: { split: 'val', images: 8, n: 9, balancedAccuracy: 1, uncalibratedBalancedAccuracy: 1 },
      ood: { score: 'min-class-mean-error', threshold: quantile(inScores, 0.98), quantile: 0.98, fittedOn: { split: 'val', images: 8, n: 9, tRange: [0.2, 1], mirror: false } },
    };
    const inRes = classifyPixels(p, images, 8, { n: 9, tRange: [0.2, 1] }).results;
    const outRes = classifyPixels(p, other, 8, { n: 9, tRange: [0.2, 1] }).results;
    const outScores = outRes.map((r) => r.ood!.score);
    const labels = [...inScores.map(() => 0), ...outScores.map(() => 1)];
    assert.equal(auroc(labels, [...inScores, ...outScores], 1), 1, `in ${inScores} vs out ${outScores}`);
    assert.ok(outRes.every((r) => r.ood!.flagged), 'every unlike image is flagged');
    assert.ok(inRes.filter((r) => r.ood!.flagged).length <= 1, 'at most the top 2% of in-distribution images are flagged');
  } finally {
    p.dispose();
  }
});
