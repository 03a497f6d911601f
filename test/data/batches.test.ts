import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchStream, openDataset, type Batch, type BatchSource } from '../../src/data/index.ts';
import { BREAST } from './helpers.ts';

const ds = await openDataset(BREAST, { imageSize: 32, split: 'train' });
const train = ds.split('train'); // 546 samples → 17 full batches of 32

async function take(stream: BatchStream, n: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of stream) { out.push(b); if (out.length === n) break; }
  return out;
}
const sig = (b: Batch) => `${b.epoch}/${b.index}:${Array.from(b.indices).join(',')}`;

test('batches: NHWC float batches with labels, each epoch a permutation', async () => {
  const s = new BatchStream(train, { batchSize: 32, seed: 1 });
  assert.equal(s.batchesPerEpoch, 17);
  const bs = await take(s, 17);
  const b = bs[0];
  assert.deepEqual(b.shape, [32, 32, 32, 1]);
  assert.equal(b.images.length, 32 * 32 * 32);
  assert.ok(b.images.every((v) => v >= -1 && v <= 1));
  assert.deepEqual(Array.from(b.labels), Array.from(b.indices, (i) => train.labels[i]));
  assert.deepEqual(Array.from(b.images.subarray(1024, 2048)), Array.from(train.get(b.indices[1]).image));
  const all = bs.flatMap((x) => Array.from(x.indices));
  assert.equal(new Set(all).size, 17 * 32);
});

test('batches: same seed → same batches; other seed → different', async () => {
  const a = (await take(new BatchStream(train, { batchSize: 32, seed: 5 }), 20)).map(sig);
  const b = (await take(new BatchStream(train, { batchSize: 32, seed: 5 }), 20)).map(sig);
  const c = (await take(new BatchStream(train, { batchSize: 32, seed: 6 }), 20)).map(sig);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.notEqual(a[0].split(':')[1], a[17].split(':')[1], 'epochs are reshuffled');
});

test('batches: resuming at a step or at batch.next continues the uninterrupted run', async () => {
  const full = await take(new BatchStream(train, { batchSize: 32, seed: 9 }), 40);
  const fromStep = await take(new BatchStream(train, { batchSize: 32, seed: 9, start: { step: 23 } }), 17);
  assert.deepEqual(fromStep.map(sig), full.slice(23).map(sig));
  assert.deepEqual(fromStep.map((b) => b.step), full.slice(23).map((b) => b.step));
  const resumed = await take(new BatchStream(train, { batchSize: 32, seed: 9, start: full[16].next }), 3);
  assert.deepEqual(full[16].next, { epoch: 1, index: 0 });
  assert.deepEqual(resumed.map(sig), full.slice(17, 20).map(sig));
  assert.deepEqual(resumed[0].images, full[17].images);
});

test('batches: keep-last, finite epochs, no shuffle and size errors', async () => {
  const s = new BatchStream(train, { batchSize: 100, dropLast: false, shuffle: false, epochs: 2 });
  const bs = await take(s, 1000);
  assert.equal(bs.length, 12);
  assert.deepEqual(bs.map((b) => b.shape[0]).slice(0, 6), [100, 100, 100, 100, 100, 46]);
  assert.deepEqual(Array.from(bs[0].indices.subarray(0, 3)), [0, 1, 2]);
  assert.throws(() => new BatchStream(train, { batchSize: 1000 }), /546 samples, fewer than batchSize 1000.*dropLast: false/);
});

test('batches: batch k+1 is built while k is consumed (prefetch)', async () => {
  let gets = 0;
  const src: BatchSource = {
    size: 64, shape: [2, 2, 1],
    get: async (i) => { gets++; await new Promise((r) => setTimeout(r, 1)); return { image: new Float32Array(4).fill(i), label: i % 2 }; },
  };
  const it = new BatchStream(src, { batchSize: 8, seed: 0 })[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.done, false);
  await new Promise((r) => setTimeout(r, 30)); // consumer "trains" on batch 0
  assert.ok(gets >= 16, `next batch prepared ahead (gets=${gets})`);
  await it.return?.();
});
