// End to end through the `meddiff` command, as a user runs it (tiny model, a slice of real data).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BIN = path.resolve('bin/meddiff.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-cli-'));
const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env }, timeout: 240_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

before(() => {
  const r = run('train', '--data', 'data/pneumoniamnist.npz', '--out', path.join(dir, 'run'), '--config', 'tiny', '--steps', '4',
    '--batch', '8', '--limit', '64', '--val-every', '2', '--val-images', '8', '--val-pairs', '2', '--lr', '1e-3', '--warmup', '0');
  assert.equal(r.code, 0, r.err);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('every command has --help with examples', () => {
  for (const cmd of ['train', 'sample', 'classify', 'evaluate', 'explain', 'calibrate', 'export', 'info']) {
    const r = run(cmd, '--help');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Examples:/, cmd);
  }
});

test('info --json reports the backend and kernels', () => {
  const r = run('info', '--json');
  assert.equal(r.code, 0, r.err);
  const info = JSON.parse(r.out);
  assert.ok(['native', 'wasm', 'cpu'].includes(info.backend));
  assert.ok(Number.isInteger(info.threads) && info.threads >= 1, `threads ${info.threads}`);
  assert.ok(Array.isArray(info.nativeKernels));
});

test('train wrote a checkpoint, metrics, validation and best/', () => {
  const run0 = path.join(dir, 'run');
  for (const f of ['checkpoint/state.json', 'checkpoint/model.safetensors', 'checkpoint/ema.safetensors', 'checkpoint/optimizer.safetensors', 'checkpoint/config.json', 'metrics.jsonl', 'best/state.json']) {
    assert.ok(fs.existsSync(path.join(run0, f)), f);
  }
  const lines = fs.readFileSync(path.join(run0, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => l.validation).length, 2);
});

test('sample writes a PNG grid', () => {
  const out = path.join(dir, 'grid.png');
  const r = run('sample', '--model', path.join(dir, 'run'), '--class', 'all', '--n', '2', '--steps', '3', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual([...fs.readFileSync(out).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
});

test('classify --json on a real chest X-ray and evaluate --json on the test split', () => {
  const c = run('classify', '--model', path.join(dir, 'run'), '--n', '3', '--json', 'data/fixtures/nih_cxr14_00000001_000.png');
  assert.equal(c.code, 0, c.err);
  const res = JSON.parse(c.out).results[0];
  assert.ok(['normal', 'pneumonia'].includes(res.prediction));
  assert.equal(res.pairsUsed, 3);
  const e = run('evaluate', '--model', path.join(dir, 'run'), '--data', 'data/pneumoniamnist.npz', '--split', 'test', '--limit', '12', '--n', '3', '--out', path.join(dir, 'rep'), '--json');
  assert.equal(e.code, 0, e.err);
  const s = JSON.parse(e.out);
  assert.equal(s.images, 12);
  for (const f of ['report.html', 'report.json', 'predictions.csv', 'uncertainty_curve.png']) assert.ok(fs.existsSync(path.join(dir, 'rep', f)), f);
  const [head, ...rows] = fs.readFileSync(path.join(dir, 'rep', 'predictions.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
  assert.equal(rows.length, 12);
  // the printed figures are those of the rows in predictions.csv (the vote is the primary rule)
  assert.equal(s.aggregate, 'vote');
  const col = (name: string) => rows.map((r) => Number(r[head!.indexOf(name)]));
  const label = col('label'), vote = col('vote_pred'), mean = col('mean_pred');
  assert.ok(label.every((y) => y === 0 || y === 1) && vote.every((y) => y === 0 || y === 1), 'labels and predictions are class indices');
  const acc = (pred: number[]) => pred.filter((p, i) => p === label[i]).length / 12;
  assert.equal(s.accuracy, acc(vote));
  assert.equal(s.vote.accuracy, acc(vote));
  assert.equal(s.mean.accuracy, acc(mean));
  const cm = [0, 1].map((t) => [0, 1].map((p) => label.filter((y, i) => y === t && vote[i] === p).length));
  assert.deepEqual(s.confusionMatrix, cm, 'confusion matrix [true][pred] counts the csv rows');
  assert.equal(s.timing.totalForwardPasses, col('forward_passes').reduce((a, b) => a + b, 0));
});

test('bad input gets a clear error naming the argument or file', () => {
  const m = path.join(dir, 'run');
  const cases: [string[], RegExp][] = [
    [['classify', '--model', m, '--n', '0', 'data/fixtures/nih_cxr14_00000001_000.png'], /--n must be an integer ≥ 1, got '0'/],
    [['classify', '--model', m, '--aggregate', 'median', 'data/fixtures/nih_cxr14_00000001_000.png'], /'aggregate' must be one of vote, mean/],
    [['sample', '--model', m, '--class', 'cat', '--out', path.join(dir, 'x.png')], /unknown class 'cat'; the model's classes are: normal, pneumonia/],
    [['classify', '--model', path.join(dir, 'nope'), 'data/fixtures/nih_cxr14_00000001_000.png'], /does not exist/],
    [['evaluate', '--model', m, '--data', 'data/breastmnist.npz', '--limit', '2', '--n', '1', '--out', path.join(dir, 'r2')], /classes \(normal, pneumonia\) differ from the data's \(malignant, normal\+benign\)/],
    [['info', '--backend', 'gpu'], /unknown backend 'gpu'; allowed: auto, native, wasm, cpu/],
  ];
  const notModel = path.join(dir, 'precious');
  fs.mkdirSync(notModel);
  fs.writeFileSync(path.join(notModel, 'keep.txt'), 'do not delete');
  cases.push([['export', '--model', m, '--out', notModel], /exists and is not a meddiff checkpoint/]);
  const bad = path.join(dir, 'corrupt.png');
  fs.writeFileSync(bad, 'not a png at all');
  cases.push([['classify', '--model', m, bad], new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)]);
  for (const [args, re] of cases) {
    const r = run(...args);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.err, re, `${args.join(' ')} → ${r.err}`);
  }
  assert.equal(fs.readFileSync(path.join(notModel, 'keep.txt'), 'utf8'), 'do not delete');
  // one bad file among good ones: the good one is still answered, the bad one gets its error, exit code 1
  const mixed = run('classify', '--model', m, '--n', '2', '--json', 'data/fixtures/nih_cxr14_00000001_000.png', bad);
  assert.equal(mixed.code, 1, mixed.err);
  const j = JSON.parse(mixed.out);
  assert.equal(j.failed, 1);
  assert.ok(['normal', 'pneumonia'].includes(j.results[0].prediction), JSON.stringify(j.results[0]));
  assert.match(j.results[1].error, /corrupt\.png: cannot decode image/);
});

test('calibrate --search-t stores a time window and threshold that classify and evaluate then use', () => {
  const model = path.join(dir, 'run-cal');
  fs.cpSync(path.join(dir, 'run'), model, { recursive: true });
  const c = run('calibrate', '--model', model, '--data', 'data/pneumoniamnist.npz', '--limit', '12', '--n', '8', '--search-t', '--min-width', '0.5', '--significance', '1');
  assert.equal(c.code, 0, c.err);
  assert.match(c.out, /best time window t ∈ \[.*paired bootstrap p = /);
  const cal = JSON.parse(fs.readFileSync(path.join(model, 'best', 'calibration.json'), 'utf8'));
  assert.equal(cal.fittedOn.split, 'val');
  assert.ok(cal.tRange[1] - cal.tRange[0] >= 0.5 - 1e-9, `window ${cal.tRange}`);
  assert.deepEqual(cal.window.searched.tRange, cal.tRange, 'significance 1 keeps the best window');
  const k = run('classify', '--model', model, '--n', '3', '--json', 'data/fixtures/nih_cxr14_00000001_000.png');
  assert.equal(k.code, 0, k.err);
  const out = JSON.parse(k.out);
  assert.deepEqual(out.settings.tRange, cal.tRange);
  assert.equal(out.results[0].calibrated, true);
  const other = cal.tRange[0] === 0.1 && cal.tRange[1] === 0.9 ? '0,1' : '0.1,0.9';
  const e = run('evaluate', '--model', model, '--data', 'data/pneumoniamnist.npz', '--limit', '4', '--n', '3', '--t-range', other, '--json', '--out', path.join(dir, 'rep-full'));
  assert.equal(e.code, 0, e.err);
  assert.match(e.err, /differs from the calibrated window.*not applied/);
  assert.equal(JSON.parse(e.out).calibrated ?? null, null);
  assert.deepEqual(JSON.parse(e.out).tRange, other.split(',').map(Number));
  // with the calibrated window, evaluate reports the calibrated decision and how sure it is
  const ec = run('evaluate', '--model', model, '--data', 'data/pneumoniamnist.npz', '--limit', '6', '--n', '3', '--json', '--out', path.join(dir, 'rep-cal'));
  assert.equal(ec.code, 0, ec.err);
  const cj = JSON.parse(ec.out).calibrated;
  assert.equal(cj.uncertainty.curve[0].kept, 6);
  assert.equal(cj.uncertainty.curve[0].accuracy, cj.accuracy, 'nothing set aside: the calibrated accuracy');
  assert.match(fs.readFileSync(path.join(dir, 'rep-cal', 'report.html'), 'utf8'), /nearest the threshold/);
  assert.notEqual(run('calibrate', '--model', model, '--data', 'data/pneumoniamnist.npz', '--split', 'test').code, 0, 'the test split is refused');
  assert.match(run('classify', '--model', model, '--t-range', '0.7,0.2', 'x.png').err, /--t-range expects lo,hi/);
});

test('calibrate --mirror stores the mirror view; classify then uses it, and --no-mirror drops the threshold', () => {
  const model = path.join(dir, 'run-mirror');
  fs.cpSync(path.join(dir, 'run'), model, { recursive: true });
  const c = run('calibrate', '--model', model, '--data', 'data/pneumoniamnist.npz', '--limit', '8', '--n', '4', '--mirror');
  assert.equal(c.code, 0, c.err);
  const cal = JSON.parse(fs.readFileSync(path.join(model, 'best', 'calibration.json'), 'utf8'));
  assert.equal(cal.mirror, true);
  const img = 'data/fixtures/nih_cxr14_00000001_000.png';
  const k = JSON.parse(run('classify', '--model', model, '--n', '3', '--json', img).out);
  assert.equal(k.settings.mirror, true);
  assert.equal(k.results[0].calibrated, true);
  const off = run('classify', '--model', model, '--n', '3', '--no-mirror', '--json', img);
  assert.equal(off.code, 0, off.err);
  assert.match(off.err, /fitted with the mirror view.*not applied/);
  assert.equal(JSON.parse(off.out).settings.mirror, false);
  assert.equal(JSON.parse(off.out).results[0].calibrated, false);
  // --objective accuracy: a Platt fit, whose probability classify then reports
  const a = run('calibrate', '--model', model, '--data', 'data/pneumoniamnist.npz', '--limit', '24', '--n', '6', '--objective', 'accuracy');
  assert.equal(a.code, 0, a.err);
  assert.match(a.out, /Platt scaling, P = 0.5; accuracy on val: /);
  const pc = JSON.parse(fs.readFileSync(path.join(model, 'best', 'calibration.json'), 'utf8'));
  assert.equal(pc.objective, 'accuracy');
  assert.ok(Math.abs(pc.threshold - Math.min(1.000001, Math.max(0, 0.5 - pc.platt.b / pc.platt.a))) < 1e-9, 'the threshold is where P = 0.5');
  const kp = JSON.parse(run('classify', '--model', model, '--n', '3', '--json', img).out);
  const prob = kp.results[0].probability[kp.classes[pc.positive]];
  assert.ok(prob > 0 && prob < 1, `probability ${prob}`);
  // the classifier carries the threshold; early stopping keeps the thresholded decision
  const ke = JSON.parse(run('classify', '--model', model, '--n', '9', '--early-stop', 'decided', '--json', img).out);
  assert.deepEqual(ke.settings.decisionThreshold, { positive: pc.positive, threshold: pc.threshold });
  const share = ke.results[0].votes[ke.classes[pc.positive]] / ke.results[0].pairsUsed;
  assert.equal(ke.results[0].prediction, ke.classes[share >= pc.threshold ? pc.positive : 1 - pc.positive]);
  const room = share >= pc.threshold ? 1 - pc.threshold : pc.threshold;
  assert.ok(Math.abs(ke.results[0].uncertainty - Math.max(0, 1 - Math.abs(share - pc.threshold) / room)) < 1e-9, 'uncertainty measured from the threshold');
  assert.match(run('calibrate', '--model', model, '--data', 'data/pneumoniamnist.npz', '--limit', '4', '--n', '4', '--early-stop', 'decided').err, /vote shares over all N pairs.*drop --early-stop decided/);
  assert.match(run('calibrate', '--model', model, '--data', 'data/pneumoniamnist.npz', '--objective', 'f1').err, /--objective must be 'balanced' or 'accuracy'/);
});
