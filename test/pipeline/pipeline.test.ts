// The pipeline as users meet it: one preprocessing for every command, folders old and new,
// configs checked by name, an RGB data set from training to explanation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { setup } from '../helpers.ts';
import { createPipeline, loadPipeline, readPipelineConfig, upgradeModelFolder, pipelineConfigJson, saveCheckpoint } from '../../src/pipeline/index.ts';
import { createDenoiser, forwardBytesPerRow, presetConfig } from '../../src/models/index.ts';
import { openDataset, stackSplit } from '../../src/data/index.ts';
import { classify, classifyFiles, DiffusionClassifier } from '../../src/classify/index.ts';
import { explain } from '../../src/explain/index.ts';
import { trainFromData } from '../../src/train/index.ts';
import { makeDicom } from '../data/helpers.ts';

before(setup);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-pipeline-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const XRAY = 'data/fixtures/nih_cxr14_00000001_000.png';
const XRAY2 = 'data/fixtures/nih_cxr14_00027426_000.png';

/** A tiny pipeline that preprocesses like a MedMNIST model: 28² content centre-cropped into 32². */
function medmnistLike() {
  return createPipeline({
    denoiser: createDenoiser({ preset: 'tiny' }), classNames: ['normal', 'pneumonia'],
    preprocess: { channels: 1, imageSize: 32, contentSize: 28, fit: 'crop', wavelet: { levels: 1, scale: 'orthonormal' } },
  });
}

test('classify x.png and evaluate over a folder holding x.png feed the model the same array', async () => {
  const root = path.join(dir, 'folder');
  for (const [cls, f] of [['normal', XRAY], ['pneumonia', XRAY2]] as const) {
    fs.mkdirSync(path.join(root, 'test', cls), { recursive: true });
    fs.copyFileSync(f, path.join(root, 'test', cls, path.basename(f)));
  }
  const p = medmnistLike();
  try {
    const ds = await openDataset(root, { ...p.datasetOptions(), split: 'test' });
    const { images, ids } = stackSplit(ds.split('test'));
    const px = p.pixelsPerImage;
    for (const [i, id] of ids.entries()) {
      const fromPath = await p.preprocess(id);
      const fromBytes = await p.preprocess(fs.readFileSync(id));
      assert.deepEqual(fromPath, images.subarray(i * px, (i + 1) * px), `${id}: the data set saw another array than classify`);
      assert.deepEqual(fromBytes, fromPath, `${id}: bytes and path differ`);
      // the 28² content sits in a black border of 2 pixels, as MedMNIST's arrays do
      assert.equal(fromPath[0], -1);
      assert.equal(fromPath[2 * 32 + 16]! > -1, true);
    }
  } finally {
    p.dispose();
  }
});

test('a folder written before the pipeline (config.json v1) loads with the preprocessing it was trained with', () => {
  const denoiser = createDenoiser({ preset: 'tiny' });
  const v1 = {
    model: denoiser.config, train: { seed: 3, haarScale: 'orthonormal' },
    data: { path: '/somewhere/pneumoniamnist.npz', imageSize: 32, contentSize: 28, channels: 1, limit: null, splitSeed: 3 },
    classNames: ['normal', 'pneumonia'],
  };
  const folder = path.join(dir, 'v1');
  saveCheckpoint(folder, { config: v1, model: denoiser.params.toNamedArrays(), state: { step: 5, classNames: v1.classNames, dataFingerprint: 'x', resume: {} } });
  denoiser.dispose();
  const p = loadPipeline(folder);
  try {
    // an .npz path without 'fit' means MedMNIST's centre crop, as version 1 read it
    assert.deepEqual(p.preprocessing, { channels: 1, imageSize: 32, contentSize: 28, fit: 'crop', wavelet: { levels: 1, scale: 'orthonormal' }, dicomWindow: 'range' });
    assert.equal(p.schedule.imageSize, 16);
    assert.equal(p.splitSeed, 3);
    assert.equal(p.step, 5);
  } finally {
    p.dispose();
  }
  const before = fs.readFileSync(path.join(folder, 'model.safetensors'));
  assert.equal(upgradeModelFolder(folder).changed, true);
  assert.equal(upgradeModelFolder(folder).changed, false, 'upgrading twice changes nothing');
  assert.deepEqual(fs.readFileSync(path.join(folder, 'model.safetensors')), before, 'weights untouched');
  const p2 = loadPipeline(folder); // state.json's hash of config.json was updated, so it still verifies
  const c = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8'));
  assert.equal(c.version, 2);
  assert.deepEqual(c.preprocess, p2.preprocessing);
  p2.dispose();
});

