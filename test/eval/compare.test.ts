import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  compareReports, compareText, writeBaselineReport, writeReport,
  type BaselineRecord, type BaselineReportInput, type CompareSummary, type PredictionRecord,
} from '../../src/eval/index.ts';

const close = (a: number | null | undefined, b: number, tol = 1e-12) => typeof a === 'number' && Math.abs(a - b) <= tol;

/**
 * Four images, N = 4 votes: ✓ (entropy 0), ✗ and ✓ tied (entropy H(¼) = 0.811), ✗ (an even split, entropy 1).
 */
function diffusionRecords(): PredictionRecord[] {
  const rows: [number, number[], number, number[]][] = [
    [0, [4, 0], 0, [0.2, 0.5]], [0, [1, 3], 1, [0.31, 0.3]], [1, [1, 3], 1, [0.5, 0.4]], [1, [2, 2], 0, [0.3, 0.32]],
  ];
  return rows.map(([label, votes, votePred, meanErrors], i) => {
    const shares = votes.map((v) => v / 4);
    const entropy = -shares.reduce((a, p) => (p > 0 ? a + p * Math.log(p) : a), 0) / Math.log(2);
    return { id: `img${i}.png`, label, votePred, meanPred: meanErrors[0]! <= meanErrors[1]! ? 0 : 1, votes, shares, entropy, meanErrors, pairsUsed: 4, forwardPasses: 8 };
  });
}

function baselineRecords(): BaselineRecord[] {
  const p: [number, number][] = [[0.9, 0.1], [0.3, 0.7], [0.4, 0.6], [0.8, 0.2]];
  return p.map((probabilities, i) => ({ id: `img${i}.png`, label: [0, 0, 1, 1][i]!, prediction: probabilities[0] > probabilities[1] ? 0 : 1, probabilities }));
}

interface Fixture { root: string; diffusion: string; baseline: string; model: string }

async function fixture(classNames = ['normal', 'pneumonia']): Promise<Fixture> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-compare-'));
  // a model folder whose state.json knows how long it trained, and whose config names the network
  const model = path.join(root, 'models', 'toy-unet');
  fs.mkdirSync(model, { recursive: true });
  fs.writeFileSync(path.join(model, 'state.json'), JSON.stringify({ step: 10, resume: { elapsedSec: 1800 } }));
  fs.writeFileSync(path.join(model, 'config.json'), JSON.stringify({ model: { kind: 'unet' } }));
  const diffusion = path.join(root, 'toy-unet-test');
  await writeReport(diffusion, {
    records: diffusionRecords(), classNames, positive: 1, plots: false,
    model: { path: 'models/toy-unet', step: 10 },
    settings: { N: 4, aggregate: 'vote', split: 'test', data: 'data/toyset.npz', timings: { totalSeconds: 2 } },
    calibrated: { calibration: { positive: 1, threshold: 0.6 }, accuracy: 0.5, balancedAccuracy: 0.5, macroF1: 0.5 },
  });
  const baseline = path.join(root, 'toy-resnet-test');
  await writeBaselineReport(baseline, baselineInput(classNames));
  return { root, diffusion, baseline, model };
}

function baselineInput(classNames: string[], over: Partial<BaselineReportInput> = {}): BaselineReportInput {
  return {
    methods: [{ method: 'softmax', records: baselineRecords() }], classNames, positive: 1, plots: false,
    model: { arch: 'resnet18', label: 'ResNet-18', trainingMinutes: 12 },
    data: { source: 'data/toyset.npz', split: 'test' }, timing: { totalSeconds: 0.02 }, ...over,
  };
}

