// The shipped-model check: the accuracy of what `meddiff classify` answers (the calibrated
// decision, with the calibration's time window and mirror view) on a fixed, evenly spread subset
// of a split. scripts/ci-check.mjs writes it into ci-check.json; test/models/shipped.test.ts
// measures it again on every CI run — both through this one function.
import { classifyPixels } from '../classify/index.ts';
import type { DiffusionPipeline } from '../pipeline/index.ts';

export interface SubsetCheckSpec { data: string; split: string; images: number; n: number; seed: number }

export interface SubsetCheckResult { accuracy: number; images: number; predictions: number[]; labels: number[]; calibrated: boolean; tRange: [number, number]; mirror: boolean }

export async function measureSubset(p: DiffusionPipeline, s: SubsetCheckSpec): Promise<SubsetCheckResult> {
  const { images, labels, count } = await p.loadSplit(s.data, s.split, { limit: s.images, sameClasses: true });
  const { results, settings } = classifyPixels(p, images, count, { n: s.n, seed: s.seed, keepErrors: false });
  const predictions = results.map((r) => r.predicted);
  return {
    accuracy: predictions.filter((y, i) => y === labels[i]).length / count, images: count, predictions, labels,
    calibrated: settings.calibration !== null, tRange: settings.config.tRange, mirror: settings.config.mirror,
  };
}
