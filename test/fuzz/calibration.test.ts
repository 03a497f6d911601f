// Property-based hostile-input tests for calibration.json.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { loadCalibration, saveCalibration } from '../../src/pipeline/calibration.ts';
import type { Calibration } from '../../src/pipeline/types.ts';
import { calibrationTarget } from './targets.ts';
import { params, standardProperties } from './helpers.ts';
import { tempDir } from '../data/helpers.ts';

const tmp = tempDir('meddiff-fuzz-cal-test-');
after(() => tmp.cleanup());

test('fuzz calibration: random bytes, mutated JSON and wrong-typed fields give a result or a clear error', async () => {
  const t = calibrationTarget();
  try { await standardProperties(t, { random: 300, mutated: 500, structured: 1000 }); } finally { t.close?.(); }
});

const base: Calibration = { kind: 'vote-share-threshold', positive: 1, threshold: 0.4, fittedOn: { split: 'val', images: 10, n: 11, balancedAccuracy: 0.8, uncalibratedBalancedAccuracy: 0.7 } };

test('fuzz calibration: saveCalibration → loadCalibration round-trips valid calibrations', () => {
  fc.assert(fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat({ max: 9 }), fc.option(fc.record({ a: fc.double({ noNaN: true, noDefaultInfinity: true }), b: fc.double({ noNaN: true, noDefaultInfinity: true }) }), { nil: undefined }),
    fc.option(fc.tuple(fc.double({ min: 0, max: 0.5, noNaN: true }), fc.double({ min: 0.6, max: 1, noNaN: true })), { nil: undefined }), (threshold, positive, platt, tRange) => {
      const c: Calibration = { ...base, threshold, positive, ...(platt ? { platt } : {}), ...(tRange ? { tRange } : {}) };
      saveCalibration(tmp.dir, c);
      assert.deepEqual(loadCalibration(tmp.dir), JSON.parse(JSON.stringify(c)));
    }), params(300));
});

test('calibration: each wrong-typed field is refused naming the file and the field', () => {
  const f = path.join(tmp.dir, 'calibration.json');
  const bad = (patch: Record<string, unknown>, field: string) => {
    fs.writeFileSync(f, JSON.stringify({ ...base, ...patch }));
    assert.throws(() => loadCalibration(tmp.dir), (e: Error) => e.constructor === Error && e.message.startsWith(f) && e.message.includes(`'${field}'`), field);
  };
  bad({ threshold: '0.4' }, 'threshold');
  bad({ positive: 1.5 }, 'positive');
  bad({ tRange: [0.5] }, 'tRange');
  bad({ tRange: [0.9, 0.1] }, 'tRange');
  bad({ tRange: 'all' }, 'tRange');
  bad({ platt: { a: '1', b: 2 } }, 'platt');
  bad({ platt: [1, 2] }, 'platt');
  bad({ objective: 'f1' }, 'objective');
  bad({ mirror: 'yes' }, 'mirror');
  bad({ fittedOn: null }, 'fittedOn');
  bad({ fittedOn: { ...base.fittedOn, n: '11' } }, 'fittedOn.n');
  bad({ weightsSha256: 42 }, 'weightsSha256');
  const ms = { score: 'multiscale', threshold: 3, quantile: 0.98, times: [0.1, 0.9], mean: [0, 1], precision: [[1, 0], [0, 1]], ridge: 0, trainImages: 300, seed: 0, fittedOn: { split: 'val', images: 9, rank: 9, capped: true } };
  bad({ ood: { ...ms, mean: [0] } }, 'ood.mean');
  bad({ ood: { ...ms, precision: [[1, 2], [2, 1]] } }, 'ood.precision');
  bad({ ood: { ...ms, fittedOn: { ...ms.fittedOn, rank: 0 } } }, 'ood.fittedOn.rank');
  fs.writeFileSync(f, JSON.stringify({ ...base, ood: ms }));
  assert.deepEqual(loadCalibration(tmp.dir)!.ood, ms);
  fs.writeFileSync(f, 'null');
  assert.throws(() => loadCalibration(tmp.dir), new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a meddiff calibration \\(expected a JSON object`));
});
