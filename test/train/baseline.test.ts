// The baseline trainer: learns, validates into best/, resumes exactly, checkpoints on abort, and
// refuses what it cannot do. Tiny: ResNet-18 at 8² on a few PneumoniaMNIST images.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setup } from '../helpers.ts';
import { trainBaseline, validateBaselineTrainConfig, type BaselineStepMetrics } from '../../src/train/index.ts';
import { loadBaselinePipeline, loadModel, isBaselineFolder, BaselinePipeline } from '../../src/pipeline/index.ts';
import { loadCheckpoint } from '../../src/pipeline/index.ts';

before(setup);

const DATA = 'data/pneumoniamnist.npz';
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-baseline-'));
const tiny = { data: DATA, arch: 'resnet18' as const, imageSize: 8, limit: 32 };

test('a baseline learns a small training set, and validation keeps the best epoch in best/', async () => {
  const out = tmp();
  const log: BaselineStepMetrics[] = [];
  const r = await trainBaseline({ ...tiny, out, train: { epochs: 12, batchSize: 16, optimizer: { lr: 3e-3 }, augment: { rotate: 0, hflip: false, vflip: false, blur: null }, logEvery: 1 }, onLog: (m) => log.push(m) });
  assert.equal(r.steps, 24);
  const mean = (a: BaselineStepMetrics[]) => a.reduce((s, m) => s + m.loss, 0) / a.length;
  assert.ok(mean(log.slice(-4)) < 0.7 * mean(log.slice(0, 4)), `loss should fall: ${mean(log.slice(0, 4)).toFixed(3)} → ${mean(log.slice(-4)).toFixed(3)}`);
  assert.ok(r.best && r.best.epoch >= 1);
  assert.ok(isBaselineFolder(out) && isBaselineFolder(path.join(out, 'best')));
  const bp = loadBaselinePipeline(out);
  try {
    assert.equal(bp.step, r.best!.step, 'a run folder loads best/');
    assert.equal(bp.arch, 'resnet18');
    assert.ok(bp.trainingSeconds !== null && bp.trainingSeconds > 0);
    // batch-norm statistics travel with the weights: running variances are no longer all 1
    const rv = bp.net.buffers.vars.get('bn1.running_var')!.dataSync();
    assert.ok(Array.from(rv).some((v) => Math.abs(v - 1) > 1e-3));
  } finally { bp.dispose(); }
  const any = loadModel(out);
  assert.ok(any instanceof BaselinePipeline);
  any.dispose();
  const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const vals = lines.filter((l) => l.validation).map((l) => l.validation);
  assert.equal(vals.length, 12, 'one validation per epoch');
  // best/ holds the first epoch with the highest score, not merely the last one written
  const top = Math.max(...vals.map((v: { score: number }) => v.score));
  assert.equal(r.best!.score, top);
  assert.equal(r.best!.step, vals.find((v: { score: number }) => v.score === top).step);
});

test('resume continues exactly where an uninterrupted run would be', async () => {
  const train = { epochs: 2, batchSize: 16, optimizer: { lr: 1e-3 }, logEvery: 1 };
  const a = tmp(), b = tmp();
  await trainBaseline({ ...tiny, out: a, train });
  await trainBaseline({ ...tiny, out: b, train: { ...train, epochs: 1 } });
  await trainBaseline({ ...tiny, out: b, train, resume: true });
  const ca = loadCheckpoint(path.join(a, 'checkpoint')), cb = loadCheckpoint(path.join(b, 'checkpoint'));
  assert.equal(ca.state.step, 4);
  assert.equal(cb.state.step, 4);
  for (const [k, v] of ca.model) assert.deepEqual(Array.from(cb.model.get(k)!.data), Array.from(v.data), `${k} differs after resume`);
  assert.equal(ca.state.files['model.safetensors']!.sha256, cb.state.files['model.safetensors']!.sha256);
});

