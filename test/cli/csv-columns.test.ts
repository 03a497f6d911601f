// A CSV the way HAM10000 ships it (label column 'melanoma', a balanced flag, a lesion id, masks)
// through `meddiff train` and `meddiff evaluate`: the columns and filter given once at training
// are recorded in config.json, so evaluation sees the same rows and the same lesion-grouped split.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = path.resolve('bin/meddiff.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-csvcols-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env }, timeout: 240_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

test('train with --label-column/--filter/--group-column, evaluate without them', () => {
  const fixtures = ['ham10000_ISIC_0024306.jpg', 'ham10000_ISIC_0024310.jpg'].map((f) => path.resolve('data/fixtures', f));
  fs.mkdirSync(path.join(dir, 'images'));
  const lines = ['path,lesion_id,melanoma,balanced'];
  for (let i = 0; i < 48; i++) {
    fs.copyFileSync(fixtures[i % 2]!, path.join(dir, 'images', `img${i}.jpg`));
    // 24 lesions of two images each; rows with balanced=0 must never be read
    lines.push(`images/img${i}.jpg,HAM_${Math.floor(i / 2)},${i % 4 < 2 ? 'benign' : 'melanoma'},${i % 8 === 7 ? 0 : 1}`);
  }
  lines.push('images/missing.jpg,HAM_99,benign,0');
  fs.writeFileSync(path.join(dir, 'split.csv'), lines.join('\n') + '\n');
  const csv = path.join(dir, 'split.csv');
  const r = run('train', '--data', csv, '--label-column', 'melanoma', '--filter', 'balanced=1', '--group-column', 'lesion_id',
    '--out', path.join(dir, 'run'), '--config', 'tiny', '--image-size', '16', '--steps', '2', '--batch', '4', '--val-every', '0');
  assert.equal(r.code, 0, r.err);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'run', 'checkpoint', 'config.json'), 'utf8'));
  assert.deepEqual(cfg.data.csv, { labelColumn: 'melanoma', filters: { balanced: ['1'] }, groupColumn: 'lesion_id' });
  assert.deepEqual(cfg.classNames, ['benign', 'melanoma']);
  const e = run('evaluate', '--model', path.join(dir, 'run'), '--data', csv, '--split', 'test', '--n', '2', '--json', '--out', path.join(dir, 'report'));
  assert.equal(e.code, 0, e.err);
  const preds = fs.readFileSync(path.join(dir, 'report', 'predictions.csv'), 'utf8').trim().split('\n').slice(1);
  assert.ok(preds.length > 0 && preds.length < 42, `${preds.length} test images of the 42 kept rows`);
  // a column that does not exist is named, with the ones there
  const bad = run('evaluate', '--model', path.join(dir, 'run'), '--data', csv, '--label-column', 'dx', '--n', '2', '--out', path.join(dir, 'r2'));
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /no column 'dx' \(--label-column\); the columns are: path, lesion_id, melanoma, balanced/);
});
