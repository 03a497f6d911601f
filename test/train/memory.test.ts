// Issue 15 item 2: the micro-batch is chosen from the measured memory of a step, and it changes
// no result: the step's random draws are made per batch, so only float summation order differs.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setup, relErr, maxAbsDiff } from '../helpers.ts';
import {
  Trainer, validateTrainConfig, chooseMicroBatch, measureStepMemory, stepPeakBytes, tensorHeapCapBytes, WASM_HEAP_PLAN_BYTES, trainFromData, loadCheckpoint, MODEL_STATE_COPIES,
  type StepMemory, type MicroBatchChoice,
} from '../../src/train/index.ts';
import { createDenoiser, presetConfig } from '../../src/models/index.ts';
import { createPipeline } from '../../src/pipeline/index.ts';

before(setup);

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-mem-'));

/** Weights after `steps` steps of batch 8 on a fixed synthetic batch, with the given micro-batch. */
function train(microBatch: number, steps = 2): { weights: Float32Array[]; losses: number[] } {
  const model = createDenoiser({ preset: 'tiny' }, 3);
  const cfg = validateTrainConfig({ batchSize: 8, microBatch, steps, seed: 5, hflip: true, shift: 1, optimizer: { lr: 1e-2, warmupSteps: 0 } });
  const batch = { images: new Float32Array(8 * 32 * 32).map((_, i) => Math.sin(i * 0.37)), labels: Int32Array.from({ length: 8 }, (_, i) => i % 2) };
  const pipeline = createPipeline({ denoiser: model, classNames: ['a', 'b'], preprocess: { imageSize: 32, channels: 1 } });
  const t = new Trainer({ pipeline, config: cfg, dataFingerprint: 'x', outDir: tmp(), openSource: () => ({ next: async () => batch, position: () => null }) });
  try {
    const losses = Array.from({ length: steps }, () => t.trainStep(batch).loss);
    return { weights: model.params.list().map((v) => Float32Array.from(v.dataSync() as Float32Array)), losses };
  } finally {
    t.dispose(); model.dispose();
  }
}

test('the same seed gives the same weights whatever the micro-batch (flips and shifts on)', () => {
  const full = train(8), halves = train(4), ones = train(1);
  for (const [k, other] of [[4, halves], [1, ones]] as const) {
    // step 1's loss sees the same times, noise, labels and augmentations; step 2's the same updated weights
    other.losses.forEach((l, s) => assert.ok(Math.abs(l - full.losses[s]!) < 1e-5 * full.losses[s]!, `step ${s + 1} loss, micro-batch ${k}: ${l} vs ${full.losses[s]}`));
    // weights: Adam divides by √v, so near-zero gradients summed in another order may move by up to ~lr
    other.weights.forEach((w, i) => assert.ok(maxAbsDiff(w, full.weights[i]!) < 0.02, `param ${i}, micro-batch ${k}: ${maxAbsDiff(w, full.weights[i]!)}`));
  }
  // and the run did move: consecutive losses differ
  assert.notEqual(full.losses[0], full.losses[1]);
});

