import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  writeBaselineReport, type BaselineMethod, type BaselineRecord, type BaselineReportInput, type BaselineReportSummary,
} from '../../src/eval/index.ts';

const close = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) <= tol;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-baseline-'));
}

/** Four images, two classes: right (0.9), wrong (0.7), right (0.6), wrong (0.8). */
export function fourImages(): BaselineRecord[] {
  const p: [number, number][] = [[0.9, 0.1], [0.3, 0.7], [0.4, 0.6], [0.8, 0.2]];
  const labels = [0, 0, 1, 1];
  return p.map((probabilities, i) => ({ id: `img${i}.png`, label: labels[i]!, prediction: probabilities[0] > probabilities[1] ? 0 : 1, probabilities }));
}

function input(methods: BaselineMethod[], over: Partial<BaselineReportInput> = {}): BaselineReportInput {
  return {
    methods, classNames: ['normal', 'pneumonia'], positive: 1,
    model: { arch: 'resnet18', label: 'ResNet-18', parameters: 11e6, trainingMinutes: 12, step: 300 },
    settings: { mcDropout: null, ensemble: null, temperature: null },
    data: { source: 'data/toyset.npz', split: 'test' }, timing: { totalSeconds: 2, forwardPassesPerImage: 1 },
    createdAt: '2025-01-01T00:00:00.000Z', plots: false, ...over,
  };
}