test('compareReports: Table 1 and the uncertainty table from a diffusion and a baseline report, by hand', async () => {
  const f = await fixture();
  try {
    const out = path.join(f.root, 'cmp');
    const s = await compareReports([f.diffusion, f.baseline], { out, cwd: f.root, plots: false, createdAt: '2025-01-01T00:00:00.000Z' });
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'compare.json'), 'utf8')), JSON.parse(JSON.stringify(s)));
    assert.deepEqual(s.table.datasets, ['toyset']);
    assert.deepEqual(s.table.rows.map((r) => r.model), ['UNet diffusion classifier', 'UNet diffusion classifier (calibrated)', 'ResNet-18']);
    const [unet, cal, resnet] = s.table.rows.map((r) => r.cells[0]!);
    assert.equal(unet!.accuracy, 0.5);
    assert.equal(unet!.trainingMinutes, 30, 'from the model folder\'s state.json');
    assert.equal(unet!.secondsPerImage, 0.5);
    assert.equal(cal!.auroc, unet!.auroc, 'the threshold does not change the ranking');
    assert.equal(resnet!.trainingMinutes, 12);
    assert.equal(resnet!.secondsPerImage, 0.005);
    assert.equal(resnet!.accuracy, 0.5);

    const row = (model: string, score: string) => s.uncertainty.find((u) => u.model === model && u.score === score)!;
    const ve = row('UNet diffusion classifier', 'vote entropy');
    // kept from the most certain: ✓, then {✗, ✓} tied (½ error each), then ✗: risks 0, ¼, ⅓, ½
    assert.ok(close(ve.aurc, (0 + 1 / 4 + 1 / 3 + 1 / 2) / 4), `AURC ${ve.aurc}`);
    assert.ok(close(ve.eaurc, ve.aurc - (1 / 3 + 1 / 2) / 4));
    // wrong {0.811, 1} vs right {0, 0.811}: 1 + ½ + 1 + 1 of 4 pairs
    assert.ok(close(ve.errorDetectionAuroc, 0.875));
    // confidences 1 ✓ | .75 ✗, .75 ✓ | .5 ✗ → 0 + ¼·½ + ½·¼
    assert.ok(close(ve.ece, 0.25), `ECE ${ve.ece}`);
    assert.equal(ve.nll, null);
    // setting aside one image (25% and 45% of 4) removes the even split, which was wrong
    assert.ok(close(ve.accuracyAfterRemoving['0.25'], 2 / 3));
    assert.ok(close(ve.accuracyAfterRemoving['0.45'], 2 / 3));
    assert.ok(close(ve.accuracyAfterRemoving['0.10'], 0.5));
    const vs = row('UNet diffusion classifier', 'vote share');
    assert.ok(close(vs.aurc, ve.aurc), 'two classes: 1 − max share orders like the entropy');
    const td = row('UNet diffusion classifier', 'threshold distance');
    assert.equal(td.method, 'calibrated');
    assert.equal(td.ece, null);
    const rb = row('ResNet-18', 'max-probability');
    assert.ok(close(rb.aurc, (0 + 1 / 2 + 2 / 3 + 1 / 2) / 4));
    assert.ok(close(rb.ece, 0.5));
    assert.ok(rb.nll !== null && rb.nll > 0);
    assert.deepEqual(s.warnings, []);
    assert.deepEqual(s.files, ['compare.html', 'compare.json']);

    const text = compareText(s);
    assert.match(text, /^toyset:\n {2}UNet diffusion classifier +accuracy 50\.0% +balanced 50\.0% +F1 0\.500 +AUROC 0\.625 +train 30 min +0\.5000 s\/image\n/);
    assert.match(text, /ResNet-18 · softmax · max-probability +err-AUROC 0\.500 +AURC 0\.4167/);
    const html = fs.readFileSync(path.join(out, 'compare.html'), 'utf8');
    assert.match(html, /<th colspan="6">toyset<\/th>/);
  } finally {
    fs.rmSync(f.root, { recursive: true, force: true });
  }
});

