// The shipped models still classify as their model cards say: a broken weight file, a changed
// preprocessing step or a runtime regression shows up here. Each model folder has ci-check.json:
// the accuracy measured on a fixed, evenly spread subset of the test split with a small N.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setup } from '../helpers.ts';
import { loadTrainedModel, datasetOptionsFor } from '../../src/train/index.ts';
import { DiffusionClassifier } from '../../src/classify/index.ts';
import { openDataset, stackSplit } from '../../src/data/index.ts';

before(setup);

interface CiCheck { data: string; split: 'test'; images: number; n: number; seed: number; tRange?: [number, number]; accuracy: number; tolerance: number }

const models = fs.existsSync('models') ? fs.readdirSync('models').filter((d) => fs.existsSync(path.join('models', d, 'ci-check.json'))) : [];

test('there are shipped models with a CI check', () => {
  assert.ok(models.length >= 1, 'no models/*/ci-check.json');
});

for (const name of models) {
  test(`shipped model ${name} matches its model card on a fixed test subset`, async () => {
    const dir = path.join('models', name);
    const check = JSON.parse(fs.readFileSync(path.join(dir, 'ci-check.json'), 'utf8')) as CiCheck;
    const tm = loadTrainedModel(dir);
    try {
      const ds = await openDataset(check.data, { ...datasetOptionsFor(tm), split: check.split });
      const { images, labels, count } = stackSplit(ds.split(check.split), { limit: check.images, spread: true });
      const r = new DiffusionClassifier(tm, { n: check.n, seed: check.seed, tRange: check.tRange ?? [0, 1], keepErrors: false }).classify(images, count);
      const acc = r.filter((x, i) => x.votePred === labels[i]).length / count;
      assert.ok(Math.abs(acc - check.accuracy) <= check.tolerance, `${name}: accuracy ${acc.toFixed(4)} on ${count} images, model card says ${check.accuracy.toFixed(4)} ± ${check.tolerance}`);
      // and it is a real classifier, not a constant: both classes are predicted
      assert.ok(new Set(r.map((x) => x.votePred)).size > 1, `${name} predicts a single class`);
    } finally {
      tm.model.dispose();
    }
  });
}