test('save and load give the same pipeline and the same predictions', async () => {
  const p = medmnistLike();
  const folder = path.join(dir, 'saved');
  p.save(folder);
  const q = loadPipeline(folder);
  try {
    assert.deepEqual(q.config.preprocess, p.config.preprocess);
    assert.deepEqual(q.config.schedule, p.config.schedule);
    const [a] = await classify(p, XRAY, { n: 4 });
    const [b] = await classify(q, XRAY, { n: 4 });
    assert.deepEqual(b!.meanErrors, a!.meanErrors);
  } finally {
    p.dispose();
    q.dispose();
  }
});

test('bad configs are refused naming the field and the allowed values', () => {
  const good = pipelineConfigJson(readPipelineConfig({
    model: presetConfig('tiny', { imageSize: 16, inChannels: 4, numClasses: 2 }), classNames: ['a', 'b'],
    data: { imageSize: 32, channels: 1 },
  }));
  const bad = (patch: (c: Record<string, any>) => void, re: RegExp) => {
    const c = structuredClone(good) as Record<string, any>;
    patch(c);
    assert.throws(() => readPipelineConfig(c, 'x/config.json'), re);
  };
  bad((c) => { c.preprocess.fit = 'zoom'; }, /x\/config\.json: 'preprocess\.fit' must be one of pad, crop, stretch, got "zoom"/);
  bad((c) => { c.preprocess.channels = '1'; }, /'preprocess\.channels' must be 1 \(grayscale\) or 3 \(RGB\)/);
  bad((c) => { c.preprocess.imageSize = 64; }, /'model\.imageSize' 16 does not match preprocess\.imageSize 64/);
  bad((c) => { c.preprocess.zoom = 2; }, /'preprocess\.zoom' is not a preprocessing option; allowed: channels, imageSize/);
  bad((c) => { c.schedule.kind = 'linear'; }, /kind 'linear' is not supported; allowed: cosine, shifted-cosine/);
  bad((c) => { c.model.channelMult = 'x'; }, /'channelMult' must be a non-empty list/);
  bad((c) => { c.version = 9; }, /'version' 9 is newer than this meddiff understands/);
  bad((c) => { c.classNames = ['a']; }, /'classNames' lists 1 classes for a model with numClasses = 2/);
  assert.throws(() => presetConfig('huge', { imageSize: 16, inChannels: 4, numClasses: 2 }), /unknown model preset "huge"; allowed: tiny, small, bench, base/);
  assert.throws(() => presetConfig('tiny', { imageSize: 15, inChannels: 4, numClasses: 2 }), /image size 30 \(array 15\)/);
});

test('an aborted signal stops a classification between model calls', async () => {
  const p = medmnistLike();
  try {
    const x = await p.preprocess(XRAY);
    const ac = new AbortController();
    let calls = 0;
    forwardBytesPerRow(p.denoiser); // the rows-per-call measurement (cached per model) is not a classifier call
    const apply = p.denoiser.apply.bind(p.denoiser);
    // the first model call aborts: the classifier must make no second one
    (p.denoiser as { apply: typeof apply }).apply = (z, l, c) => { calls++; ac.abort(new Error('client went away')); return apply(z, l, c); };
    const clf = new DiffusionClassifier(p, { n: 8, batchSize: 2 });
    assert.throws(() => clf.classify(x, 1, { signal: ac.signal }), /client went away/);
    assert.equal(calls, 1);
  } finally {
    p.dispose();
  }
});