test('compareReports: one removal chart and one reliability diagram per data set (SVG + PNG)', async () => {
  const f = await fixture();
  try {
    const other = path.join(f.root, 'other-set');
    await writeBaselineReport(other, baselineInput(['a', 'b'], { data: { source: 'data/other.npz' } }));
    const out = path.join(f.root, 'cmp');
    const s = await compareReports([f.diffusion, f.baseline, other], { out, cwd: f.root });
    assert.deepEqual(s.table.datasets, ['toyset', 'other']);
    assert.deepEqual(s.datasets.map((d) => [d.removalPlot, d.reliabilityPlot]), [['removal_toyset.svg', 'reliability_toyset.svg'], ['removal_other.svg', 'reliability_other.svg']]);
    for (const file of ['removal_toyset.svg', 'removal_toyset.png', 'reliability_toyset.png', 'removal_other.png']) {
      assert.ok(fs.statSync(path.join(out, file)).size > 500, file);
    }
    const svg = fs.readFileSync(path.join(out, 'removal_toyset.svg'), 'utf8');
    assert.ok(svg.includes('UNet diffusion classifier') && svg.includes('ResNet-18'), 'both models on one chart');
    // ResNet-18 on toyset and on other: one row, two data sets
    assert.deepEqual(s.table.rows.find((r) => r.model === 'ResNet-18')!.cells.map((c) => c?.report), [f.baseline, other]);
  } finally {
    fs.rmSync(f.root, { recursive: true, force: true });
  }
});

test('compareReports: clear errors', async () => {
  const f = await fixture();
  try {
    const out = path.join(f.root, 'cmp');
    const run = (dirs: string[]) => compareReports(dirs, { out, cwd: f.root, plots: false });
    await assert.rejects(run([]), /no report folders given/);
    const empty = path.join(f.root, 'empty');
    fs.mkdirSync(empty);
    await assert.rejects(run([f.diffusion, empty]), new RegExp(`${empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no report\\.json`));
    const odd = path.join(f.root, 'odd');
    fs.mkdirSync(odd);
    fs.writeFileSync(path.join(odd, 'report.json'), JSON.stringify({ reportVersion: 1, kind: 'segmentation' }));
    await assert.rejects(run([odd]), /odd[/\\]report\.json: unknown report kind "segmentation"/);
    fs.writeFileSync(path.join(odd, 'report.json'), JSON.stringify({ reportVersion: 2, kind: 'baseline' }));
    await assert.rejects(run([odd]), /reportVersion 2 is not one this meddiff reads/);
    fs.writeFileSync(path.join(odd, 'report.json'), '{ not json');
    await assert.rejects(run([odd]), /report\.json: is not valid JSON/);
    const renamed = path.join(f.root, 'renamed');
    await writeBaselineReport(renamed, baselineInput(['healthy', 'pneumonia']));
    await assert.rejects(run([f.diffusion, renamed]), /reports of data set 'toyset' disagree on the classes: .*\(normal, pneumonia\).*\(healthy, pneumonia\)/);
    await assert.rejects(run([f.baseline, f.baseline]), /is given twice/);
    fs.rmSync(path.join(f.diffusion, 'predictions.csv'));
    await assert.rejects(run([f.diffusion]), /predictions\.csv: missing/);
  } finally {
    fs.rmSync(f.root, { recursive: true, force: true });
  }
});

test('compareReports: same model twice on a data set, different image counts, a hostile class name', async () => {
  const f = await fixture(['<script>alert(1)</script>', 'b&c']);
  try {
    const second = path.join(f.root, 'resnet-again');
    await writeBaselineReport(second, baselineInput(['<script>alert(1)</script>', 'b&c'], { methods: [{ method: 'softmax', records: baselineRecords().slice(0, 3) }] }));
    const out = path.join(f.root, 'cmp');
    const s: CompareSummary = await compareReports([f.diffusion, f.baseline, second], { out, cwd: f.root, plots: false, title: 'Toy <b>comparison</b>' });
    assert.deepEqual(s.table.rows.map((r) => r.model).slice(2), ['ResNet-18 [toy-resnet-test]', 'ResNet-18 [resnet-again]']);
    assert.equal(s.warnings.length, 1);
    assert.match(s.warnings[0]!, /has 4 images but .*resnet-again has 3/);
    const html = fs.readFileSync(path.join(out, 'compare.html'), 'utf8');
    assert.ok(!html.includes('<script>') && !html.includes('<b>comparison'), 'nothing from the reports is live HTML');
    assert.ok(html.includes('Toy &lt;b&gt;comparison&lt;/b&gt;'));
  } finally {
    fs.rmSync(f.root, { recursive: true, force: true });
  }
});
