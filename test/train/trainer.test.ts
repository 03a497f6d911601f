import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setup, tf, maxAbsDiff } from '../helpers.ts';
import { trainFromData, loadCheckpoint, type StepMetrics } from '../../src/train/index.ts';
import { mirrorSome, shiftSome, openDataset, stackSplit } from '../../src/data/index.ts';
import { Trainer, validateTrainConfig, type TrainConfig } from '../../src/train/index.ts';
import { createDenoiser, type Denoiser } from '../../src/models/index.ts';
import { Rng, alphaSigma, haarForward } from '../../src/diffusion/index.ts';
import { createPipeline, loadPipeline } from '../../src/pipeline/index.ts';

before(setup);

const DATA = 'data/pneumoniamnist.npz';
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-train-'));
const fast = { optimizer: { lr: 2e-3, warmupSteps: 0 }, batchSize: 16, microBatch: 16, logEvery: 1 };
const noVal = { valEvery: 0 };

test('tiny UNet trains on PneumoniaMNIST and its loss goes down', async () => {
  const out = tmp();
  const log: StepMetrics[] = [];
  await trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 256, train: { ...fast, steps: 40, checkpointEvery: 20 }, onLog: (m) => log.push(m) });
  assert.equal(log.length, 40);
  const mean = (a: StepMetrics[]) => a.reduce((s, m) => s + m.loss, 0) / a.length;
  const first = mean(log.slice(0, 8)), last = mean(log.slice(-8));
  assert.ok(last < 0.8 * first, `loss should fall: first ${first.toFixed(4)}, last ${last.toFixed(4)}`);
  const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 40);
  const ck = loadCheckpoint(path.join(out, 'checkpoint'));
  assert.equal(ck.state.step, 40);
  assert.deepEqual(ck.state.classNames, ['normal', 'pneumonia']);
  fs.rmSync(out, { recursive: true });
});

test('k steps + resume + k steps gives the same weights as 2k steps', async () => {
  const a = tmp(), b = tmp();
  const cfg = { ...fast, steps: 6, checkpointEvery: 3, microBatch: 8 }; // accumulation on too
  await trainFromData({ ...noVal, data: DATA, out: a, config: 'tiny', limit: 40, train: cfg });
  await trainFromData({ ...noVal, data: DATA, out: b, config: 'tiny', limit: 40, train: { ...cfg, steps: 3 } });
  await trainFromData({ ...noVal, data: DATA, out: b, config: 'tiny', limit: 40, train: cfg, resume: true });
  const ca = loadCheckpoint(path.join(a, 'checkpoint')), cb = loadCheckpoint(path.join(b, 'checkpoint'));
  assert.equal(cb.state.step, 6);
  for (const [name, arr] of ca.model) assert.equal(maxAbsDiff(arr.data, cb.model.get(name)!.data), 0, `weights ${name}`);
  for (const [name, arr] of ca.ema!) assert.equal(maxAbsDiff(arr.data, cb.ema!.get(name)!.data), 0, `ema ${name}`);
  for (const [name, arr] of ca.optimizer!) assert.equal(maxAbsDiff(arr.data, cb.optimizer!.get(name)!.data), 0, `adam ${name}`);
  const steps = fs.readFileSync(path.join(b, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6]);
  fs.rmSync(a, { recursive: true }); fs.rmSync(b, { recursive: true });
});

test('resume refuses another config, and training over a checkpoint without --resume is refused', async () => {
  const out = tmp();
  await trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 32, train: { ...fast, steps: 2 } });
  const before = fs.readFileSync(path.join(out, 'checkpoint', 'model.safetensors'));
  await assert.rejects(trainFromData({ ...noVal, data: DATA, out, config: 'tiny', model: { baseChannels: 16 }, limit: 32, train: { ...fast, steps: 4 }, resume: true }), /another model config/);
  await assert.rejects(trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 32, train: { ...fast, steps: 4 } }), /already holds a checkpoint; pass --resume/);
  await assert.rejects(trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 32, train: { ...fast, steps: 4, condDropout: 0.3 }, resume: true }), /trained with other settings \(condDropout\)/);
  await assert.rejects(trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 16, train: { ...fast, steps: 4 }, resume: true }), /--limit 32/);
  await assert.rejects(trainFromData({ ...noVal, data: 'data/breastmnist.npz', out, config: 'tiny', limit: 32, train: { ...fast, steps: 4 }, resume: true }), /other data/);
  assert.deepEqual(fs.readFileSync(path.join(out, 'checkpoint', 'model.safetensors')), before, 'existing checkpoint untouched');
  fs.rmSync(out, { recursive: true });
});

