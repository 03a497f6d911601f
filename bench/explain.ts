// bench:explain — seconds per image for counterfactual explanations at the interactive default
// (and optionally --quality full), with the flip rate, on PneumoniaMNIST test images.
//   npm run bench:explain [-- --model models/pneumoniamnist-unet --limit 10 --quality fast]
import { initRuntime } from '../src/runtime/index.ts';
import { loadPipeline } from '../src/pipeline/index.ts';
import { explainImages, EXPLAIN_QUALITY } from '../src/explain/index.ts';
import { openDataset, stackSplit } from '../src/data/index.ts';
import { machine, writeResult } from './common.ts';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const rt = await initRuntime({});
const modelDir = opt('model', 'models/pneumoniamnist-unet');
const limit = Number(opt('limit', '10'));
const quality = opt('quality', 'fast') as 'fast' | 'full';
const tm = loadPipeline(modelDir);
const ds = await openDataset(opt('data', 'data/pneumoniamnist.npz'), { ...tm.datasetOptions(), split: 'test' });
const { images, count } = stackSplit(ds.split('test'), { limit, spread: true });
const t = performance.now();
const es = explainImages(tm, images, count, { explain: EXPLAIN_QUALITY[quality] });
const sec = (performance.now() - t) / 1000;
const flips = es.filter((e) => e.flipped).length;
const result = {
  backend: rt.backend, threads: rt.threads, machine: machine(), model: modelDir, quality, settings: EXPLAIN_QUALITY[quality], images: count,
  secondsPerImage: sec / count, flipRate: flips / count,
  meanAbsDiff: es.reduce((a, e) => a + e.proximity.meanAbsDiff, 0) / count, date: new Date().toISOString(),
};
console.log(`explain (${quality}: ${JSON.stringify(EXPLAIN_QUALITY[quality])}), ${count} images: ${result.secondsPerImage.toFixed(2)} s/image (classification, ${tm.classNames.length} reconstructions and the flip check), flip rate ${(100 * result.flipRate).toFixed(0)}%`);
console.log(`written ${writeResult(`explain-${quality}-${rt.backend}.json`, result)}`);