test('an aborted run checkpoints its last step and says how to continue', async () => {
  const out = tmp();
  const ac = new AbortController();
  await assert.rejects(trainBaseline({ ...tiny, out, train: { epochs: 3, batchSize: 16, logEvery: 1 }, signal: ac.signal, onLog: (m) => { if (m.step === 3) ac.abort(new Error('stop')); } }), /stop/);
  assert.equal(loadCheckpoint(path.join(out, 'checkpoint')).state.step, 3);
  await assert.rejects(trainBaseline({ ...tiny, out, train: { epochs: 3, batchSize: 16 } }), /already holds a checkpoint; pass --resume/);
  await assert.rejects(trainBaseline({ ...tiny, out, arch: 'resnet50', train: { epochs: 3, batchSize: 16 }, resume: true }), /another network/);
  await assert.rejects(trainBaseline({ ...tiny, out, train: { epochs: 3, batchSize: 16, seed: 5 }, resume: true }), /other settings \(seed\)/);
  await assert.rejects(trainBaseline({ ...tiny, out, limit: 48, train: { epochs: 3, batchSize: 16 }, resume: true }), /--limit 32; resume with the same --limit/);
  await assert.rejects(trainBaseline({ ...tiny, out, model: { dropout: 0.5 }, train: { epochs: 3, batchSize: 16 }, resume: true }), /another network \(dropout: 0 there, 0.5 now\)/);
  // a run that died before its first checkpoint leaves a log a new run must not append to
  const stale = tmp();
  fs.writeFileSync(path.join(stale, 'metrics.jsonl'), '{"step":1}\n');
  await assert.rejects(trainBaseline({ ...tiny, out: stale, train: { epochs: 1, batchSize: 16 } }), /holds metrics.jsonl from an earlier run/);
});

test('training options are validated by name', () => {
  assert.throws(() => validateBaselineTrainConfig('resnet18', { epochs: 0 }), /'epochs' must be an integer ≥ 1/);
  assert.throws(() => validateBaselineTrainConfig('resnet18', { warmup: 3 } as never), /'warmup' is not a baseline training option/);
  assert.equal(validateBaselineTrainConfig('vit-s16').optimizer.lr, 1e-5);
  assert.equal(validateBaselineTrainConfig('resnet18').optimizer.lr, 1e-4);
  assert.equal(validateBaselineTrainConfig('resnet18').optimizer.weightDecay, 1e-5);
  assert.throws(() => validateBaselineTrainConfig('resnet18', { optimizer: { learningRate: 1 } as never }), /'optimizer.learningRate' is not an Adam setting/);
  assert.throws(() => validateBaselineTrainConfig('resnet18', { augment: { vFlip: true } as never }), /'vFlip' is not an augmentation/);
});

test('batch norm: running statistics move 10% toward the batch with the unbiased variance (PyTorch), eval mode uses them', async () => {
  const { Params } = await import('../../src/models/index.ts');
  const { BatchNorm2d, PendingStats } = await import('../../src/models/baselines/index.ts');
  const { tf } = await import('../helpers.ts');
  const p = new Params(0), b = new Params(0), pending = new PendingStats();
  const bn = new BatchNorm2d(p, b, 'bn', 1, pending);
  const x = tf.tensor4d([1, 2, 3, 6], [1, 2, 2, 1]); // mean 3, biased variance 3.5, unbiased 14/3
  tf.tidy(() => { bn.apply(x, true); });
  pending.apply(0.1);
  assert.ok(Math.abs(bn.runningMean.dataSync()[0]! - 0.3) < 1e-6);
  assert.ok(Math.abs(bn.runningVar.dataSync()[0]! - (0.9 + 0.1 * 14 / 3)) < 1e-5);
  const y = tf.tidy(() => bn.apply(x, false).dataSync());
  const sd = Math.sqrt(0.9 + 0.1 * 14 / 3 + 1e-5);
  [1, 2, 3, 6].forEach((v, i) => assert.ok(Math.abs(y[i]! - (v - 0.3) / sd) < 1e-5));
  const before = tf.memory().numTensors;
  tf.tidy(() => { bn.apply(x, true); });
  pending.apply(0.1);
  assert.equal(tf.memory().numTensors, before, 'the batch statistics are freed after the update');
  x.dispose(); p.dispose(); b.dispose();
});
