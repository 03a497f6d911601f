// The multiscale OOD score (v2) end to end with a tiny model on real data: calibrate stores it,
// calibration.json reads it back (or refuses a damaged one naming the field), classify applies it
// with per-image seeding, evaluate --ood uses it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setup } from '../helpers.ts';
import { tempDir } from '../data/helpers.ts';
import { createDenoiser } from '../../src/models/index.ts';
import { createPipeline, loadCalibration, saveCalibration, type DiffusionPipeline, type MultiscaleOod } from '../../src/pipeline/index.ts';
import { bandFeatures, calibrate, classifyPixels, classifySettings, multiscaleFeatures, multiscaleScores } from '../../src/classify/index.ts';
import { oodDetection } from '../../src/eval/index.ts';

const DATA = 'data/pneumoniamnist.npz';
const tmp = tempDir('meddiff-ood-ms-test-');
after(() => tmp.cleanup());

function tiny(): DiffusionPipeline {
  return createPipeline({
    denoiser: createDenoiser({ preset: 'tiny' }), classNames: ['normal', 'pneumonia'],
    preprocess: { channels: 1, imageSize: 32, contentSize: 28, fit: 'crop', wavelet: { levels: 1, scale: 'orthonormal' } },
  });
}

// one fit shared by the tests below (20 train images, 12 val images: 320 forward passes)
let p: DiffusionPipeline, fit: MultiscaleOod;
before(async () => {
  await setup();
  p = tiny();
  const r = await calibrate(p, { data: DATA, limit: 12, classify: { n: 3 }, oodScore: 'multiscale', oodTrainImages: 20, save: false });
  fit = r.calibration.ood as MultiscaleOod;
});
after(() => p?.dispose());

test('calibrate --ood-score multiscale stores the Gaussian and a conformal threshold, and calibration.json round-trips it', async () => {
  assert.equal(fit.score, 'multiscale');
  assert.deepEqual(fit.times, [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95]);
  assert.equal(fit.mean.length, 10);
  assert.equal(fit.precision.length, 10);
  assert.equal(fit.trainImages, 20);
  assert.ok(fit.ridge > 0);
  // 12 val scores at quantile 0.98: ⌈13 · 0.98⌉ = 13 > 12, so the largest, said to be capped
  assert.deepEqual(fit.fittedOn, { split: 'val', images: 12, rank: 12, capped: true });
  const { images, count } = await p.loadSplit(DATA, 'val', { limit: 12 });
  const scores = multiscaleScores(p, images, count, fit);
  assert.equal(fit.threshold, Math.max(...scores), 'the threshold is the largest val score');
  const dir = path.join(tmp.dir, 'rt');
  fs.mkdirSync(dir, { recursive: true });
  const { weightsSha256: _w, ...cal } = p.calibration!; // an in-memory pipeline has no weight file to hash
  saveCalibration(dir, cal);
  assert.deepEqual(loadCalibration(dir), JSON.parse(JSON.stringify(cal)));
});

test('the default score writes the same calibration.json as before (no multiscale fields)', async () => {
  const q = tiny();
  try {
    const a = await calibrate(q, { data: DATA, limit: 6, classify: { n: 3 }, save: false });
    const b = await calibrate(q, { data: DATA, limit: 6, classify: { n: 3 }, oodScore: 'min-class-mean-error', save: false });
    assert.equal(JSON.stringify(b.calibration), JSON.stringify(a.calibration));
    assert.deepEqual(Object.keys(a.calibration.ood!), ['score', 'threshold', 'quantile', 'fittedOn']);
    assert.equal(a.calibration.ood!.score, 'min-class-mean-error');
  } finally {
    q.dispose();
  }
});

test('features are seeded per image content: the same for an image whatever its position, batch or companions', async () => {
  const { images } = await p.loadSplit(DATA, 'test', { limit: 3 });
  const px = p.pixelsPerImage, img = (k: number) => images.subarray(k * px, (k + 1) * px);
  const o = { times: fit.times, seed: 0 };
  const all = multiscaleFeatures(p, images, 3, o);
  const reordered = new Float32Array(2 * px); reordered.set(img(2)); reordered.set(img(0), px);
  const one = multiscaleFeatures(p, reordered, 2, { ...o, batchSize: 10 }); // one image per model call
  assert.deepEqual(one[0], all[2]);
  assert.deepEqual(one[1], all[0]);
  assert.notDeepEqual(all[0], all[1], 'different images, different features');
  assert.notDeepEqual(multiscaleFeatures(p, img(0).slice(), 1, { ...o, seed: 1 })[0], all[0], 'another seed, other noise');
  assert.ok(all.every((f) => f.length === 10 && f.every(Number.isFinite)));
});

