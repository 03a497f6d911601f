// calibration.json kinds: the two-class threshold (unchanged) and the K > 2 class offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyCalibratedSettings, applyCalibration, loadCalibration, saveCalibration, type Calibration } from '../../src/classify/index.ts';

const fittedOn = { split: 'val', images: 120, n: 51, balancedAccuracy: 0.6, uncalibratedBalancedAccuracy: 0.5 };

test('offsets round-trip through calibration.json; malformed offsets are refused with the field named; the threshold kind still reads', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-calk-'));
  try {
    const off: Calibration = { kind: 'vote-share-offsets', offsets: [0, 0.1, -0.2, 0.05, 0], objective: 'balanced-accuracy', fittedOn, weightsSha256: 'a'.repeat(64) };
    saveCalibration(dir, off);
    assert.deepEqual(loadCalibration(dir, 'a'.repeat(64)), off);
    assert.equal(loadCalibration(dir, 'b'.repeat(64)), null, 'other weights: ignored');
    const f = path.join(dir, 'calibration.json');
    fs.writeFileSync(f, JSON.stringify({ ...off, offsets: [0, 'x'] }));
    assert.throws(() => loadCalibration(dir), /'offsets' must be one finite number per class/);
    fs.writeFileSync(f, JSON.stringify({ ...off, kind: 'vote-share-prior' }));
    assert.throws(() => loadCalibration(dir), /expected 'vote-share-threshold' or 'vote-share-offsets'/);
    // the two-class format as earlier versions wrote it
    const thr = { kind: 'vote-share-threshold', positive: 1, threshold: 0.62, fittedOn };
    fs.writeFileSync(f, JSON.stringify(thr));
    assert.deepEqual(loadCalibration(dir), thr);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('applyCalibratedSettings sets classOffsets from an offsets calibration unless the caller chose a decision', () => {
  const cal: Calibration = { kind: 'vote-share-offsets', offsets: [0, 0.3, 0], fittedOn };
  const none: { classOffsets?: number[] | null; decisionThreshold?: null } = {};
  assert.deepEqual(applyCalibratedSettings(none, cal).cfg.classOffsets, [0, 0.3, 0]);
  assert.equal(applyCalibratedSettings(none, cal).cfg.decisionThreshold, undefined);
  assert.equal(applyCalibratedSettings({ classOffsets: null }, cal).cal, null);
  const warned: string[] = [];
  assert.equal(applyCalibratedSettings({ tRange: [0.2, 0.8] }, cal, (m) => warned.push(m)).cal, null);
  assert.match(warned[0]!, /class offsets are not applied/);
  assert.equal(applyCalibration(cal, [0.5, 0.3, 0.2]), 1);
  assert.equal(applyCalibration({ kind: 'vote-share-threshold', positive: 1, threshold: 0.25, fittedOn }, [0.7, 0.3]), 1);
});
