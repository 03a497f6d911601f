// The DiT behind the same library calls as the UNet: trainFromData with a DiT preset, a model
// folder that loads, classifies and explains, and folders whose config and weights disagree on
// the denoiser's kind refused by name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setup, tf } from '../helpers.ts';
import { createPipeline, loadPipeline } from '../../src/pipeline/index.ts';
import { fileRecord } from '../../src/pipeline/checkpoint.ts';
import { createDenoiser, presetConfig, type Denoiser } from '../../src/models/index.ts';
import { classify } from '../../src/classify/index.ts';
import { explain } from '../../src/explain/index.ts';
import { trainFromData, type StepMetrics } from '../../src/train/index.ts';

before(setup);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-dit-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const DATA = 'data/pneumoniamnist.npz';
const XRAY = 'data/fixtures/nih_cxr14_00000001_000.png';
const fast = { optimizer: { lr: 2e-3, warmupSteps: 0 }, batchSize: 16, microBatch: 16, logEvery: 1 };

function perturbed(m: Denoiser): Denoiser {
  tf.tidy(() => { m.params.list().forEach((v, i) => v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 3 + i)))); });
  return m;
}

/** Rewrite a folder's config.json and its record in state.json (size, SHA-256), as a hand edit would need. */
function editConfig(folder: string, edit: (c: { model: Record<string, unknown> }) => void): void {
  const file = path.join(folder, 'config.json');
  const c = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(c);
  const bytes = Buffer.from(JSON.stringify(c, null, 2));
  fs.writeFileSync(file, bytes);
  const statePath = path.join(folder, 'state.json');
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
  state.files['config.json'] = fileRecord(bytes);
  fs.writeFileSync(statePath, JSON.stringify(state, null, 2));
}

test('dit-tiny trains on PneumoniaMNIST, its loss falls, and the run classifies and explains like a UNet run', async () => {
  const out = path.join(dir, 'tiny');
  const log: StepMetrics[] = [];
  await trainFromData({ data: DATA, out, config: 'dit-tiny', limit: 256, valEvery: 0, train: { ...fast, steps: 40, checkpointEvery: 20 }, onLog: (m) => log.push(m) });
  assert.equal(log.length, 40);
  const mean = (a: StepMetrics[]) => a.reduce((s, m) => s + m.loss, 0) / a.length;
  const first = mean(log.slice(0, 8)), last = mean(log.slice(-8));
  assert.ok(last < 0.8 * first, `loss should fall: first ${first.toFixed(4)}, last ${last.toFixed(4)}`);
  const p = loadPipeline(out);
  try {
    assert.equal(p.denoiser.config.kind, 'dit');
    assert.deepEqual(p.classNames, ['normal', 'pneumonia']);
    const before = tf.memory().numTensors;
    const [c] = await classify(p, XRAY, { n: 4 });
    assert.ok(p.classNames.includes(c!.prediction));
    assert.equal(c!.votes.reduce((a, b) => a + b, 0), 4);
    const [e] = await explain(p, XRAY, { explain: { steps: 2 }, classify: { n: 3 } });
    assert.equal(e!.reconstructions.length, 2);
    assert.equal(e!.reconstructions[0]!.length, 32 * 32);
    assert.equal(e!.difference.length, 32 * 32);
    assert.equal(tf.memory().numTensors, before, 'classify and explain leak no tensors');
  } finally {
    p.dispose();
  }
  // resuming with the other kind of denoiser is refused before anything is written
  await assert.rejects(trainFromData({ data: DATA, out, config: 'tiny', limit: 256, valEvery: 0, train: { ...fast, steps: 41 }, resume: true }), /another model config/);
});

test("--config dit-s trains (the preset, scaled to the data, is what the checkpoint records)", async () => {
  const out = path.join(dir, 'small');
  const r = await trainFromData({ data: DATA, out, config: 'dit-s', limit: 8, valEvery: 0, train: { steps: 1, batchSize: 4, microBatch: 4 } });
  assert.equal(r.steps, 1);
  assert.ok(Number.isFinite(r.lastLoss));
  const c = JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'config.json'), 'utf8'));
  assert.deepEqual(c.model, presetConfig('dit-s', { imageSize: 16, inChannels: 4, numClasses: 2 }));
  // a JSON config may name a DiT preset and change its fields; a UNet field there is refused by name
  const file = path.join(dir, 'dit.json');
  fs.writeFileSync(file, JSON.stringify({ preset: 'dit-tiny', depth: 1 }));
  await trainFromData({ data: DATA, out: path.join(dir, 'json'), config: file, limit: 4, valEvery: 0, train: { steps: 1, batchSize: 4, microBatch: 4 } });
  fs.writeFileSync(file, JSON.stringify({ preset: 'dit-tiny', baseChannels: 8 }));
  await assert.rejects(trainFromData({ data: DATA, out: path.join(dir, 'json2'), config: file, limit: 4, valEvery: 0, train: { steps: 1 } }),
    /'baseChannels' is not a DiT option \(it is a UNet option: a UNet config needs kind 'unet'\)/);
  await assert.rejects(trainFromData({ data: DATA, out: path.join(dir, 'x'), config: 'dit-xl', train: { steps: 1 } }), /expected a preset \(tiny, small, bench, base, unet-64, unet-128, dit-tiny, dit-s, dit-b4\)/);
});

test('save → load gives the same DiT pipeline and the same predictions', async () => {
  const p = createPipeline({ denoiser: perturbed(createDenoiser({ preset: 'dit-tiny' }, 4)), classNames: ['normal', 'pneumonia'] });
  const folder = path.join(dir, 'saved');
  p.save(folder);
  const q = loadPipeline(folder);
  try {
    assert.deepEqual(q.denoiser.config, p.denoiser.config);
    const [a] = await classify(p, XRAY, { n: 4 });
    const [b] = await classify(q, XRAY, { n: 4 });
    assert.deepEqual(b!.meanErrors, a!.meanErrors);
  } finally {
    p.dispose();
    q.dispose();
  }
});

test("a folder whose config.json and weights disagree on the denoiser's kind is refused naming the field", () => {
  const save = (name: string, preset: string) => {
    const p = createPipeline({ denoiser: createDenoiser({ preset }), classNames: ['a', 'b'] });
    const folder = path.join(dir, name);
    p.save(folder);
    p.dispose();
    return folder;
  };
  const dit = save('dit-folder', 'dit-tiny');
  editConfig(dit, (c) => { c.model.kind = 'unet'; });
  assert.throws(() => loadPipeline(dit), /config\.json: invalid model config: 'patchSize' is not a UNet option \(it is a DiT option: a DiT config needs kind 'dit'\)/);
  // a whole UNet config over DiT weights: the config is valid, the weights are not a UNet's
  editConfig(dit, (c) => { c.model = presetConfig('tiny', { imageSize: 16, inChannels: 4, numClasses: 2 }) as never; });
  assert.throws(() => loadPipeline(dit), /model\.safetensors: the weights are a DiT's but config\.json's 'model\.kind' is 'unet' \(a UNet\)/);
  const unet = save('unet-folder', 'tiny');
  editConfig(unet, (c) => { c.model.kind = 'dit'; });
  assert.throws(() => loadPipeline(unet), /'baseChannels' is not a DiT option \(it is a UNet option: a UNet config needs kind 'unet'\)/);
  editConfig(unet, (c) => { c.model = presetConfig('dit-tiny', { imageSize: 16, inChannels: 4, numClasses: 2 }) as never; });
  assert.throws(() => loadPipeline(unet), /the weights are a UNet's but config\.json's 'model\.kind' is 'dit' \(a DiT\)/);
});
