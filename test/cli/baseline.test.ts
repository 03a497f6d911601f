// Three commands, as a user would run them: train a baseline, evaluate it (with MC dropout and an
// ensemble), compare it with the shipped diffusion model's report; plus calibrate and classify on a
// baseline folder, and the errors for what cannot work.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = path.resolve('bin/meddiff.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-cli-baseline-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env }, timeout: 300_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const DATA = 'data/breastmnist.npz';
const tiny = ['--data', DATA, '--image-size', '8', '--limit', '32', '--epochs', '1', '--batch', '16'];

test('baseline train → evaluate → compare, and calibrate/classify on the baseline folder', () => {
  for (const s of ['0', '1']) {
    const r = run('baseline', 'train', '--arch', 'resnet18', '--dropout', '0.3', ...tiny, '--seed', s, '--out', path.join(dir, `r${s}`));
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /from scratch/);
  }
  const c = run('calibrate', '--model', path.join(dir, 'r0'), '--data', DATA);
  assert.equal(c.code, 0, c.err);
  assert.match(c.out, /temperature [\d.]+ fitted on 78 val images/);
  const e = run('evaluate', '--model', path.join(dir, 'r0'), '--data', DATA, '--limit', '40', '--mc-dropout', '3', '--ensemble', path.join(dir, 'r1'), '--json', '--out', path.join(dir, 'rep'));
  assert.equal(e.code, 0, e.err);
  const rep = JSON.parse(e.out);
  assert.equal(rep.kind, 'baseline');
  assert.deepEqual(rep.methods.map((m: { method: string }) => m.method), ['ensemble', 'softmax', 'temperature', 'mc-dropout']);
  assert.equal(rep.data.images, 40);
  assert.equal(rep.timing.forwardPassesPerImage, 5);
  assert.ok(fs.existsSync(path.join(dir, 'rep', 'report.html')));
  const cmp = run('compare', path.join(dir, 'rep'), 'reports/breastmnist-test', '--out', path.join(dir, 'cmp'));
  assert.equal(cmp.code, 0, cmp.err);
  assert.match(cmp.out, /ResNet-18 ensemble \(2\)/);
  assert.match(cmp.out, /UNet diffusion classifier/, cmp.out + cmp.err);
  const summary = JSON.parse(fs.readFileSync(path.join(dir, 'cmp', 'compare.json'), 'utf8'));
  assert.match(JSON.stringify(summary), /ResNet-18 ensemble \(2\)/);
  const diff = run('classify', '--model', path.join(dir, 'r0'), '--n', '11', 'data/fixtures/nih_cxr14_00000001_000.png');
  assert.equal(diff.code, 1);
  assert.match(diff.err, /--n applies to diffusion models/);
  const cal = run('calibrate', '--model', path.join(dir, 'r0'), '--data', DATA, '--search-t');
  assert.equal(cal.code, 1);
  assert.match(cal.err, /--search-t applies to diffusion models; a baseline's calibration is temperature scaling/);
  const k = run('classify', '--model', path.join(dir, 'r0'), '--json', 'data/fixtures/nih_cxr14_00000001_000.png', 'package.json');
  assert.equal(k.code, 1, 'one unreadable file: exit 1');
  const rows = JSON.parse(k.out).results;
  assert.equal(rows.length, 2);
  assert.ok(['malignant', 'normal+benign'].includes(rows[0].prediction), rows[0].prediction);
  assert.ok(rows[1].error);
});

test('clear errors: unknown architecture, MC dropout without dropout, mismatched ensembles, diffusion-only options', () => {
  const a = run('baseline', 'train', '--arch', 'resnet19', ...tiny, '--out', path.join(dir, 'x'));
  assert.equal(a.code, 1);
  assert.match(a.err, /--arch 'resnet19' is not a baseline; choose one of resnet18, resnet50, efficientnet-b0, vit-s16/);
  const nd = run('baseline', 'train', '--arch', 'resnet18', ...tiny, '--out', path.join(dir, 'nd'));
  assert.equal(nd.code, 0, nd.err);
  const m = run('evaluate', '--model', path.join(dir, 'nd'), '--data', DATA, '--limit', '8', '--mc-dropout', '3', '--out', path.join(dir, 'rx'));
  assert.equal(m.code, 1);
  assert.match(m.err, /trained without dropout/);
  const other = run('baseline', 'train', '--arch', 'resnet18', '--data', DATA, '--image-size', '16', '--limit', '16', '--epochs', '1', '--batch', '16', '--out', path.join(dir, 'o16'));
  assert.equal(other.code, 0, other.err);
  const en = run('evaluate', '--model', path.join(dir, 'nd'), '--data', DATA, '--limit', '8', '--ensemble', path.join(dir, 'o16'), '--out', path.join(dir, 'ry'));
  assert.equal(en.code, 1);
  assert.match(en.err, /same input size/);
  const d = run('evaluate', '--model', 'models/breastmnist-unet', '--data', DATA, '--limit', '4', '--mc-dropout', '3', '--out', path.join(dir, 'rz'));
  assert.equal(d.code, 1);
  assert.match(d.err, /apply to baseline models/);
  const j = run('evaluate', '--model', 'models/breastmnist-unet', '--data', DATA, '--limit', '4', '--judge', 'models/breastmnist-unet', '--explain', '1', '--out', path.join(dir, 'rj'));
  assert.equal(j.code, 1);
  assert.match(j.err, /not a baseline model folder/);
});
