// bench:classify — images/s of the diffusion classifier at N = 51 on PneumoniaMNIST test images,
// and how many forward passes early stopping saves, and at what accuracy cost (same run).
//   npm run bench:classify [-- --model models/pneumoniamnist-unet --limit 100 --n 51]
import { initRuntime } from '../src/runtime/index.ts';
import { loadPipeline } from '../src/pipeline/index.ts';
import { DiffusionClassifier, type ClassifyConfig } from '../src/classify/index.ts';
import { openDataset, stackSplit } from '../src/data/index.ts';
import { machine, writeResult } from './common.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const rt = await initRuntime({});
const modelDir = opt('model', 'models/pneumoniamnist-unet');
const limit = Number(opt('limit', '100')), n = Number(opt('n', '51'));
const tm = loadPipeline(modelDir);
const ds = await openDataset(opt('data', 'data/pneumoniamnist.npz'), { ...tm.datasetOptions(), split: 'test' });
const { images, labels, count } = stackSplit(ds.split('test'), { limit, spread: true });
// the model's shipped settings: its calibrated time window, if any (--t-range lo,hi overrides)
const tRange = (opt('t-range', '') ? opt('t-range', '').split(',').map(Number) : tm.calibration?.tRange ?? [0, 1]) as [number, number];

const rows: Record<string, unknown>[] = [];
const runs: [string, Partial<ClassifyConfig>][] = [
  ['off', { earlyStop: 'off' }],
  ['decided', { earlyStop: 'decided', chunk: 8 }],
  ['confident α=0.01', { earlyStop: 'confident', alpha: 0.01, minPairs: 8, chunk: 4 }],
  ['confident α=0.001', { earlyStop: 'confident', alpha: 0.001, minPairs: 16, chunk: 4 }],
  ['confident α=0.05', { earlyStop: 'confident', alpha: 0.05, minPairs: 6, chunk: 2 }],
];
let base: { acc: number; passes: number } | null = null;
for (const [name, cfg] of runs) {
  const clf = new DiffusionClassifier(tm, { n, tRange, keepErrors: false, ...cfg });
  const t = performance.now();
  const r = clf.classify(images, count);
  const sec = (performance.now() - t) / 1000;
  const acc = r.filter((x, i) => x.votePred === labels[i]).length / count;
  const passes = r.reduce((a, x) => a + x.forwardPasses, 0);
  base ??= { acc, passes };
  const row = { rule: name, accuracy: acc, forwardPasses: passes, savings: base.passes / passes, accuracyDeltaPts: 100 * (acc - base.acc), imagesPerSec: count / sec, forwardPerSec: passes / sec, seconds: sec };
  rows.push(row);
  console.log(`${name.padEnd(18)} acc ${(100 * acc).toFixed(1)}%  passes ${passes}  ×${row.savings.toFixed(2)} fewer  Δacc ${row.accuracyDeltaPts.toFixed(1)} pts  ${row.imagesPerSec.toFixed(2)} img/s  ${row.forwardPerSec.toFixed(0)} fwd/s`);
}
const ok = rows.filter((r) => (r.accuracyDeltaPts as number) >= -0.5);
const best = ok.reduce((a, b) => ((b.savings as number) > (a.savings as number) ? b : a));
const result = { backend: rt.backend, threads: rt.threads, machine: machine(), model: modelDir, images: count, n, tRange, rows, bestSavingWithin0p5pt: best, date: new Date().toISOString() };
console.log(`best saving at ≤ 0.5 pt accuracy loss: ${best.rule} ×${(best.savings as number).toFixed(2)}`);
console.log(`written ${writeResult(`classify-${rt.backend}.json`, result)}`);
