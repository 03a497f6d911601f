// A TypeScript user of the installed package: scripts/pack-test.mjs type-checks it (never runs it)
// in a temp project that installed the npm tarball, with moduleResolution nodenext and strict, so the
// published declarations (dist/**/*.d.ts, the "exports" map's "types") are what is checked.
import { initRuntime, loadPipeline, classify } from 'meddiff';
import type { Classification, ClassifyOptions } from 'meddiff/classify';

export async function firstPrediction(model: string, image: string): Promise<{ prediction: string; predicted: number; shares: number[] }> {
  const info = await initRuntime({ log: false });
  const backend: 'native' | 'wasm' | 'cpu' = info.backend;
  void backend;
  const p = loadPipeline(model);
  const names: readonly string[] = p.classNames;
  const options: ClassifyOptions = { n: 5 };
  const results: Classification[] = await classify(p, [image], options);
  const r = results[0]!;
  p.dispose();
  if (!names.includes(r.prediction)) throw new Error(`unknown class ${r.prediction}`);
  return { prediction: r.prediction, predicted: r.predicted, shares: r.shares };
}
