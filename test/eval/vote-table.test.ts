// The vote-vs-mean table of `meddiff evaluate` is recomputed from the classifier's per-pair
// errors: at n = N it must give every image the classifier's own votePred and meanPred, tie
// rule included (an even N with two classes makes tied votes common).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from '../helpers.ts';
import { asModel, noisyImages } from '../oracle.ts';
import { DiffusionClassifier } from '../../src/classify/index.ts';
import { createDenoiser } from '../../src/models/index.ts';
import { aggregateFirstPairs, voteVsMeanTable } from '../../src/eval/index.ts';

before(setup);

test("the table at n = N gives every image the classifier's votePred and meanPred, tied votes included", () => {
  const model = createDenoiser({ preset: 'tiny' }, 3);
  tf.tidy(() => { for (const v of model.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', 9))); });
  const count = 16, N = 4;
  const { images, labels } = noisyImages(count);
  const results = new DiffusionClassifier(asModel(model), { n: N, keepErrors: true, earlyStop: 'off', seed: 5 }).classify(images, count);
  model.dispose();
  const K = 2;
  const tied = results.filter((r) => r.votes[0] === r.votes[1]);
  // the tie rule is exercised both ways: tied images whose lower mean error is class 1, and class 0
  assert.ok(tied.some((r) => r.votePred === 1) && tied.some((r) => r.votePred === 0), `ties broken both ways: ${tied.map((r) => r.votePred)} (votes ${results.map((r) => r.votes.join(':'))})`);
  results.forEach((r, i) => {
    assert.equal(r.pairsUsed, N);
    const a = aggregateFirstPairs(r.errors!, K, N);
    assert.deepEqual(a.votes, r.votes, `image ${i}: votes`);
    assert.equal(a.votePred, r.votePred, `image ${i}: vote`);
    assert.equal(a.meanPred, r.meanPred, `image ${i}: mean`);
    // the table itself, per image: labelled with the classifier's answer it is right at n = N, labelled otherwise wrong
    for (const [label, acc] of [[r.votePred, 1], [1 - r.votePred, 0]] as const) {
      assert.equal(voteVsMeanTable([{ errors: r.errors!, label }], K).at(-1)!.voteAccuracy, acc, `image ${i}: table vote with label ${label}`);
    }
    for (const [label, acc] of [[r.meanPred, 1], [1 - r.meanPred, 0]] as const) {
      assert.equal(voteVsMeanTable([{ errors: r.errors!, label }], K).at(-1)!.meanAccuracy, acc, `image ${i}: table mean with label ${label}`);
    }
  });
  const table = voteVsMeanTable(results.map((r, i) => ({ errors: r.errors!, label: labels[i]! })), K);
  const last = table.at(-1)!;
  assert.equal(last.n, N);
  assert.equal(last.voteAccuracy, results.filter((r, i) => r.votePred === labels[i]).length / count);
  assert.equal(last.meanAccuracy, results.filter((r, i) => r.meanPred === labels[i]).length / count);
});