test('an RGB data set goes end to end: train (batch clamped to the data), classify, explain', async () => {
  // 8 colour images in class folders (fewer than the default batch of 64), from two dermoscopy fixtures
  const root = path.join(dir, 'rgb');
  const srcs = ['data/fixtures/ham10000_ISIC_0024306.jpg', 'data/fixtures/ham10000_ISIC_0024310.jpg'];
  for (let i = 0; i < 8; i++) {
    const cls = i % 2 === 0 ? 'benign' : 'melanoma';
    fs.mkdirSync(path.join(root, cls), { recursive: true });
    await sharp(srcs[i % 2]!).rotate(90 * Math.floor(i / 2)).resize(48, 40).png().toFile(path.join(root, cls, `img${i}.png`));
  }
  const warnings: string[] = [];
  const out = path.join(dir, 'rgb-run');
  const r = await trainFromData({ data: root, out, config: 'tiny', imageSize: 32, train: { steps: 2 }, valEvery: 0, onWarning: (m) => warnings.push(m) });
  assert.equal(r.steps, 2);
  assert.ok(warnings.some((w) => /batch size 64 is larger than the \d training images; using \d/.test(w)), warnings.join('\n'));
  const p = loadPipeline(out);
  try {
    assert.equal(p.channels, 3);
    assert.equal(p.denoiser.config.inChannels, 12);
    assert.deepEqual(p.classNames, ['benign', 'melanoma']);
    const [c] = await classify(p, srcs[1]!, { n: 3 });
    assert.ok(p.classNames.includes(c!.prediction));
    assert.equal(c!.votes.reduce((a, b) => a + b, 0), 3);
    const [e] = await explain(p, srcs[1]!, { explain: { steps: 2 }, classify: { n: 3 } });
    assert.equal(e!.channels, 3);
    assert.equal(e!.reconstructions.length, 2);
    assert.equal(e!.reconstructions[0]!.length, 32 * 32 * 3);
    assert.equal(e!.signed, false, 'colour difference maps are absolute');
    assert.equal(e!.difference.length, 32 * 32);
  } finally {
    p.dispose();
  }
});

test('presets scale with --image-size: tiny trains at 64² pixels', async () => {
  const out = path.join(dir, 'run64');
  const r = await trainFromData({ data: 'data/pneumoniamnist.npz', out, config: 'tiny', imageSize: 64, limit: 8, train: { steps: 1, batchSize: 4, microBatch: 4 }, valEvery: 0 });
  assert.equal(r.steps, 1);
  const p = loadPipeline(out);
  try {
    assert.equal(p.imageSize, 64);
    assert.equal(p.denoiser.config.imageSize, 32);
    assert.equal(p.schedule.imageSize, 32, 'the schedule follows the array side and is stored');
    const m = p.denoiser.config;
    assert.ok(m.kind === 'unet' && Math.max(...m.attentionResolutions) <= 16);
  } finally {
    p.dispose();
  }
});

test('an aborted training run keeps a checkpoint of its last step and resumes from it', async () => {
  const out = path.join(dir, 'abort');
  const ac = new AbortController();
  const o = { data: 'data/pneumoniamnist.npz', out, config: 'tiny', limit: 8, valEvery: 0, train: { steps: 6, batchSize: 4, microBatch: 4, logEvery: 1, checkpointEvery: 100 } };
  await assert.rejects(trainFromData({ ...o, signal: ac.signal, onLog: (m) => { if (m.step === 2) ac.abort(new Error('stopped by the user')); } }), /stopped by the user/);
  const state = JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'state.json'), 'utf8'));
  assert.equal(state.step, 2, 'the checkpoint holds the last finished step');
  const r = await trainFromData({ ...o, resume: true });
  assert.equal(r.steps, 6);
});

