import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadMedMNIST, medmnistStem, classCounts, writeNpz, MEDMNIST_CLASSES } from '../../src/data/index.ts';
import { PNEUMONIA, BREAST, tempDir } from './helpers.ts';

// Counts from data/MANIFEST.txt (computed with numpy from the official archives).
const EXPECTED = {
  [PNEUMONIA]: { classes: ['normal', 'pneumonia'], train: [1214, 3494], val: [135, 389], test: [234, 390] },
  [BREAST]: { classes: ['malignant', 'normal+benign'], train: [147, 399], val: [21, 57], test: [42, 114] },
};

for (const [path, exp] of Object.entries(EXPECTED)) {
  test(`medmnist: ${medmnistStem(path).name} shapes, labels and counts match MANIFEST`, async () => {
    const m = await loadMedMNIST(path);
    assert.deepEqual(m.classNames, exp.classes);
    for (const s of ['train', 'val', 'test'] as const) {
      const x = m.splits[s];
      const n = exp[s][0] + exp[s][1];
      assert.equal(x.n, n);
      assert.deepEqual([x.height, x.width, x.channels], [28, 28, 1]);
      assert.equal(x.images.length, n * 28 * 28);
      assert.equal(x.labels.length, n);
      assert.deepEqual(classCounts(x.labels, 2), exp[s]);
    }
    // Real images, not blank: a mid-image pixel varies across samples.
    const t = m.splits.train;
    const vals = new Set(Array.from({ length: 50 }, (_, i) => t.images[i * 784 + 14 * 28 + 14]));
    assert.ok(vals.size > 10);
  });
}

test('medmnist: stems of MedMNIST+ sizes and the class table', () => {
  assert.deepEqual(medmnistStem('/x/pneumoniamnist_64.npz'), { name: 'pneumoniamnist', size: 64 });
  assert.deepEqual(medmnistStem('breastmnist.npz'), { name: 'breastmnist' });
  assert.equal(MEDMNIST_CLASSES.organamnist.length, 11);
  assert.equal(MEDMNIST_CLASSES.dermamnist.length, 7);
  assert.equal(MEDMNIST_CLASSES.chestmnist, undefined);
});

test('medmnist: RGB archives (N,H,W,3), unknown stems, multi-label and bad shapes', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const rgb = join(dir, 'bloodmnist_64.npz');
    const img = new Uint8Array(4 * 64 * 64 * 3).map((_, i) => i % 251);
    writeFileSync(rgb, writeNpz({
      train_images: { dtype: '|u1', shape: [4, 64, 64, 3], data: img },
      train_labels: { dtype: '|u1', shape: [4, 1], data: Uint8Array.from([0, 7, 3, 3]) },
      test_images: { dtype: '|u1', shape: [1, 64, 64, 3], data: img.subarray(0, 64 * 64 * 3) },
      test_labels: { dtype: '<i8', shape: [1], data: BigInt64Array.from([5n]) },
    }));
    const m = await loadMedMNIST(rgb);
    assert.equal(m.name, 'bloodmnist');
    assert.equal(m.classNames[7], 'platelet');
    assert.deepEqual([m.splits.train.n, m.splits.train.height, m.splits.train.channels], [4, 64, 3]);
    assert.equal(m.splits.val.n, 0);
    assert.deepEqual(Array.from(m.splits.test.labels), [5]);

    const custom = join(dir, 'mydata.npz');
    writeFileSync(custom, writeNpz({
      train_images: { dtype: '|u1', shape: [2, 8, 8], data: new Uint8Array(128) },
      train_labels: { dtype: '|u1', shape: [2], data: Uint8Array.from([0, 2]) },
    }));
    assert.deepEqual((await loadMedMNIST(custom)).classNames, ['0', '1', '2']);
    await assert.rejects(loadMedMNIST(custom, { classNames: ['a', 'b'] }), /mydata\.npz: label 2 found but only 2 class names/);

    const multi = join(dir, 'multi.npz');
    writeFileSync(multi, writeNpz({
      train_images: { dtype: '|u1', shape: [2, 8, 8], data: new Uint8Array(128) },
      train_labels: { dtype: '|u1', shape: [2, 14], data: new Uint8Array(28) },
    }));
    await assert.rejects(loadMedMNIST(multi), /multi\.npz: multi-label archive \(train_labels has shape \(2, 14\)\).*one class per image/);

    const float = join(dir, 'float.npz');
    writeFileSync(float, writeNpz({
      train_images: { dtype: '<f4', shape: [1, 2, 2], data: new Float32Array(4) },
      train_labels: { dtype: '|u1', shape: [1, 1], data: new Uint8Array(1) },
    }));
    await assert.rejects(loadMedMNIST(float), /float\.npz entry 'train_images\.npy': images must be uint8, got <f4/);

    const nokeys = join(dir, 'other.npz');
    writeFileSync(nokeys, writeNpz({ x: { dtype: '|u1', shape: [1], data: new Uint8Array(1) } }));
    await assert.rejects(loadMedMNIST(nokeys), /other\.npz: not a MedMNIST-style archive: needs train_images and train_labels \(has: x\)/);
  } finally { cleanup(); }
});
