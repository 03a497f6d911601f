// The shipped chest X-ray model on real images of other modalities, as a new user tried them
// (issue 19): a CT slice and an MR slice from public DICOM test files (data/fixtures/dicom/, from
// pydicom) must be flagged as unlike the training data, and score above a real chest X-ray. The
// adult NIH X-rays are themselves flagged by this paediatric model (measured, docs/reliability.md),
// so only the order is asserted for them. With the model folder's own calibration.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup } from '../helpers.ts';
import { setPrecision } from '../../src/runtime/index.ts';
import { loadPipeline } from '../../src/pipeline/index.ts';
import { classifyFiles } from '../../src/classify/index.ts';

before(async () => { await setup(); setPrecision('auto'); });
after(() => { setPrecision('fp32'); });

test('the chest X-ray model flags a CT and an MR slice, and scores them above real chest X-rays', async (t) => {
  const p = loadPipeline('models/pneumoniamnist-unet');
  try {
    assert.ok(p.calibration?.ood, 'models/pneumoniamnist-unet/calibration.json has no OOD threshold');
    const files = ['data/fixtures/dicom/ct_small.dcm', 'data/fixtures/dicom/mr_small.dcm', 'data/fixtures/nih_cxr14_00000001_000.png', 'data/fixtures/nih_cxr14_00027426_000.png'];
    const { outcomes, failed } = await classifyFiles(p, files);
    assert.equal(failed, 0, outcomes.map((o) => o.error).join('; '));
    const ood = outcomes.map((o) => o.result!.ood!);
    const say = outcomes.map((o, i) => `${o.name}: score ${ood[i]!.score.toFixed(4)} vs ${ood[i]!.threshold.toFixed(4)}`).join(', ');
    assert.equal(ood[0]!.flagged, true, `CT not flagged (${say})`);
    assert.equal(ood[1]!.flagged, true, `MR not flagged (${say})`);
    t.diagnostic(say);
    const xray = Math.max(ood[2]!.score, ood[3]!.score);
    assert.ok(Math.min(ood[0]!.score, ood[1]!.score) > xray, `a chest X-ray scores as high as the CT or MR (${say})`);
  } finally {
    p.dispose();
  }
});
