// Five classes end to end through the `meddiff` command (tiny model, a slice of RetinaMNIST):
// calibrate fits class offsets on val, classify and evaluate apply them, pruning counts its passes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = path.resolve('bin/meddiff.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-cli-k5-'));
const model = path.join(dir, 'run');
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env }, timeout: 240_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

before(() => {
  const r = run('train', '--data', 'data/retinamnist.npz', '--out', model, '--config', 'tiny', '--steps', '2',
    '--batch', '8', '--limit', '40', '--val-every', '2', '--val-images', '8', '--val-pairs', '2', '--lr', '1e-3', '--warmup', '0');
  assert.equal(r.code, 0, r.err);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('calibrate → classify → evaluate with five grades: class offsets stored and applied, pruned passes counted', () => {
  assert.match(run('calibrate', '--model', model, '--data', 'data/retinamnist.npz', '--split', 'test').err, /test split would leak/);
  assert.match(run('calibrate', '--model', model, '--data', 'data/retinamnist.npz', '--limit', '4', '--n', '2', '--search-t').err, /5 classes.*drop --search-t/);
  assert.match(run('calibrate', '--model', model, '--data', 'data/retinamnist.npz', '--limit', '4', '--n', '2', '--prune-after', '1', '--prune-keep', '2').err, /drop --prune-after/);
  const c = run('calibrate', '--model', model, '--data', 'data/retinamnist.npz', '--limit', '15', '--n', '3');
  assert.equal(c.code, 0, c.err);
  assert.match(c.out, /class offsets on the vote shares: 0 \+0\.000, 1 [+−]/);
  const file = c.out.match(/wrote (.*calibration\.json)/)![1]!;
  const cal = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(cal.kind, 'vote-share-offsets');
  assert.equal(cal.offsets.length, 5);
  assert.equal(cal.offsets[0], 0);
  assert.match(cal.weightsSha256, /^[0-9a-f]{64}$/);
  assert.ok(cal.fittedOn.balancedAccuracy >= cal.fittedOn.uncalibratedBalancedAccuracy, 'the fit does not lower balanced accuracy on its own split');

  const k = run('classify', '--model', model, '--n', '3', '--prune-after', '1', '--prune-keep', '2', '--json', 'data/fixtures/ham10000_ISIC_0024306.jpg');
  assert.equal(k.code, 0, k.err);
  const r = JSON.parse(k.out).results[0];
  assert.equal(r.decision, 'offsets');
  assert.equal(r.calibrated, true);
  assert.deepEqual(Object.values(r.classOffsets), cal.offsets);
  assert.equal(r.forwardPasses, 1 * 5 + 2 * 2);
  assert.equal(r.keptClasses.length, 2);
  assert.match(run('classify', '--model', model, '--prune-after', '2', 'data/fixtures/ham10000_ISIC_0024306.jpg').err, /--prune-after and --prune-keep go together/);

  const e = run('evaluate', '--model', model, '--data', 'data/retinamnist.npz', '--limit', '10', '--n', '3', '--prune-after', '1', '--prune-keep', '2', '--out', path.join(dir, 'rep'), '--json');
  assert.equal(e.code, 0, e.err);
  const j = JSON.parse(e.out);
  assert.equal(j.calibrated.calibration.kind, 'vote-share-offsets');
  assert.equal(j.confusionMatrix.length, 5);
  assert.equal(j.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0), 10);
  assert.equal(j.calibrated.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0), 10);
  assert.equal(j.timing.meanForwardPassesPerImage, 9);
  assert.equal(j.sensitivity, null);
  const html = fs.readFileSync(path.join(dir, 'rep', 'report.html'), 'utf8');
  assert.match(html, /<h2>Calibrated decision<\/h2>/);
  assert.match(html, /The class with the highest vote share plus its offset/);
});