test('chooseMicroBatch: the largest divisor of the batch that fits, else 1 with a note saying so', () => {
  const m: StepMemory = { paramBytes: 1e6, fixedBytes: 2e6, perImageBytes: 10e6 };
  const base = MODEL_STATE_COPIES * m.paramBytes + m.fixedBytes;
  assert.equal(chooseMicroBatch(64, m, base + 64 * 10e6).microBatch, 64);
  assert.equal(chooseMicroBatch(64, m, base + 63 * 10e6).microBatch, 32, 'divisors only');
  assert.equal(chooseMicroBatch(48, m, base + 20 * 10e6).microBatch, 16);
  assert.equal(chooseMicroBatch(7, m, base + 6 * 10e6).microBatch, 1, '7 is prime');
  const c = chooseMicroBatch(64, m, base + 5 * 10e6);
  assert.equal(c.microBatch, 4);
  assert.equal(c.estimateBytes, base + 4 * 10e6);
  assert.match(c.note, /^micro-batch 4 of batch 64 \(auto: ~10 MB of activations per image/);
  const none = chooseMicroBatch(64, m, base);
  assert.equal(none.microBatch, 1);
  assert.match(none.note, /over the .* budget.*raise --memory-budget/);
  assert.throws(() => chooseMicroBatch(0, m, 1e9), /batchSize must be a positive integer/);
});

test('chooseMicroBatch: on the wasm heap (wasm and native backends) the plan is capped below 4 GiB whatever the budget', () => {
  // a 64² step of ~134 MB per image: batch 64 needs ~8.7 GB, which half of a 16 GB machine allows but the heap does not
  const m: StepMemory = { paramBytes: 18e6, fixedBytes: 60e6, perImageBytes: 134 * 2 ** 20 };
  assert.equal(tensorHeapCapBytes('wasm'), WASM_HEAP_PLAN_BYTES);
  assert.equal(tensorHeapCapBytes('cpu'), Infinity);
  const capped = chooseMicroBatch(64, m, 12e9, tensorHeapCapBytes('wasm'));
  assert.equal(capped.microBatch, 16, '16 × 134 MB fits 3 GiB, 32 × 134 MB does not');
  assert.ok(capped.estimateBytes <= WASM_HEAP_PLAN_BYTES && WASM_HEAP_PLAN_BYTES < 4 * 2 ** 30);
  assert.match(capped.note, /capped from 11444 MB by the 4 GiB wasm heap/);
  assert.equal(chooseMicroBatch(64, m, 12e9, tensorHeapCapBytes('cpu')).microBatch, 64, 'the cpu backend keeps tensors in JS memory: no cap');
  const small = chooseMicroBatch(64, m, 1e9, tensorHeapCapBytes('wasm'));
  assert.equal(small.microBatch, 4, 'a budget under the cap is used as given');
  assert.doesNotMatch(small.note, /capped/);
});

test('measured step memory: linear in the micro-batch (predicts batch 6), and more per image at a larger side', async () => {
  const at = async (side: number) => {
    const model = createDenoiser(presetConfig('small', { imageSize: side, inChannels: 4, numClasses: 2 }));
    try { return { m: await measureStepMemory(model), six: await stepPeakBytes(model, 6) }; } finally { model.dispose(); }
  };
  const a = await at(16), b = await at(32);
  for (const { m, six } of [a, b]) {
    const predicted = m.fixedBytes + 6 * m.perImageBytes;
    assert.ok(Math.abs(predicted - six) < 0.2 * six, `batch 6: predicted ${predicted}, measured ${six}`);
  }
  // not 4×: the scaled preset's lower levels (and their attention) are the same at both sides
  assert.ok(b.m.perImageBytes > 1.5 * a.m.perImageBytes, `per image ${a.m.perImageBytes} at 16², ${b.m.perImageBytes} at 32²`);
});

test('trainFromData picks the micro-batch from --memory-budget, states it, and matches a one-pass run', async () => {
  const probe = createDenoiser(presetConfig('tiny', { imageSize: 16, inChannels: 4, numClasses: 2 }));
  const mem = await measureStepMemory(probe);
  probe.dispose();
  // room for 2.5 images: the choice must be 2 of a batch of 8
  const budget = MODEL_STATE_COPIES * mem.paramBytes + mem.fixedBytes + 2.5 * mem.perImageBytes;
  const a = tmp(), b = tmp();
  let chosen: MicroBatchChoice | undefined;
  const common = { data: 'data/pneumoniamnist.npz', config: 'tiny', limit: 16, valEvery: 0 };
  const ra = await trainFromData({ ...common, out: a, memoryBudgetMB: budget / 2 ** 20, train: { steps: 2, batchSize: 8 }, onReady: (i) => { chosen = i.microBatch; } });
  assert.equal(chosen?.microBatch, 2, chosen?.note);
  assert.match(chosen!.note, /^micro-batch 2 of batch 8 \(auto/);
  const rb = await trainFromData({ ...common, out: b, train: { steps: 2, batchSize: 8, microBatch: 8 } });
  assert.ok(Math.abs(ra.lastLoss - rb.lastLoss) < 1e-4 * Math.abs(rb.lastLoss), `loss ${ra.lastLoss} vs ${rb.lastLoss}`);
  const ca = loadCheckpoint(path.join(a, 'checkpoint')), cb = loadCheckpoint(path.join(b, 'checkpoint'));
  assert.equal((ca.config as { train: { microBatch: number } }).train.microBatch, 2);
  for (const [name, arr] of cb.model) assert.ok(relErr(ca.model.get(name)!.data, arr.data) < 1e-4, name);
  // resuming on a machine that picks another micro-batch is allowed: it changes no result
  await trainFromData({ ...common, out: a, resume: true, train: { steps: 3, batchSize: 8, microBatch: 4 } });
  fs.rmSync(a, { recursive: true }); fs.rmSync(b, { recursive: true });
});
