import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { writeReport, summarize, prefixSvgIds, predictionsCsv, errorDetectionAuroc, type ReportSummary } from '../../src/eval/index.ts';
import { syntheticRecords } from './helpers.ts';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-eval-'));
}

test('writeReport: json, csv, plots (SVG + PNG) and one self-contained html', async () => {
  const dir = tmpDir();
  try {
    const records = syntheticRecords(40, 2, 11, 5);
    records[3]!.id = 'dir/with, comma "quoted".png';
    const classNames = ['normal', 'pneumonia'];
    const summary = await writeReport(dir, {
      records, classNames,
      model: { name: 'tiny-unet', checkpoint: 'ckpt/final.safetensors', parameters: 12345 },
      settings: { N: 11, aggregate: 'vote', seed: 42, split: 'test', timings: { totalSeconds: 8, loadSeconds: 0.5 } },
      extraSections: [{ title: 'Final vs best checkpoint', html: '<table><tr><td>final</td><td>89.3%</td></tr></table><img alt="grid" src="data:image/png;base64,iVBORw0KGgo=">' }],
      createdAt: '2025-01-01T00:00:00.000Z',
    });

    const json = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as ReportSummary;
    const expected = summarize(records, 2);
    for (const rule of ['vote', 'mean'] as const) {
      for (const k of ['accuracy', 'balancedAccuracy', 'macroF1', 'auroc', 'sensitivity', 'specificity'] as const) {
        assert.equal(typeof json[rule][k], 'number', `${rule}.${k}`);
        assert.ok((json[rule][k] as number) >= 0 && (json[rule][k] as number) <= 1, `${rule}.${k} is a fraction`);
        assert.equal(json[rule][k], expected[rule][k]);
      }
      assert.deepEqual(json[rule].confusionMatrix, expected[rule].confusionMatrix);
      assert.equal(json[rule].confusionMatrix.flat().reduce((a, b) => a + b, 0), 40);
    }
    assert.equal(json.primary, 'vote');
    assert.deepEqual(json.data.classCounts, [20, 20]);
    assert.equal(json.uncertainty.curve.length, 11);
    assert.equal(json.uncertainty.curve[0]!.accuracy, expected.vote.accuracy);
    assert.equal(json.uncertainty.errorDetectionAuroc, errorDetectionAuroc(records.map((r) => r.votePred === r.label), records.map((r) => r.entropy)));
    assert.ok(json.uncertainty.errorDetectionAuroc > 0 && json.uncertainty.errorDetectionAuroc < 1, 'the synthetic set has right and wrong answers');
    assert.deepEqual(json.uncertainty.groups.map((g) => g.group), ['TP', 'TN', 'FP', 'FN']);
    assert.deepEqual(json.voteVsMean!.map((r) => r.n), [1, 5, 11]);
    assert.equal(json.voteVsMean![2]!.voteAccuracy, expected.vote.accuracy);
    assert.equal(json.timing.totalForwardPasses, 40 * 22);
    assert.equal(json.timing.secondsPerImage, 0.2);
    assert.equal(json.timing.forwardPassesPerSecond, 110);
    assert.deepEqual(json.timing.other, { loadSeconds: 0.5 });
    assert.equal(json.settings.seed, 42);
    assert.equal(json.model.name, 'tiny-unet');
    assert.deepEqual(json, JSON.parse(JSON.stringify(summary)));

    const csv = fs.readFileSync(path.join(dir, 'predictions.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(csv.length, 41);
    assert.equal(csv[0], 'index,id,label,label_name,vote_pred,vote_pred_name,mean_pred,mean_pred_name,'
      + 'share_normal,share_pneumonia,entropy,mean_error_normal,mean_error_pneumonia,pairs_used,forward_passes');
    assert.ok(csv[4]!.startsWith('3,"dir/with, comma ""quoted"".png",'));
    assert.ok(csv[1]!.endsWith(',11,22'));

    for (const name of ['uncertainty_curve', 'entropy_groups', 'vote_vs_mean']) {
      const svg = fs.readFileSync(path.join(dir, `${name}.svg`), 'utf8');
      assert.ok(svg.startsWith('<svg'), name);
      const meta = await sharp(path.join(dir, `${name}.png`)).metadata();
      assert.equal(meta.format, 'png');
      assert.ok(meta.width! > 100 && meta.height! > 100, `${name}: ${meta.width}×${meta.height}`);
    }

    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    assert.equal((html.match(/<svg[\s>]/g) ?? []).length, 3);
    assert.ok(html.includes('Final vs best checkpoint') && html.includes('data:image/png;base64,'));
    assert.ok(html.includes('Accuracy') && html.includes('%'));
    assert.ok(html.includes(`${(100 * expected.vote.accuracy).toFixed(1)}%`));
    const withoutNs = html.replace(/\sxmlns(:\w+)?="http:\/\/www\.w3\.org\/[^"]*"/g, '');
    assert.ok(!/http/i.test(withoutNs), 'no external links besides SVG namespaces');
    assert.ok(!/<script/i.test(html) && !/<link\s/i.test(html));
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
    assert.deepEqual([...summary.files].sort(), fs.readdirSync(dir).sort());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('writeReport without per-pair errors, K = 3, no plots', async () => {
  const dir = tmpDir();
  try {
    const records = syntheticRecords(12, 3, 5, 9).map(({ errors: _e, ...r }) => r);
    const s = await writeReport(dir, { records, classNames: ['a', 'b', 'c'], settings: { N: 5, aggregate: 'mean' }, plots: false });
    assert.equal(s.voteVsMean, null);
    assert.equal(s.vote.sensitivity, null);
    assert.deepEqual(s.uncertainty.groups.map((g) => g.group), ['correct', 'incorrect']);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['predictions.csv', 'report.html', 'report.json']);
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    assert.ok(html.includes('Mean error (reported)'));
    await assert.rejects(writeReport(dir, { records: [], classNames: ['a', 'b'], settings: { N: 5, aggregate: 'vote' } }), /no prediction records/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV column names fall back to indices; SVG ids are prefixed', () => {
  const [r] = syntheticRecords(1, 2, 3, 2);
  const head = predictionsCsv([r!], ['Same', 'same'])!.split('\n')[0]!;
  assert.ok(head.includes('share_0,share_1'));
  const svg = '<svg><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"/><use href="#clip1"/><a href="#other"/></svg>';
  assert.equal(prefixSvgIds(svg, 'p-'), '<svg><defs><clipPath id="p-clip1"><rect/></clipPath></defs><g clip-path="url(#p-clip1)"/><use href="#p-clip1"/><a href="#other"/></svg>');
});
