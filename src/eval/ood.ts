// How well the OOD score tells this model's data from other data: detection AUROC of the
// in-distribution split against each other data set, and how many images the stored threshold flags.
// The score is the one the model's calibration stores (min-class-mean-error or multiscale); without
// a stored threshold, min-class-mean-error.
import { DiffusionClassifier, multiscaleScores, type ClassifyConfig } from '../classify/index.ts';
import type { DiffusionPipeline, Logger, OodCalibration, OodScoreKind } from '../pipeline/index.ts';
import { auroc, oodScore } from '../stats/index.ts';
import { escapeHtml, portablePath } from '../util/index.ts';

export interface OodSetResult { data: string; split: string; images: number; auroc: number; flagRate: number | null; meanScore: number }
export interface OodReport { score: OodScoreKind; threshold: number | null; inDistribution: { images: number; falseFlagRate: number | null; meanScore: number }; sets: OodSetResult[] }

export interface OodOptions {
  /** Other data sets (npz, folder, CSV); each is read with this model's preprocessing (channels converted). */
  data: readonly string[];
  /** Their split to use (default 'test'). */
  split?: string;
  /** At most this many images of each, spread evenly. */
  limit?: number;
}

/**
 * The evaluated split: its images (scored again for the multiscale score) and its
 * min-class-mean-error scores, already known from its classification.
 */
export interface InDistribution { images: Float32Array; count: number; minClassMeanErrors: readonly number[] }

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Compare the in-distribution scores (from the evaluated split) with each other data set's, by the stored score kind. */
export async function oodDetection(p: DiffusionPipeline, inDist: InDistribution, cfg: ClassifyConfig, o: OodOptions, fit: OodCalibration | null, logger?: Logger, signal?: AbortSignal): Promise<OodReport> {
  // null: no threshold fitted for these settings (classifySettings checks the window and mirror view)
  const threshold = fit?.threshold ?? null;
  const flagRate = (s: readonly number[]) => (threshold === null ? null : s.filter((x) => x > threshold).length / s.length);
  const ms = fit?.score === 'multiscale' ? fit : null;
  const clf = ms ? null : new DiffusionClassifier(p, { ...cfg, decisionThreshold: null, earlyStop: 'off', keepErrors: false });
  const score = (images: Float32Array, count: number) => (ms
    ? multiscaleScores(p, images, count, ms, { batchSize: cfg.batchSize, signal })
    : clf!.classify(images, count, { signal }).map((r) => oodScore(r.meanErrors)));
  const inScores = ms ? score(inDist.images, inDist.count) : inDist.minClassMeanErrors;
  const sets: OodSetResult[] = [];
  for (const data of o.data) {
    const { split, images, count } = await p.loadSplit(data, o.split ?? 'test', { limit: o.limit, logger });
    const scores = score(images, count);
    const labels = [...inScores.map(() => 0), ...scores.map(() => 1)];
    sets.push({ data: portablePath(data), split, images: count, auroc: auroc(labels, [...inScores, ...scores], 1), flagRate: flagRate(scores), meanScore: mean(scores) });
  }
  return { score: ms ? 'multiscale' : 'min-class-mean-error', threshold, inDistribution: { images: inScores.length, falseFlagRate: flagRate(inScores), meanScore: mean(inScores) }, sets };
}

export function oodSectionHtml(r: OodReport): string {
  const pc = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  const what = r.score === 'multiscale'
    ? "'multiscale': the Mahalanobis distance of the image's unconditional denoising errors at 10 fixed noise levels from those of training images (high = unlike them, in either direction)"
    : "'min-class-mean-error': the image's lowest class mean denoising error (high = the model cannot denoise it as any class)";
  return `<p>OOD score ${what}. ${r.threshold === null ? 'No threshold is stored (run <code>meddiff calibrate</code>).' : `Threshold ${r.threshold.toPrecision(4)} (fitted on validation data): it flags ${pc(r.inDistribution.falseFlagRate)} of the ${r.inDistribution.images} evaluated in-distribution images.`}</p>`
    + '<table><tr><th>other data</th><th>images</th><th>detection AUROC</th><th>flagged</th><th>mean score</th></tr>'
    + r.sets.map((s) => `<tr><th>${escapeHtml(s.data)} (${s.split})</th><td>${s.images}</td><td>${s.auroc.toFixed(3)}</td><td>${pc(s.flagRate)}</td><td>${s.meanScore.toPrecision(3)}</td></tr>`).join('')
    + `<tr><th>in-distribution</th><td>${r.inDistribution.images}</td><td></td><td>${pc(r.inDistribution.falseFlagRate)}</td><td>${r.inDistribution.meanScore.toPrecision(3)}</td></tr></table>`;
}