test('a truncated or altered checkpoint is refused with what does not match', async () => {
  const out = tmp();
  await trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 32, train: { ...fast, steps: 1 } });
  const ck = path.join(out, 'checkpoint');
  const file = path.join(ck, 'ema.safetensors');
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 10));
  assert.throws(() => loadPipeline(out), /ema.safetensors has \d+ bytes but state.json recorded \d+ \(truncated or replaced\)/);
  const flipped = Buffer.from(bytes); flipped[flipped.length - 1] ^= 0xff;
  fs.writeFileSync(file, flipped);
  assert.throws(() => loadPipeline(out), /does not match the SHA-256/);
  assert.throws(() => loadPipeline(path.join(out, 'nope')), /does not exist/);
  fs.rmSync(out, { recursive: true });
});

test('a NaN loss stops training with a clear message and keeps the last good checkpoint', async () => {
  const out = tmp();
  await trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 32, train: { ...fast, steps: 2, checkpointEvery: 1 } });
  const good = fs.readFileSync(path.join(out, 'checkpoint', 'model.safetensors'));
  // An absurd learning rate drives the weights to Inf/NaN within a few steps.
  await assert.rejects(
    trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 32, resume: true, train: { ...fast, steps: 60, checkpointEvery: 1000, optimizer: { lr: 1e30, warmupSteps: 0, clipNorm: 0 } } }),
    /became (NaN|Infinity).*training stopped; the last good checkpoint .* is kept/,
  );
  assert.deepEqual(fs.readFileSync(path.join(out, 'checkpoint', 'model.safetensors')), good);
  fs.rmSync(out, { recursive: true });
});

test('the trained model loads for inference with EMA or raw weights and gives finite v', async () => {
  const out = tmp();
  await trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 32, train: { ...fast, steps: 2 } });
  for (const weights of ['ema', 'raw'] as const) {
    const tm = loadPipeline(out, { weights });
    assert.equal(tm.imageSize, 32);
    assert.deepEqual(tm.classNames, ['normal', 'pneumonia']);
    const v = tm.denoiser.apply(tf.zeros([2, 16, 16, 4]), tf.tensor1d([0, 1]), tf.tensor1d([0, 2], 'int32'));
    assert.ok(v.dataSync().every(Number.isFinite));
    v.dispose();
    tm.dispose();
  }
  fs.rmSync(out, { recursive: true });
});

test('validation scores raw and EMA weights, logs them and keeps the better as best/', async () => {
  const out = tmp();
  const seen: unknown[] = [];
  await trainFromData({ data: DATA, out, config: 'tiny', limit: 32, valEvery: 2, valImages: 12, valPairs: 3, train: { ...fast, steps: 4 }, onValidation: (v) => seen.push(v) });
  assert.equal(seen.length, 2);
  const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const vals = lines.filter((l) => l.validation);
  assert.deepEqual(vals.map((l) => l.step), [2, 4]);
  // the figures fit the 12 validation images: accuracy (a + b)/12 and balanced accuracy (a/c₀ + b/c₁)/2
  // for the same counts a ≤ c₀, b ≤ c₁ of right answers per class; the score adds a hair of AUROC
  const ds = await openDataset(DATA, { imageSize: 32, split: ['train', 'val'], seed: 0 });
  const valLabels = Array.from(stackSplit(ds.split('val'), { limit: 12, spread: true }).labels);
  const c0 = valLabels.filter((y) => y === 0).length, c1 = valLabels.length - c0;
  assert.ok(c0 > 0 && c1 > 0, `both classes among the validation images: ${valLabels}`);
  for (const v of vals) for (const w of ['raw', 'ema']) {
    const m = v.validation[w];
    assert.equal(m.images, 12);
    const fits = [...Array(c0 + 1).keys()].some((a) => [...Array(c1 + 1).keys()].some((b) =>
      Math.abs(m.accuracy - (a + b) / 12) < 1e-12 && Math.abs(m.balancedAccuracy - (a / c0 + b / c1) / 2) < 1e-12));
    assert.ok(fits, `accuracy and balanced accuracy of the same answers: ${JSON.stringify(m)}`);
    assert.ok(Math.abs(m.score - m.balancedAccuracy - (Number.isFinite(m.auroc) ? 1e-3 * m.auroc : 0)) < 1e-12, JSON.stringify(m));
  }
  const best = loadCheckpoint(path.join(out, 'best'));
  const info = best.state.info as { selectedWeights: string; validation: { score: number } };
  assert.ok(['raw', 'ema'].includes(info.selectedWeights));
  assert.equal(best.ema, undefined);
  assert.equal(info.validation.score, vals.at(-1).validation.best.score);
  const tm = loadPipeline(path.join(out, 'best'));
  assert.equal(tm.weights, info.selectedWeights);
  tm.dispose();
  fs.rmSync(out, { recursive: true });
});

