// Usage: node --import tsx scripts/ood-v3-experiment.ts <model dir> <in-distribution npz> <other data…>
// Session 11: OOD score v3 ("multiscale + bands") against v2, measured once by the rule in
// docs/results-notes.md. One feature pass per image with the library's content-seeded noise
// (multiscaleFeatures with bands): v2 is its first 10 features, v3 all 15, each fitted as
// fitMultiscaleOod does (Gaussian on 300 train images, conformal threshold on all val images).
// Writes bench/results/ood-v3-<model>.json.
import path from 'node:path';
import { initRuntime } from '../src/runtime/index.ts';
import { loadPipeline, multiscaleFeatureCount } from '../src/pipeline/index.ts';
import { DEFAULT_MULTISCALE_OOD_CONFIG, multiscaleFeatures } from '../src/classify/index.ts';
import { auroc, conformalThreshold, fitGaussian, mahalanobis } from '../src/stats/index.ts';
import { writeFileAtomic } from '../src/util/index.ts';

const info = await initRuntime({});
const [modelDir, inData, ...others] = process.argv.slice(2);
if (!modelDir || !inData || others.length === 0) { console.error('usage: ood-v3-experiment.ts <model dir> <in-distribution data> <other data…>'); process.exit(2); }
const p = loadPipeline(modelDir);
const ham = (d: string) => d.endsWith('ham10000/split.csv');
const load = (data: string, split: string, limit?: number) => p.loadSplit(data, split, { limit, csv: ham(data) ? { labelColumn: 'melanoma' } : undefined });
const { times, trainImages, ridgeFactor, seed } = DEFAULT_MULTISCALE_OOD_CONFIG;
const t0 = Date.now();
const feats = async (data: string, split: string, limit?: number) => {
  const s = await load(data, split, limit);
  return multiscaleFeatures(p, s.images, s.count, { times, seed, bands: true });
};
const train = await feats(inData, 'train', trainImages);
const val = await feats(inData, 'val');
const test = await feats(inData, 'test', inData.includes('breast') ? undefined : 200);
const sets = [] as { data: string; f: number[][] }[];
for (const o of others) sets.push({ data: o, f: await feats(o, 'test', 200) });

const variants = { v2: multiscaleFeatureCount({ times }), v3: multiscaleFeatureCount({ times, bands: true }) } as const;
const result: Record<string, unknown> = { model: modelDir, backend: info.backend, libraries: info.libraries, precision: info.precision, trainImages: train.length, valImages: val.length, testImages: test.length };
for (const [name, d] of Object.entries(variants)) {
  const cut = (f: number[][]) => f.map((x) => x.slice(0, d));
  const g = fitGaussian(cut(train), ridgeFactor);
  const score = (f: number[][]) => cut(f).map((x) => mahalanobis(x, g.mean, g.precision));
  const c = conformalThreshold(score(val), 1 - 0.98);
  const inScores = score(test);
  const flag = (s: number[]) => s.filter((x) => x > c.threshold).length / s.length;
  result[name] = {
    threshold: c.threshold, rank: c.rank, capped: c.capped, falseFlags: flag(inScores),
    sets: sets.map(({ data, f }) => {
      const sc = score(f);
      return { data, images: sc.length, auroc: auroc([...inScores.map(() => 0), ...sc.map(() => 1)], [...inScores, ...sc], 1), flagged: flag(sc) };
    }),
  };
  console.log(name, JSON.stringify(result[name]));
}
result.seconds = (Date.now() - t0) / 1000;
const out = path.join('bench/results', `ood-v3-${path.basename(modelDir)}.json`);
writeFileAtomic(out, JSON.stringify(result, null, 1) + '\n');
console.log(`wrote ${out}`);
p.dispose();