test('writeBaselineReport: the failure metrics of four images, worked by hand', async () => {
  const dir = tmpDir();
  try {
    const mc = fourImages().map((r, i) => ({ ...r, mutualInformation: [0.01, 0.2, 0.3, 0.05][i]! }));
    const s = await writeBaselineReport(dir, input([{ method: 'softmax', records: fourImages() }, { method: 'mc-dropout', records: mc }]));
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as BaselineReportSummary;
    assert.deepEqual(json, JSON.parse(JSON.stringify(s)));
    assert.equal(json.kind, 'baseline');
    assert.equal(json.settings.primary, 'softmax');
    assert.equal(json.metrics.accuracy, 0.5);
    assert.equal(json.metrics.aurocScore, 'probability of class 1');
    // AUROC of p(pneumonia): positives 0.6, 0.2 vs negatives 0.1, 0.7 → (1 + 0 + 1 + 0) / 4
    assert.equal(json.metrics.auroc, 0.5);
    assert.deepEqual(json.metrics.confusionMatrix, [[1, 1], [1, 1]]);
    assert.deepEqual(json.data.classCounts, [2, 2]);
    assert.equal(json.data.source, 'data/toyset.npz');
    assert.equal(json.timing.secondsPerImage, 0.5);

    const soft = json.methods[0]!;
    assert.deepEqual(soft.uncertainty.map((u) => u.score), ['entropy', 'max-probability']);
    assert.deepEqual(json.methods[1]!.uncertainty.map((u) => u.score), ['entropy', 'max-probability', 'mutual-information']);
    const u = soft.uncertainty[1]!;
    // 1 − max p = 0.1 ✓, 0.3 ✗, 0.4 ✓, 0.2 ✗ → kept in order ✓ ✗ ✗ ✓: risks 0, 1/2, 2/3, 2/4
    assert.ok(close(u.aurc, (0 + 1 / 2 + 2 / 3 + 1 / 2) / 4), `aurc ${u.aurc}`);
    assert.ok(close(u.eaurc, u.aurc - (1 / 3 + 1 / 2) / 4));
    // wrong 0.3, 0.2 against right 0.1, 0.4: two of four pairs ordered right
    assert.equal(u.errorDetectionAuroc, 0.5);
    // one image per bin: (|1 − .9| + |0 − .7| + |1 − .6| + |0 − .8|) / 4
    assert.ok(close(u.ece, 0.5), `ece ${u.ece}`);
    assert.deepEqual(u.reliability.bins.filter((b) => b.count > 0).map((b) => [b.count, b.accuracy]), [[1, 1], [1, 0], [1, 0], [1, 1]]);
    assert.ok(close(u.nll, -(Math.log(0.9) + Math.log(0.3) + Math.log(0.6) + Math.log(0.2)) / 4));
    assert.ok(close(u.brier, (0.02 + 0.98 + 0.32 + 1.28) / 4));
    // removing 25% (one image) sets aside the 0.4 one, which was right
    assert.ok(close(u.removal.find((p) => p.fraction === 0.25)!.accuracy, 1 / 3));
    // the mutual information ranks 0.3 (✓) and 0.2 (✗) as the most uncertain
    const mi = json.methods[1]!.uncertainty[2]!;
    assert.ok(close(mi.aurc, (0 + 1 / 2 + 2 / 3 + 1 / 2) / 4), 'MI order 0.01 ✓, 0.05 ✗, 0.2 ✗, 0.3 ✓');

    const csv = fs.readFileSync(path.join(dir, 'predictions.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(csv[0], 'index,id,label,label_name,method,pred,pred_name,prob_normal,prob_pneumonia,entropy,max_prob,mutual_information');
    assert.equal(csv.length, 1 + 8);
    assert.ok(csv[1]!.startsWith('0,img0.png,0,normal,softmax,0,normal,0.9,0.1,'));
    assert.ok(csv[1]!.endsWith(',0.9,'), 'no mutual information for plain softmax');
    assert.ok(csv[6]!.startsWith('1,img1.png,0,normal,mc-dropout,1,pneumonia,0.3,0.7,') && csv[6]!.endsWith(',0.7,0.2'));
    assert.deepEqual(json.files, ['predictions.csv', 'report.html', 'report.json']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('writeBaselineReport: plots as SVG and PNG, and an HTML page that escapes what comes from data', async () => {
  const dir = tmpDir();
  try {
    const hostile = '<script>alert("x")</script>';
    const s = await writeBaselineReport(dir, input([{ method: 'softmax', records: fourImages() }, { method: `t<b>${'&'}`, records: fourImages() }], {
      classNames: [hostile, 'b & c'], model: { arch: 'resnet18', label: '<img src=x onerror=alert(1)>' }, plots: true,
      extraSections: [{ title: '<i>section</i>', html: '<p id="kept">caller html</p>' }],
    }));
    for (const f of ['reliability.svg', 'reliability.png', 'removal_curves.svg', 'removal_curves.png']) {
      assert.ok(s.files.includes(f), f);
      assert.ok(fs.statSync(path.join(dir, f)).size > 500, `${f} has content`);
    }
    assert.ok(fs.readFileSync(path.join(dir, 'reliability.png')).subarray(1, 4).toString() === 'PNG');
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    assert.ok(!html.includes('<script>') && !html.includes('<img src=x') && !html.includes('<i>section'), 'nothing from data is live HTML');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
    assert.ok(html.includes('t&lt;b&gt;&amp;'));
    assert.ok(html.includes('<p id="kept">caller html</p>'));
    assert.ok(html.includes('<svg'), 'plots inlined');
    const csv = fs.readFileSync(path.join(dir, 'predictions.csv'), 'utf8').split('\n');
    assert.ok(csv[0]!.includes('prob_script_alert_x_script,prob_b_c'), csv[0]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('writeBaselineReport: bad input is refused, naming the field', async () => {
  const dir = tmpDir();
  const bad = async (methods: BaselineMethod[], re: RegExp, over: Partial<BaselineReportInput> = {}) => {
    await assert.rejects(writeBaselineReport(dir, input(methods, over)), re);
  };
  try {
    const ok = fourImages();
    await bad([], /methods is empty/);
    await bad([{ method: 'softmax', records: [] }], /methods\[0\] \('softmax'\)\.records is empty/);
    await bad([{ method: 'softmax', records: ok }, { method: 'ensemble', records: ok.slice(1) }], /methods\[1\] \('ensemble'\)\.records has 3 images but methods\[0\] \('softmax'\) has 4/);
    const moved = ok.map((r, i) => (i === 2 ? { ...r, id: 'other.png' } : r));
    await bad([{ method: 'softmax', records: ok }, { method: 'ensemble', records: moved }], /methods\[1\] \('ensemble'\)\.records\[2\]: image 'other.png'.*same images in the same order/);
    await bad([{ method: 'softmax', records: ok.map((r, i) => (i === 1 ? { ...r, probabilities: [0.3, 0.6] } : r)) }], /records\[1\]\.probabilities sum to 0\.9/);
    await bad([{ method: 'softmax', records: ok.map((r, i) => (i === 3 ? { ...r, probabilities: [0.8, 0.1, 0.1] } : r)) }], /records\[3\]\.probabilities has 3 entries, expected K = 2/);
    await bad([{ method: 'softmax', records: ok.map((r, i) => (i === 0 ? { ...r, prediction: 1 } : r)) }], /records\[0\]\.prediction = 1 is not the argmax/);
    await bad([{ method: 'softmax', records: ok.map((r, i) => (i === 0 ? { ...r, label: 2 } : r)) }], /records\[0\]: image 'img0.png' \(label 2\)|records\[0\]\.label = 2/);
    await bad([{ method: 'softmax', records: ok }, { method: 'softmax', records: ok }], /methods\[1\] \('softmax'\): method name repeated/);
    await bad([{ method: 'softmax', records: ok }], /settings\.primary 'ensemble' is not one of the methods/, { settings: { primary: 'ensemble' } });
    await bad([{ method: 'mc', records: ok.map((r, i) => (i === 0 ? { ...r, mutualInformation: 0.1 } : r)) }], /mutualInformation is set on 1 of 4 records/);
    // within 1e-4 is fine
    await writeBaselineReport(dir, input([{ method: 'softmax', records: ok.map((r, i) => (i === 0 ? { ...r, probabilities: [0.90005, 0.1] } : r)) }]));
    assert.ok(!fs.readdirSync(dir).some((f) => f.endsWith('.tmp')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
