// Five classes through the report and the calibrated section: K×K confusion matrix with class
// names, per-class recall, entropy ÷ log K, removal curves, class-offset calibration figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { calibratedFigures, writeReport } from '../../src/eval/index.ts';
import { calibratedSectionHtml } from '../../src/eval/calibrated.ts';
import { offsetDecision } from '../../src/stats/index.ts';
import type { Calibration } from '../../src/pipeline/index.ts';
import { syntheticRecords } from './helpers.ts';

const NAMES = ['grade 0', 'grade 1', 'grade 2', 'grade 3', 'grade 4'];

test('a 5-class report: confusion matrices counted per (true, predicted), class names on both axes, recall per class, entropy ÷ log 5', async () => {
  const K = 5, records = syntheticRecords(40, K, 9, 3);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-k5-'));
  try {
    const s = await writeReport(dir, { records, classNames: NAMES, settings: { N: 9, aggregate: 'vote' }, plots: false });
    const cm = Array.from({ length: K }, () => new Array<number>(K).fill(0));
    for (const r of records) cm[r.label]![r.votePred]!++;
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8'));
    assert.deepEqual(json.vote.confusionMatrix, cm);
    assert.equal(json.vote.confusionMatrix.length, 5);
    assert.deepEqual(json.vote.perClass.map((m: { recall: number }) => m.recall), cm.map((row, c) => row[c]! / row.reduce((a, b) => a + b, 0)));
    assert.equal(json.data.positive, null);
    assert.equal(s.vote.sensitivity, null);
    // entropy of every record is normalised by log K (in [0, 1], 1 for an even split over all 5)
    for (const r of records) assert.ok(r.entropy >= 0 && r.entropy <= 1 + 1e-12);
    assert.ok(Math.abs(json.uncertainty.meanEntropy - records.reduce((a, r) => a + r.entropy, 0) / records.length) < 1e-12);
    assert.equal(json.uncertainty.curve[0].accuracy, s.vote.accuracy);
    assert.deepEqual(json.uncertainty.groups.map((g: { group: string }) => g.group), ['correct', 'incorrect']);
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    const confusion = html.slice(html.indexOf('<table class="confusion">'), html.indexOf('</table>', html.indexOf('<table class="confusion">')));
    for (const n of NAMES) assert.equal(confusion.split(`>${n}<`).length - 1, 2, `'${n}' once as a column and once as a row`);
    assert.match(html, /AUROC \(macro one-vs-rest\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('calibrated figures for class offsets: decisions argmax(share + offset), per-class recall, the section names every class', () => {
  const K = 5, records = syntheticRecords(50, K, 9, 4);
  const offsets = [0, 0.2, -0.1, 0, 0.3];
  const cal: Calibration = {
    kind: 'vote-share-offsets', offsets, objective: 'balanced-accuracy',
    fittedOn: { split: 'val', images: 120, n: 9, balancedAccuracy: 0.5, uncalibratedBalancedAccuracy: 0.4 },
  };
  const f = calibratedFigures(records, cal, K, 1);
  const decided = records.map((r) => offsetDecision(r.shares, offsets, r.meanErrors));
  const cm = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  records.forEach((r, i) => cm[r.label]![decided[i]!]!++);
  assert.deepEqual(f.confusionMatrix, cm);
  assert.ok(Math.abs(f.accuracy - records.filter((r, i) => decided[i] === r.label).length / records.length) < 1e-12);
  assert.deepEqual(f.perClassRecall, cm.map((row, c) => row[c]! / row.reduce((a, b) => a + b, 0)));
  assert.notDeepEqual(decided, records.map((r) => r.votePred), 'the offsets change some decisions');
  assert.equal(f.uncertainty.rule, 'gap between the two best offset vote shares');
  assert.equal(f.uncertainty.curve[0]!.accuracy, f.accuracy);
  const html = calibratedSectionHtml(records, cal, f, NAMES, 1);
  assert.match(html, /grade 4 \+0\.300/);
  assert.match(html, /grade 2 −0\.100/);
  assert.doesNotMatch(html, /sensitivity/);
  assert.match(html, /<th>recall<\/th>/);
});
