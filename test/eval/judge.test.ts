// The judge sees what the diffusion model saw: the 28² content of a MedMNIST image padded to 32²
// comes back byte for byte, and its verdicts are counted against each image's target.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup } from '../helpers.ts';
import { createBaseline } from '../../src/models/index.ts';
import { BASELINE_FORMAT, BASELINE_VERSION, BaselinePipeline } from '../../src/pipeline/index.ts';
import { preprocessU8, loadMedMNIST } from '../../src/data/index.ts';
import { classifyBaselinePixels } from '../../src/classify/index.ts';
import { contentImage, judgeCounterfactuals } from '../../src/eval/index.ts';

before(setup);

function judge(classNames = ['normal', 'pneumonia']): BaselinePipeline {
  const net = createBaseline({ kind: 'resnet18', inChannels: 1, imageSize: 28, numClasses: 2 }, 3);
  return new BaselinePipeline({ net, config: { format: BASELINE_FORMAT, version: BASELINE_VERSION, model: net.config, classNames, preprocess: { channels: 1, imageSize: 28, contentSize: 28, fit: 'crop', dicomWindow: 'voi' } } });
}

test('a MedMNIST image padded 28 → 32 as the diffusion model sees it comes back as its own 28² bytes', async () => {
  const d = await loadMedMNIST('data/pneumoniamnist.npz');
  const test0 = d.splits.test;
  const bytes = test0.images.subarray(0, 28 * 28);
  const padded = preprocessU8(bytes, 28, 28, 1, { size: 32, channels: 1 });
  const img = contentImage(padded, 32, 28, 1, 'x');
  assert.deepEqual(Array.from(img.data), Array.from(bytes));
});

test('verdicts: flips are counted against each target, agreement against each factual class', async () => {
  const j = judge();
  const model = { classNames: ['normal', 'pneumonia'], imageSize: 28, channels: 1 as const, preprocessing: { contentSize: 28 } };
  const px = Float32Array.from({ length: 3 * 28 * 28 }, (_, i) => Math.cos(i * 0.11));
  const own = classifyBaselinePixels(j, px, 3).methods.softmax!.map((r) => r.prediction);
  const img = (i: number) => px.slice(i * 784, (i + 1) * 784);
  // counterfactual = the input itself: it "flips" exactly when the judge already calls the input the target
  const items = [0, 1, 2].map((i) => ({ input: img(i), counterfactual: img(i), factual: own[i]!, target: i === 0 ? own[0]! : 1 - own[i]! }));
  const r = await judgeCounterfactuals(j, model, items);
  assert.equal(r.images, 3);
  assert.equal(r.agreementOnInputs, 1);
  assert.ok(Math.abs(r.flipRate - 1 / 3) < 1e-9);
  await assert.rejects(judgeCounterfactuals(judge(['benign', 'malignant']), model, items), /a judge needs the same classes/);
  j.dispose();
});