test('classify applies a stored multiscale threshold: score, flag, kind, 10 more forward passes; any window', async () => {
  const { images, count } = await p.loadSplit(DATA, 'test', { limit: 4 });
  const scores = multiscaleScores(p, images, count, fit);
  const sorted = [...scores].sort((a, b) => a - b);
  // a threshold between the 2nd and 3rd score: exactly the two highest are flagged
  const threshold = (sorted[1]! + sorted[2]!) / 2;
  const saved = p.calibration;
  p.calibration = { ...saved!, ood: { ...fit, threshold } };
  try {
    const warnings: string[] = [];
    const r = classifyPixels(p, images, count, { n: 3, tRange: [0.3, 1], logger: { warn: (m) => warnings.push(m) } }).results;
    const plain = classifyPixels(p, images, count, { n: 3, tRange: [0.3, 1], calibration: false }).results;
    assert.deepEqual(r.map((x) => x.ood!.score), scores);
    assert.deepEqual(r.map((x) => x.ood!.flagged), scores.map((s) => s > threshold));
    assert.equal(r.filter((x) => x.ood!.flagged).length, 2);
    assert.ok(r.every((x) => x.ood!.kind === 'multiscale' && x.ood!.threshold === threshold));
    assert.deepEqual(r.map((x) => x.forwardPasses), plain.map((x) => x.forwardPasses + 10));
    assert.ok(!warnings.some((w) => /out-of-distribution/.test(w)), 'the multiscale score does not depend on the window');
    assert.equal(plain[0]!.ood, null);
    // evaluate --ood: the stored kind scores both sides
    const rep = await oodDetection(p, { images, count, minClassMeanErrors: [1, 2, 3, 4] }, classifySettings(p, { n: 3 }).config, { data: ['data/breastmnist.npz'], limit: 3 }, p.calibration.ood!);
    assert.equal(rep.score, 'multiscale');
    assert.equal(rep.inDistribution.falseFlagRate, 0.5);
    assert.ok(Math.abs(rep.inDistribution.meanScore - scores.reduce((a, b) => a + b, 0) / 4) < 1e-12);
    assert.equal(rep.sets[0]!.images, 3);
  } finally {
    p.calibration = saved;
  }
});

test('refusals: unknown score, --ood-train-images without multiscale, too few train images, fitting on the train split, damaged files', async () => {
  const q = tiny();
  try {
    await assert.rejects(calibrate(q, { data: DATA, oodScore: 'energy' as never, save: false }), /--ood-score must be one of min-class-mean-error, multiscale, got 'energy'/);
    await assert.rejects(calibrate(q, { data: DATA, oodTrainImages: 50, save: false }), /--ood-train-images applies to --ood-score multiscale/);
    await assert.rejects(calibrate(q, { data: DATA, oodScore: 'multiscale', oodTrainImages: 5, save: false }), /'trainImages' \(--ood-train-images\) must be an integer > 10/);
    await assert.rejects(calibrate(q, { data: DATA, split: 'train', oodScore: 'multiscale', save: false }), /fit its threshold on another split: --split val/);
    await assert.rejects(calibrate(q, { data: DATA, split: 'test', oodScore: 'multiscale', save: false }), /--split test/);
  } finally {
    q.dispose();
  }
  const dir = path.join(tmp.dir, 'bad'), f = path.join(dir, 'calibration.json');
  fs.mkdirSync(dir, { recursive: true });
  const { weightsSha256: _w, ...cal } = p.calibration!;
  const good = { ...cal, ood: fit };
  const bad = (ood: Record<string, unknown>, field: string, want: RegExp) => {
    fs.writeFileSync(f, JSON.stringify({ ...good, ood: { ...fit, ...ood } }));
    assert.throws(() => loadCalibration(dir), (e: Error) => e.message.startsWith(f) && e.message.includes(`'${field}'`) && want.test(e.message), field);
  };
  bad({ score: 'v3' }, 'ood.score', /'min-class-mean-error' or 'multiscale'/);
  bad({ times: [0.5, 0.5] }, 'ood.times', /distinct/);
  bad({ mean: fit.mean.slice(1) }, 'ood.mean', /10 finite numbers/);
  bad({ precision: fit.precision.slice(0, 9) }, 'ood.precision', /10 × 10/);
  bad({ precision: fit.precision.map((r, i) => r.map((x, j) => (i === j ? -Math.abs(x) : x))) }, 'ood.precision', /positive-definite/);
  bad({ trainImages: 1 }, 'ood.trainImages', /integer ≥ 2/);
  bad({ seed: -1 }, 'ood.seed', /non-negative/);
  bad({ fittedOn: { split: 'val', images: 12, rank: 12 } }, 'ood.fittedOn.capped', /true or false/);
  fs.writeFileSync(f, JSON.stringify(good));
  assert.equal((loadCalibration(dir)!.ood as MultiscaleOod).score, 'multiscale');
});

