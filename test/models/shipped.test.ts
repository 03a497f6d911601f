// The shipped models still answer as their model cards say: a broken weight file, a changed
// preprocessing step, a calibration that no longer applies or a runtime regression shows up here.
// Each model folder has ci-check.json, written by scripts/ci-check.mjs with the same measurement
// function: the accuracy of the calibrated decision (what `meddiff classify` answers, with the
// window and mirror view read from calibration.json) on a fixed, evenly spread test subset.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setup } from '../helpers.ts';
import { runtimeInfo, setPrecision } from '../../src/runtime/index.ts';
import { isBaselineFolder, loadBaselinePipeline, loadPipeline } from '../../src/pipeline/index.ts';
import { measureBaselineSubset, measureSubset } from '../../src/eval/index.ts';

// Measured at the default precision ('auto': bf16 where the CPU has it), as users get the models; the
// checks were written at fp32, and bf16 agreed with fp32 on all 624 PneumoniaMNIST test decisions.
before(async () => { await setup(); setPrecision('auto'); });
after(() => { setPrecision('fp32'); });

interface CiCheck { data: string; split: string; images: number; n: number; seed: number; calibrated: boolean; tRange: [number, number]; mirror: boolean; accuracy: number; tolerance: number;
  /** Measured at each precision where they differ (a few decisions of a small subset at small N can); else `accuracy`. */
  accuracyByPrecision?: Partial<Record<'fp32' | 'bf16', number>> }

const models = fs.existsSync('models') ? fs.readdirSync('models').filter((d) => fs.existsSync(path.join('models', d, 'ci-check.json'))) : [];

test('there are shipped models with a CI check', () => {
  assert.ok(models.length >= 1, 'no models/*/ci-check.json');
});

for (const name of models) {
  test(`shipped model ${name} answers as its model card says on a fixed test subset`, async (t) => {
    const say = (acc: number, images: number) => t.diagnostic(`${name}: accuracy ${acc.toFixed(4)} on ${images} images at precision ${runtimeInfo()!.precision} (check: ${(check.accuracyByPrecision?.[runtimeInfo()!.precision] ?? check.accuracy).toFixed(4)} ± ${check.tolerance})`);
    const dir = path.join('models', name);
    const check = JSON.parse(fs.readFileSync(path.join(dir, 'ci-check.json'), 'utf8')) as CiCheck & { kind?: string };
    if (check.kind === 'baseline' || isBaselineFolder(dir)) {
      assert.equal(check.kind, 'baseline', `${name}: a baseline folder needs a baseline ci-check.json`);
      const b = loadBaselinePipeline(dir);
      try {
        assert.equal(b.calibration !== null, check.calibrated, `${name}: calibration.json ${b.calibration ? 'applies' : 'does not apply'}`);
        const r = await measureBaselineSubset(b, check);
        say(r.accuracy, r.images);
        assert.ok(Math.abs(r.accuracy - check.accuracy) <= check.tolerance, `${name}: accuracy ${r.accuracy.toFixed(4)} on ${r.images} images, model card says ${check.accuracy.toFixed(4)} ± ${check.tolerance}`);
        assert.ok(new Set(r.predictions).size > 1, `${name} predicts a single class`);
      } finally {
        b.dispose();
      }
      return;
    }
    const p = loadPipeline(dir);
    try {
      // the calibration beside the weights must still apply: its hash ties it to these weights
      assert.equal(p.calibration !== null, check.calibrated, `${name}: calibration.json ${p.calibration ? 'applies' : 'does not apply'}, the check was written with${check.calibrated ? '' : 'out'} one`);
      const r = await measureSubset(p, check);
      say(r.accuracy, r.images);
      assert.deepEqual(r.tRange, check.tRange, `${name}: time window`);
      assert.equal(r.mirror, check.mirror, `${name}: mirror view`);
      const want = check.accuracyByPrecision?.[runtimeInfo()!.precision] ?? check.accuracy;
      assert.ok(Math.abs(r.accuracy - want) <= check.tolerance, `${name}: accuracy ${r.accuracy.toFixed(4)} on ${r.images} images at ${runtimeInfo()!.precision}, the check says ${want.toFixed(4)} ± ${check.tolerance}`);
      // and it is a real classifier, not a constant: both classes are predicted
      assert.ok(new Set(r.predictions).size > 1, `${name} predicts a single class`);
    } finally {
      p.dispose();
    }
  });
}