test('a time limit stops training early, checkpointed, and --resume with more time continues it', async () => {
  const out = tmp();
  const first = await trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 32, train: { ...fast, steps: 1000, checkpointEvery: 500 }, timeLimitSec: 1e-3 });
  assert.equal(first.timeUp, true);
  assert.equal(first.steps, 1, 'stops after the first step past the limit');
  assert.equal(loadCheckpoint(path.join(out, 'checkpoint')).state.step, 1, 'the stopping step is checkpointed even off the checkpoint cadence');
  const again = await trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 32, train: { ...fast, steps: 3, checkpointEvery: 500 }, resume: true, timeLimitSec: 3600 });
  assert.deepEqual([again.steps, again.timeUp], [3, false]);
  // 0 minutes is refused (it once meant "stop at once", so a resume with it trained nothing)
  await assert.rejects(trainFromData({ ...noVal, data: DATA, out, config: 'tiny', limit: 32, train: { ...fast, steps: 5 }, resume: true, timeLimitSec: 0 }),
    /--time-limit must be more than 0 minutes, got 0; it counts resumed time/);
  fs.rmSync(out, { recursive: true });
});

test('shiftSome moves the chosen images and repeats their edges', () => {
  // 2 images of 2×3×1; the second moves right by 1 and up by 1
  const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual([...shiftSome(x, [2, 2, 3, 1], [[0, 0], [-1, 1]])], [1, 2, 3, 4, 5, 6, 10, 10, 11, 10, 10, 11]);
  // one 2×3×2 image moved down by 1: its first row repeats
  assert.deepEqual([...shiftSome(x, [1, 2, 3, 2], [[1, 0]])], [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...x.subarray(6)], [7, 8, 9, 10, 11, 12], 'input untouched');
});

test('shift changes training, is stored in the config, and rejects bad values', async () => {
  const a = tmp(), b = tmp();
  await trainFromData({ ...noVal, data: DATA, out: a, config: 'tiny', limit: 16, train: { ...fast, steps: 2 } });
  await trainFromData({ ...noVal, data: DATA, out: b, config: 'tiny', limit: 16, train: { ...fast, steps: 2, shift: 2 } });
  const ca = loadCheckpoint(path.join(a, 'checkpoint')), cb = loadCheckpoint(path.join(b, 'checkpoint'));
  const diff = Math.max(...[...ca.model.keys()].map((k) => maxAbsDiff(ca.model.get(k)!.data, cb.model.get(k)!.data)));
  assert.ok(diff > 0, 'shifted batches give other gradients');
  assert.equal((cb.config as { train: { shift: number } }).train.shift, 2);
  await assert.rejects(trainFromData({ ...noVal, data: DATA, out: tmp(), config: 'tiny', limit: 16, train: { ...fast, steps: 1, shift: -1 } }), /'shift' must be an integer ≥ 0/);
  fs.rmSync(a, { recursive: true }); fs.rmSync(b, { recursive: true });
});

test('hflip mirrors the chosen images only, and changes training', async () => {
  // 2 images of 2×3×1
  const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual([...mirrorSome(x, [2, 2, 3, 1], [false, true])], [1, 2, 3, 4, 5, 6, 9, 8, 7, 12, 11, 10]);
  assert.deepEqual([...x.subarray(0, 3)], [1, 2, 3], 'input untouched');
  const a = tmp(), b = tmp();
  await trainFromData({ ...noVal, data: DATA, out: a, config: 'tiny', limit: 16, train: { ...fast, steps: 2 } });
  await trainFromData({ ...noVal, data: DATA, out: b, config: 'tiny', limit: 16, train: { ...fast, steps: 2, hflip: true } });
  const ca = loadCheckpoint(path.join(a, 'checkpoint')), cb = loadCheckpoint(path.join(b, 'checkpoint'));
  const diff = Math.max(...[...ca.model.keys()].map((k) => maxAbsDiff(ca.model.get(k)!.data, cb.model.get(k)!.data)));
  assert.ok(diff > 0, 'flipped batches give other gradients');
  assert.equal((cb.config as { train: { hflip: boolean } }).train.hflip, true);
  fs.rmSync(a, { recursive: true }); fs.rmSync(b, { recursive: true });
});

