import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stratifiedSplit, balanceIndices, classCounts, loadMedMNIST } from '../../src/data/index.ts';
import { PNEUMONIA } from './helpers.ts';

test('split: stratified 80/10/10 on real labels, disjoint, complete and deterministic', async () => {
  const labels = (await loadMedMNIST(PNEUMONIA)).splits.train.labels; // 1214 normal, 3494 pneumonia
  const a = stratifiedSplit(labels, { seed: 7 });
  const seen = new Set<number>();
  for (const s of [a.train, a.val, a.test]) for (const i of s) { assert.ok(!seen.has(i)); seen.add(i); }
  assert.equal(seen.size, labels.length);
  assert.deepEqual(classCounts(labels, 2, a.val), [121, 349]);
  assert.deepEqual(classCounts(labels, 2, a.test), [121, 349]);
  assert.deepEqual(classCounts(labels, 2, a.train), [1214 - 242, 3494 - 698]);
  const b = stratifiedSplit(labels, { seed: 7 });
  assert.deepEqual(Array.from(a.val), Array.from(b.val));
  const c = stratifiedSplit(labels, { seed: 8 });
  assert.notDeepEqual(Array.from(a.val), Array.from(c.val));
  const d = stratifiedSplit(labels, { seed: 7, fractions: [0.5, 0.25, 0.25] });
  assert.deepEqual(classCounts(labels, 2, d.train), [606, 1746]);
  assert.throws(() => stratifiedSplit(labels, { fractions: [0.5, 0.5, 0.5] }), /sum to 1/);
});

test('split: balancing by under- and over-sampling is seeded', () => {
  const labels = Int32Array.from([0, 0, 0, 0, 0, 0, 0, 1, 1, 2]);
  const idx = Int32Array.from({ length: 10 }, (_, i) => i);
  const under = balanceIndices(idx, labels, 'undersample', 1);
  assert.deepEqual(classCounts(labels, 3, under), [1, 1, 1]);
  const over = balanceIndices(idx, labels, 'oversample', 1);
  assert.deepEqual(classCounts(labels, 3, over), [7, 7, 7]);
  assert.deepEqual(Array.from(balanceIndices(idx, labels, 'undersample', 1)), Array.from(under));
  const seeds = new Set(Array.from({ length: 10 }, (_, s) => balanceIndices(idx, labels, 'undersample', s)[0]));
  assert.ok(seeds.size > 1, 'different seeds pick different samples');
  assert.deepEqual(Array.from(balanceIndices(idx, labels, 'none')), Array.from(idx));
});
