// Staged class pruning and class offsets in the classifier, on a tiny random 5-class model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from '../helpers.ts';
import { DiffusionClassifier, validateClassifyConfig } from '../../src/classify/index.ts';
import { createDenoiser, type Denoiser } from '../../src/models/index.ts';
import { keptClasses, pairVote, prunedForwardPasses } from '../../src/stats/index.ts';
import { asModel, noisyImages } from '../oracle.ts';

const K = 5, NAMES = ['g0', 'g1', 'g2', 'g3', 'g4'];
let model: Denoiser;
before(async () => {
  await setup();
  model = createDenoiser({ preset: 'tiny', numClasses: K });
  // random weights so the classes disagree and the votes split
  tf.tidy(() => { for (const v of model.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 5))); });
});
after(() => model.dispose());

const run = (cfg: object, count = 6) => new DiffusionClassifier(asModel(model, NAMES), { n: 9, ...cfg }).classify(noisyImages(count).images, count);

test('prune with keep = K changes nothing: votes, errors and forward passes as without pruning', () => {
  for (const earlyStop of ['off', 'decided'] as const) {
    const plain = run({ earlyStop, chunk: 2 }), same = run({ earlyStop, chunk: 2, prune: { afterPairs: 3, keep: K } });
    assert.deepEqual(same.map((r) => [r.votes, [...r.errors!], r.forwardPasses, r.pairsUsed]), plain.map((r) => [r.votes, [...r.errors!], r.forwardPasses, r.pairsUsed]), earlyStop);
  }
});

test('after afterPairs only the kept classes are evaluated, on the same (t, ε) pairs; passes are counted exactly', () => {
  const n = 9, afterPairs = 3, keep = 2;
  const full = run({ n }), pruned = run({ n, prune: { afterPairs, keep } });
  assert.ok(full.some((r) => r.votes.filter((v) => v > 0).length > 2), 'votes split over several classes');
  full.forEach((f, i) => {
    const p = pruned[i]!;
    const kept = keptClasses(f.errors!, K, afterPairs, keep);
    assert.deepEqual(p.keptClasses, kept);
    assert.equal(p.forwardPasses, prunedForwardPasses(n, K, { afterPairs, keep }));
    assert.equal(p.forwardPasses, afterPairs * K + (n - afterPairs) * keep);
    const votes = new Array<number>(K).fill(0);
    for (let k = 0; k < n; k++) {
      for (let c = 0; c < K; c++) {
        const e = p.errors![k * K + c]!, ref = f.errors![k * K + c]!;
        if (k < afterPairs || kept.includes(c)) assert.ok(Math.abs(e - ref) <= 1e-5 * Math.abs(ref) + 1e-7, `image ${i} pair ${k} class ${c}: ${e} vs ${ref}`);
        else assert.ok(Number.isNaN(e), `image ${i} pair ${k}: pruned class ${c} not evaluated`);
      }
      // a pair votes among the classes evaluated on it
      let best = -1;
      for (const c of k < afterPairs ? [0, 1, 2, 3, 4] : kept) if (best < 0 || f.errors![k * K + c]! < f.errors![k * K + best]!) best = c;
      votes[best]!++;
      assert.equal(pairVote(p.errors!, k, K), best);
    }
    assert.deepEqual(p.votes, votes);
    assert.deepEqual(p.shares, votes.map((v) => v / n));
    const H = -p.shares.reduce((acc, q) => (q > 0 ? acc + q * Math.log(q) : acc), 0) / Math.log(K);
    assert.ok(Math.abs(p.entropy - H) < 1e-12, 'entropy ÷ log K over all five classes');
    // the mean decision is among the kept classes, the lowest of their means over all n pairs
    assert.ok(kept.includes(p.meanPred));
    assert.ok(kept.every((c) => p.meanErrors[c]! >= p.meanErrors[p.meanPred]!));
    // a pruned class keeps its mean over the first pairs
    for (let c = 0; c < K; c++) if (!kept.includes(c)) {
      let s = 0;
      for (let k = 0; k < afterPairs; k++) s += f.errors![k * K + c]!;
      assert.ok(Math.abs(p.meanErrors[c]! - s / afterPairs) < 1e-6);
    }
  });
  // a batch of 7 rows (tasks of 5 and 2 rows mixed) gives the same results
  const small = run({ n, prune: { afterPairs, keep }, batchSize: 7 });
  assert.deepEqual(small.map((r) => r.votes), pruned.map((r) => r.votes));
});

test("early stopping with pruning: 'decided' never changes the pruned run's vote and counts the passes it spent", () => {
  const cfg = { n: 15, prune: { afterPairs: 3, keep: 2 } };
  const all = run(cfg, 8), early = run({ ...cfg, earlyStop: 'decided', chunk: 2 }, 8);
  assert.deepEqual(early.map((r) => r.votePred), all.map((r) => r.votePred));
  for (const r of early) assert.equal(r.forwardPasses, prunedForwardPasses(r.pairsUsed, K, cfg.prune));
  assert.ok(early.some((r) => r.pairsUsed < 15), `some image stops early: ${early.map((r) => r.pairsUsed)}`);
  // the mean rule with 'paired' compares the kept classes only, so it can stop (NaN columns are skipped)
  const mean = run({ ...cfg, aggregate: 'mean', earlyStop: 'paired', minPairs: 4, alpha: 0.5 }, 8);
  for (const r of mean) assert.equal(r.forwardPasses, prunedForwardPasses(r.pairsUsed, K, cfg.prune));
});

test('class offsets decide with aggregate vote; early stopping keeps the offset decision', () => {
  const plain = run({ n: 11 }, 8);
  const big = run({ n: 11, classOffsets: [0, 0, 0, 2, 0] }, 8);
  assert.ok(big.every((r) => r.predicted === 3));
  assert.deepEqual(big.map((r) => r.votePred), plain.map((r) => r.votePred), 'votePred stays the plain majority');
  const offsets = [0, 0.1, -0.1, 0.05, 0];
  const full = run({ n: 11, classOffsets: offsets }, 8), early = run({ n: 11, classOffsets: offsets, earlyStop: 'decided', chunk: 1 }, 8);
  assert.deepEqual(early.map((r) => r.predicted), full.map((r) => r.predicted));
  assert.deepEqual(early.map((r) => r.votePred), full.map((r) => r.votePred));
  assert.throws(() => run({ classOffsets: [0, 1] }), /'classOffsets' has 2 values; this model has 5 classes/);
});

test('config: prune and classOffsets are validated with the field named', () => {
  assert.deepEqual(validateClassifyConfig({ prune: { afterPairs: 4, keep: 2 } }).prune, { afterPairs: 4, keep: 2 });
  assert.throws(() => validateClassifyConfig({ prune: { afterPairs: 0, keep: 2 } }), /'prune' must be null or \{ afterPairs: an integer ≥ 1, keep: an integer ≥ 1 \}/);
  assert.throws(() => validateClassifyConfig({ prune: { afterPairs: 2, keep: 1.5 } }), /'prune'/);
  assert.throws(() => validateClassifyConfig({ classOffsets: [0, NaN, 1] }), /'classOffsets' must be null or one finite number per class/);
  assert.throws(() => validateClassifyConfig({ classOffsets: [0, 0], decisionThreshold: { positive: 1, threshold: 0.5 } }), /set one of them/);
});