/**
 * What the model is fed in one training step, with and without an augmentation: t, ε and the
 * labels are drawn before the flips and shifts, so the two runs differ only by the images, and
 * z_aug − z_plain = α_t·(haar(fed) − haar(x)) per image (haar is linear).
 */
function fedImages(train: Partial<TrainConfig>, candidates: (x: Float32Array) => Float32Array[]): number[] {
  const n = 8, S2 = 32, px = S2 * S2;
  // asymmetric images (a left–right ramp plus noise), so every flip and shift changes them
  const r = new Rng(11);
  const images = Float32Array.from({ length: n * px }, (_, j) => ((j % S2) / S2) - 0.5 + 0.5 * r.float());
  const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
  const firstInput = (cfg: Partial<TrainConfig>): { z: Float32Array; lam: Float32Array } => {
    const model = createDenoiser({ preset: 'tiny' });
    let seen: { z: Float32Array; lam: Float32Array } | undefined;
    const spy: Denoiser = {
      config: model.config, params: model.params, nullClass: model.nullClass, parameterCount: () => model.parameterCount(), dispose: () => model.dispose(),
      apply: (z, lam, y) => { seen ??= { z: Float32Array.from(z.dataSync()), lam: Float32Array.from(lam.dataSync()) }; return model.apply(z, lam, y); },
    };
    const trainer = new Trainer({
      pipeline: createPipeline({ denoiser: spy, classNames: ['a', 'b'] }), config: validateTrainConfig({ ...cfg, batchSize: n, microBatch: n }),
      dataFingerprint: 'test', outDir: os.tmpdir(), openSource: () => ({ next: async () => ({ images, labels }), position: () => null }),
    });
    trainer.trainStep({ images, labels });
    model.dispose();
    return seen!;
  };
  const plain = firstInput({}), aug = firstInput(train);
  assert.deepEqual([...aug.lam], [...plain.lam], 'the augmentation is drawn after t');
  const q = plain.z.length / n;
  return Array.from({ length: n }, (_, i) => {
    const x = images.slice(i * px, (i + 1) * px);
    const alpha = alphaSigma(plain.lam[i]!).alpha;
    return candidates(x).findIndex((cand) => {
      const d = tf.tidy(() => haarForward(tf.tensor4d(cand.map((v, j) => v - x[j]!), [1, S2, S2, 1])).dataSync());
      let err = 0;
      for (let j = 0; j < q; j++) err = Math.max(err, Math.abs(aug.z[i * q + j]! - plain.z[i * q + j]! - alpha * d[j]!));
      return err < 1e-4;
    });
  });
}

test('with hflip the trainer feeds the model mirrored images: some, not all, and nothing else', () => {
  // the mirror written out here, not by mirrorSome, so a broken mirrorSome cannot pass as its own reference
  const mirror = (x: Float32Array) => x.map((_, j) => x[j - (j % 32) + 31 - (j % 32)]!);
  const fed = fedImages({ hflip: true }, (x) => [x, mirror(x)]);
  assert.ok(fed.every((k) => k >= 0), `every image is fed as itself or its mirror: ${fed}`);
  assert.ok(fed.includes(1), `some images are mirrored: ${fed}`);
  assert.ok(fed.includes(0), `some images are not: ${fed}`);
});

test('with shift the trainer feeds the model shifted images: some moved, each within ±shift', () => {
  const offsets = [-1, 0, 1].flatMap((dy) => [-1, 0, 1].map((dx) => [dy, dx] as [number, number]));
  // moved down dy, right dx, edges repeated (written out here, not by shiftSome)
  const clamp = (v: number) => Math.min(31, Math.max(0, v));
  const moved = (x: Float32Array, [dy, dx]: [number, number]) => x.map((_, j) => x[clamp(Math.floor(j / 32) - dy) * 32 + clamp((j % 32) - dx)]!);
  const fed = fedImages({ shift: 1 }, (x) => offsets.map((o) => moved(x, o)));
  assert.ok(fed.every((k) => k >= 0), `every image is fed shifted by at most one pixel: ${fed}`);
  assert.ok(fed.some((k) => k !== 4), `some images are moved: ${fed.map((k) => offsets[k])}`);
});
