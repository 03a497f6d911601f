// The shipped-model check: the accuracy of what `meddiff classify` answers (the calibrated
// decision, with the calibration's time window and mirror view) on a fixed, evenly spread subset
// of a split. scripts/ci-check.mjs writes it into ci-check.json; test/models/shipped.test.ts
// measures it again on every CI run — both through this one function.
import { classifyBaselinePixels, classifyPixels } from '../classify/index.ts';
import type { BaselinePipeline, DiffusionPipeline } from '../pipeline/index.ts';

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

/** The same check for a baseline: accuracy of its answer (softmax, or temperature-scaled: same argmax) on the subset. */
export async function measureBaselineSubset(p: BaselinePipeline, s: Omit<SubsetCheckSpec, 'n' | 'seed'>): Promise<{ accuracy: number; images: number; predictions: number[]; labels: number[]; calibrated: boolean }> {
  const { images, labels, count } = await p.loadSplit(s.data, s.split, { limit: s.images, sameClasses: true });
  const r = classifyBaselinePixels(p, images, count);
  const predictions = r.methods[r.primary]!.map((x) => x.prediction);
  return { accuracy: predictions.filter((y, i) => y === labels[i]).length / count, images: count, predictions, labels: Array.from(labels), calibrated: r.temperature !== null };
}