test('bandFeatures: log mean square per Haar band and the LL mean, by hand', () => {
  // two pixels of one channel: [LL, LH, HL, HH] = [1, 2, 0, -1] and [3, 0, 0, 1]
  const f = bandFeatures(Float32Array.of(1, 2, 0, -1, 3, 0, 0, 1), 1);
  assert.deepEqual(f.slice(0, 4).map((x) => +x.toFixed(12)), [Math.log(5), Math.log(2), Math.log(1e-30), Math.log(1)].map((x) => +x.toFixed(12)));
  assert.equal(f[4], 2);
  // colour: channels [LL r g b, LH r g b, ...]; a band's mean square is over its three channels
  const c = new Float32Array(12); c.set([1, 1, 4], 0); c.set([2, 2, 2], 3);
  const fc = bandFeatures(c, 3);
  assert.ok(Math.abs(fc[0]! - Math.log(6)) < 1e-12 && Math.abs(fc[1]! - Math.log(4)) < 1e-12 && fc[4] === 2);
  assert.throws(() => bandFeatures(new Float32Array(6), 1), /not whole pixels of 4 channels/);
});

test('--ood-bands (v3): the vector gains the 5 band statistics, stored as bands: true, applied by multiscaleScores', async () => {
  const q = tiny();
  try {
    const r = await calibrate(q, { data: DATA, limit: 12, classify: { n: 3 }, oodScore: 'multiscale', oodTrainImages: 20, oodBands: true, save: false });
    const v3 = r.calibration.ood as MultiscaleOod;
    assert.equal(v3.bands, true);
    assert.equal(v3.mean.length, 15);
    assert.equal(v3.precision.length, 15);
    const { images, count } = await q.loadSplit(DATA, 'val', { limit: 12 });
    const f = multiscaleFeatures(q, images, count, { times: v3.times, seed: 0, bands: true });
    const plain = multiscaleFeatures(q, images, count, { times: v3.times, seed: 0 });
    assert.deepEqual(f.map((x) => x.slice(0, 10)), plain, 'the error features are v2\'s');
    const px = q.denoiser.config.imageSize ** 2 * 4, xs = q.toModelSpaceArray(images, count);
    assert.deepEqual(f[3]!.slice(10), bandFeatures(xs.subarray(3 * px, 4 * px), 1));
    assert.equal(v3.threshold, Math.max(...multiscaleScores(q, images, count, v3)), 'capped: the largest val score');
    // a v2 file stays v2: no bands field; a v3 fit without its band rows is refused
    assert.equal('bands' in fit, false);
    assert.throws(() => multiscaleScores(q, images, count, { ...v3, mean: v3.mean.slice(0, 10), precision: v3.precision.slice(0, 10).map((row) => row.slice(0, 10)) }), /15 features \(10 times \+ 5 band statistics\) but a mean of 10/);
    await assert.rejects(calibrate(q, { data: DATA, oodBands: true, save: false }), /--ood-bands applies to --ood-score multiscale/);
    const dir = path.join(tmp.dir, 'v3'), file = path.join(dir, 'calibration.json');
    fs.mkdirSync(dir, { recursive: true });
    const { weightsSha256: _w, ...cal } = r.calibration;
    saveCalibration(dir, cal);
    assert.deepEqual(loadCalibration(dir)!.ood, JSON.parse(JSON.stringify(v3)));
    fs.writeFileSync(file, JSON.stringify({ ...cal, ood: { ...v3, bands: 'yes' } }));
    assert.throws(() => loadCalibration(dir), /'ood\.bands'.*true or false/);
    fs.writeFileSync(file, JSON.stringify({ ...cal, ood: { ...v3, bands: false } }));
    assert.throws(() => loadCalibration(dir), /'ood\.mean'.*10 finite numbers/);
  } finally {
    q.dispose();
  }
});
