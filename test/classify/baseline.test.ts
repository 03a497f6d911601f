// Baseline classification and its uncertainty methods on networks built in memory (no training):
// MC dropout, ensembles, temperature scaling, the file path with bad files, the judge's crop.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setup } from '../helpers.ts';
import { createBaseline, type BaselineConfig } from '../../src/models/index.ts';
import { BASELINE_FORMAT, BASELINE_VERSION, BaselinePipeline, loadBaselinePipeline, loadTemperature, type BaselinePipelineConfig } from '../../src/pipeline/index.ts';
import { calibrateBaseline, classifyBaselineFiles, classifyBaselinePixels } from '../../src/classify/index.ts';
import { contentImage } from '../../src/eval/index.ts';

before(setup);

function pipeline(o: Partial<BaselineConfig> = {}, seed = 0, classNames = ['normal', 'pneumonia'], size = 28): BaselinePipeline {
  const net = createBaseline({ kind: 'resnet18', inChannels: 1, imageSize: size, numClasses: classNames.length, ...o }, seed);
  const config: BaselinePipelineConfig = {
    format: BASELINE_FORMAT, version: BASELINE_VERSION, model: net.config, classNames,
    preprocess: { channels: 1, imageSize: size, contentSize: size, fit: 'crop', dicomWindow: 'voi' },
  };
  return new BaselinePipeline({ net, config });
}
const images = (n: number, size = 28) => Float32Array.from({ length: n * size * size }, (_, i) => Math.sin(i * 0.37) * 0.9);

test('softmax probabilities sum to 1; MC dropout needs dropout and gives a mean and a mutual information', () => {
  const plain = pipeline();
  const x = images(6);
  const r = classifyBaselinePixels(plain, x, 6);
  assert.equal(r.primary, 'softmax');
  for (const q of r.methods.softmax!) {
    assert.ok(Math.abs(q.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.ok(q.entropy >= 0 && q.entropy <= 1);
  }
  assert.throws(() => classifyBaselinePixels(plain, x, 6, { mcDropout: 5 }), /trained without dropout.*--dropout/);
  plain.dispose();
  const drop = pipeline({ dropout: 0.5 });
  const a = classifyBaselinePixels(drop, x, 6, { mcDropout: 4, seed: 1 });
  const b = classifyBaselinePixels(drop, x, 6, { mcDropout: 4, seed: 1 });
  const c = classifyBaselinePixels(drop, x, 6, { mcDropout: 4, seed: 2 });
  assert.equal(a.primary, 'mc-dropout');
  assert.equal(a.forwardPassesPerImage, 5);
  assert.deepEqual(a.methods['mc-dropout'], b.methods['mc-dropout'], 'same seed, same masks');
  assert.notDeepEqual(a.methods['mc-dropout']!.map((q) => q.probabilities), c.methods['mc-dropout']!.map((q) => q.probabilities));
  assert.ok(a.methods['mc-dropout']!.every((q) => q.mutualInformation! >= 0));
  assert.ok(a.methods['mc-dropout']!.some((q) => q.mutualInformation! > 0), 'passes with dropout disagree a little');
  assert.throws(() => classifyBaselinePixels(drop, x, 6, { mcDropout: 1 }), /≥ 2/);
  drop.dispose();
});

test('an ensemble averages its members and refuses members that differ', () => {
  const m = [0, 1, 2].map((s) => pipeline({}, s));
  const x = images(4);
  const r = classifyBaselinePixels(m[0]!, x, 4, { ensemble: m.slice(1) });
  assert.equal(r.primary, 'ensemble');
  const each = m.map((p) => classifyBaselinePixels(p, x, 4).methods.softmax!);
  r.methods.ensemble!.forEach((q, i) => q.probabilities.forEach((v, k) => assert.ok(Math.abs(v - each.reduce((a, e) => a + e[i]!.probabilities[k]!, 0) / 3) < 1e-6)));
  const other = pipeline({}, 3, ['benign', 'malignant']);
  assert.throws(() => classifyBaselinePixels(m[0]!, x, 4, { ensemble: [other] }), /same classes/);
  assert.throws(() => classifyBaselinePixels(m[0]!, x, 4, { ensemble: [m[1]!, m[1]!] }), /same weights|give each member once/);
  const small = pipeline({}, 4, ['normal', 'pneumonia'], 16);
  assert.throws(() => classifyBaselinePixels(m[0]!, x, 4, { ensemble: [small] }), /same input size/);
  for (const p of [...m, other, small]) p.dispose();
});

test('temperature scaling is fitted on validation, stored, re-read only for the same weights, and never changes a prediction', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-bcal-'));
  const p = pipeline();
  p.save(dir);
  p.dispose();
  const bp = loadBaselinePipeline(dir);
  const { calibration, file } = await calibrateBaseline(bp, { data: 'data/pneumoniamnist.npz', limit: 40 });
  assert.ok(file && fs.existsSync(file));
  assert.ok(calibration.fittedOn.nllAfter <= calibration.fittedOn.nllBefore + 1e-12);
  assert.equal(calibration.fittedOn.split, 'val');
  await assert.rejects(calibrateBaseline(bp, { data: 'data/pneumoniamnist.npz', split: 'test', limit: 8 }), /fitting on the test split/);
  const x = images(5);
  const r = classifyBaselinePixels(bp, x, 5);
  assert.equal(r.primary, 'temperature');
  assert.deepEqual(r.methods.temperature!.map((q) => q.prediction), r.methods.softmax!.map((q) => q.prediction));
  bp.dispose();
  const again = loadBaselinePipeline(dir);
  assert.equal(again.calibration?.temperature, calibration.temperature);
  again.dispose();
  const warnings: string[] = [];
  assert.equal(loadTemperature(dir, 'f'.repeat(64), (m) => warnings.push(m)), null);
  assert.match(warnings[0]!, /other weights/);
  fs.writeFileSync(path.join(dir, 'calibration.json'), JSON.stringify({ kind: 'temperature', temperature: -1 }));
  assert.throws(() => loadBaselinePipeline(dir), /'temperature' must be a positive number/);
});

test('files: a bad one gets its error, the rest are answered', async () => {
  const p = pipeline();
  const r = await classifyBaselineFiles(p, ['data/fixtures/nih_cxr14_00000001_000.png', 'package.json']);
  assert.equal(r.failed, 1);
  assert.ok(r.outcomes[0]!.result && r.outcomes[0]!.error === null);
  assert.ok(r.outcomes[1]!.error && r.outcomes[1]!.result === null);
  p.dispose();
});

test('contentImage crops the padded content and maps [−1, 1] to 0..255', () => {
  const side = 4, content = 2;
  const px = new Float32Array(side * side).fill(-1);
  px[1 * side + 1] = 1; px[1 * side + 2] = 0; px[2 * side + 1] = -1; px[2 * side + 2] = 1;
  const img = contentImage(px, side, content, 1, 'x');
  assert.equal(img.width, 2);
  assert.deepEqual(Array.from(img.data), [255, 128, 0, 255]);
});