test('classifyFiles answers every readable file and gives the others their error', async () => {
  const p = medmnistLike();
  try {
    const bad = path.join(dir, 'broken.png');
    fs.writeFileSync(bad, fs.readFileSync(XRAY).subarray(0, 200)); // a truncated PNG
    const { outcomes, failed } = await classifyFiles(p, [XRAY, bad, 'missing.png', XRAY2], { n: 3 });
    assert.equal(failed, 2);
    assert.match(outcomes[1]!.error!, /broken\.png: cannot decode image/);
    assert.match(outcomes[2]!.error!, /missing\.png: file not found/);
    const alone = await classify(p, [XRAY, XRAY2], { n: 3 });
    assert.deepEqual(outcomes[0]!.result!.meanErrors, alone[0]!.meanErrors);
    assert.deepEqual(outcomes[3]!.result!.meanErrors, alone[1]!.meanErrors);
  } finally {
    p.dispose();
  }
});

test('classify: names label the inputs, a caller\'s own threshold is not called calibrated, an OOD threshold holds only for its window', async () => {
  const p = medmnistLike();
  try {
    const bytes = fs.readFileSync(XRAY);
    await assert.rejects(classify(p, [new Uint8Array(10)], { names: ['upload.png'], n: 2 }), /upload\.png: cannot decode image/);
    p.calibration = {
      kind: 'vote-share-threshold', positive: 1, threshold: 0.5, fittedOn: { split: 'val', images: 1, n: 2, balancedAccuracy: 1, uncalibratedBalancedAccuracy: 1 },
      ood: { score: 'min-class-mean-error', threshold: 1e9, quantile: 0.98, fittedOn: { split: 'val', images: 1, n: 2, tRange: [0, 1], mirror: false } },
    };
    const [a] = await classify(p, [bytes], { names: ['xray.png'], n: 2 });
    assert.equal(a!.calibrated, true);
    assert.equal(a!.ood!.flagged, false);
    const [b] = await classify(p, [bytes], { n: 2, decisionThreshold: { positive: 1, threshold: 0.3 } });
    assert.equal(b!.calibrated, false, 'the caller\'s threshold decided, not the calibration');
    assert.equal(b!.threshold!.value, 0.3);
    const warnings: string[] = [];
    const [c] = await classify(p, [bytes], { n: 2, tRange: [0.5, 1], logger: { warn: (m) => warnings.push(m) } });
    assert.equal(c!.ood, null, 'scores from another window are not compared with this threshold');
    assert.ok(warnings.some((w) => /out-of-distribution threshold was fitted with pairs at t ∈ \[0, 1\]/.test(w)), warnings.join('\n'));
  } finally {
    p.dispose();
  }
});

test('DICOM windowing follows the model: Window Center/Width for new models, the data range for folders from before VOI', async () => {
  // a 12-bit ramp whose window shows only the middle of the range
  const rows = 32, cols = 32;
  const pixels = Array.from({ length: rows * cols }, (_, i) => Math.round((i / (rows * cols - 1)) * 4095));
  const dcm = makeDicom({ rows, cols, pixels, bitsStored: 12, windowCenter: 2048, windowWidth: 1024 });
  const mk = (dicomWindow: 'voi' | 'range') => createPipeline({ denoiser: createDenoiser({ preset: 'tiny' }), classNames: ['a', 'b'], preprocess: { channels: 1, imageSize: 32, dicomWindow } });
  const voi = mk('voi'), range = mk('range');
  try {
    const a = await voi.preprocess(dcm, 'w.dcm'), b = await range.preprocess(dcm, 'w.dcm');
    // the range rule maps the ramp linearly from −1 to 1; the window saturates the first and last quarter
    assert.ok(Math.abs(b[0]! + 1) < 1e-3 && Math.abs(b[b.length - 1]! - 1) < 1e-3);
    assert.ok(Math.abs(a[100]! + 1) < 1e-3, 'below the window: black');
    assert.ok(Math.abs(a[a.length - 100]! - 1) < 1e-3, 'above the window: white');
    assert.ok(Math.abs(a[(rows * cols) / 2]! - b[(rows * cols) / 2]!) < 0.01, 'both agree at the window centre');
  } finally {
    voi.dispose();
    range.dispose();
  }
});
