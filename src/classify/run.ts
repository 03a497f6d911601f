// classify() as a library call: inputs (paths, bytes, decoded or preprocessed images) through the
// pipeline's one preprocessing, the pipeline's calibration applied, and results that carry the
// decision `meddiff classify` gives as first-class fields.
import { type Calibration, type DiffusionPipeline, type ImageInput, type Logger, type OodCalibration, type OodScoreKind } from '../pipeline/index.ts';
import { offsetUncertainty, oodScore, thresholdUncertainty } from '../stats/index.ts';
import { DiffusionClassifier, type ClassifyProgress } from './classifier.ts';
import { applyCalibratedSettings, calibratedProbability } from './calibrate.ts';
import type { ClassifyConfig, ImageResult } from './types.ts';
import { multiscaleScores } from './ood.ts';

export interface ClassifyOptions extends Partial<ClassifyConfig> {
  /** false: ignore the pipeline's calibration (the plain majority vote, the full time range). Default true. */
  calibration?: boolean;
  logger?: Logger;
  signal?: AbortSignal;
  onProgress?: (p: ClassifyProgress) => void;
}

/**
 * The classify settings in force and the calibration they came with: `calibration` when its
 * threshold decides (vote aggregate), `stored` whenever its window and mirror view are the ones in
 * force (reports show its decision beside any aggregate); null when none applies.
 */
export interface ClassifySettings {
  config: ClassifyConfig; calibration: Calibration | null; stored: Calibration | null;
  /** The OOD threshold, when the pipeline has one fitted with the window and mirror view in force. */
  ood: OodCalibration | null;
}

export interface Classification extends ImageResult {
  /** Class name of `predicted`: what `meddiff classify` answers. */
  prediction: string;
  /** How `predicted` was reached: the majority vote, the calibrated vote-share threshold (two classes) or class offsets (K > 2), or the mean error. */
  decision: 'vote' | 'threshold' | 'offsets' | 'mean';
  calibrated: boolean;
  /** The threshold rule when one decided: positive class, its share threshold, the N it was fitted at. */
  threshold: { positive: number; className: string; value: number; fittedAtN: number } | null;
  /** The calibrated class offsets when they decided (K > 2), else null. */
  classOffsets: number[] | null;
  /** Share of the votes for the predicted class. */
  voteShare: number;
  /**
   * How unsure the decision is, in [0, 1]: the normalised vote entropy (÷ log K), with a threshold
   * the vote share's closeness to it (1 at the threshold, 0 when all votes agree), with class
   * offsets 1 − the gap between the two best offset shares.
   */
  uncertainty: number;
  /** Platt-calibrated probability of the positive class (calibrations fitted for accuracy). */
  probability: Record<string, number> | null;
  /**
   * Is the image unlike the training data? Its OOD score against the threshold `calibrate` fitted
   * on validation data; null when the calibration has none. `kind` names the score:
   * 'min-class-mean-error' (lowest class mean denoising error, from the pairs already drawn) or
   * 'multiscale' (10 extra forward passes, counted in `forwardPasses`).
   */
  ood: { kind: OodScoreKind; score: number; threshold: number; flagged: boolean } | null;
}

/**
 * The settings a classification runs with: the caller's, with the pipeline's calibration (time
 * window, mirror view, threshold) filling what the caller left open. A window or mirror setting
 * that contradicts the calibration keeps the caller's and drops the threshold, with a warning.
 */
export function classifySettings(p: DiffusionPipeline, o: ClassifyOptions = {}): ClassifySettings {
  const { calibration, logger, signal: _s, onProgress: _p, names: _n, ...partial } = o as ClassifyOptions & { names?: unknown };
  const stored = calibration === false ? null : p.calibration;
  const { cfg, cal } = applyCalibratedSettings<Partial<ClassifyConfig>>(partial, stored, (m) => logger?.warn?.(m));
  const clf = new DiffusionClassifier(p, cfg);
  // the OOD threshold holds only for the window and mirror view it was fitted with (the score's scale depends on them)
  // (the multiscale score uses its own fixed times and no class, so it holds for any settings)
  const fit = stored?.ood ?? null, t = clf.cfg.tRange;
  const ood = fit && (fit.score === 'multiscale' || (t[0] === fit.fittedOn.tRange[0] && t[1] === fit.fittedOn.tRange[1] && clf.cfg.mirror === fit.fittedOn.mirror)) ? fit : null;
  if (fit && fit.score !== 'multiscale' && !ood) logger?.warn?.(`the out-of-distribution threshold was fitted with pairs at t ∈ [${fit.fittedOn.tRange.join(', ')}]${fit.fittedOn.mirror ? ' and the mirror view' : ''}; these settings differ, so images are not checked`);
  return { config: clf.cfg, calibration: clf.cfg.aggregate === 'vote' && (clf.cfg.decisionThreshold || clf.cfg.classOffsets) ? cal : null, stored: cal, ood };
}

/**
 * An ImageResult with the decision spelled out. `multiscaleScore`: the image's multiscale OOD score
 * (multiscaleScores), needed when the stored OOD score is multiscale; without it `ood` is null.
 */
export function describeResult(p: DiffusionPipeline, r: ImageResult, s: ClassifySettings, multiscaleScore?: number): Classification {
  const cal = s.calibration, d = s.config.decisionThreshold, o = s.config.classOffsets;
  const thresholded = s.config.aggregate === 'vote' && d !== null, offset = s.config.aggregate === 'vote' && o !== null;
  return {
    ...r, prediction: p.classNames[r.predicted]!, decision: s.config.aggregate === 'mean' ? 'mean' : thresholded ? 'threshold' : offset ? 'offsets' : 'vote',
    calibrated: Boolean(cal),
    threshold: thresholded ? { positive: d.positive, className: p.classNames[d.positive]!, value: d.threshold, fittedAtN: cal?.fittedOn.n ?? s.config.n } : null,
    classOffsets: offset ? [...o] : null,
    voteShare: r.shares[r.predicted]!,
    uncertainty: thresholded ? thresholdUncertainty(r.shares[d.positive]!, d.threshold) : offset ? offsetUncertainty(r.shares, o) : r.entropy,
    probability: cal?.kind === 'vote-share-threshold' && cal.platt ? { [p.classNames[cal.positive]!]: calibratedProbability(cal, r.shares)! } : null,
    ood: oodOf(r, s, multiscaleScore),
  };
}

function oodOf(r: ImageResult, s: ClassifySettings, multiscaleScore: number | undefined): Classification['ood'] {
  const o = s.ood;
  if (!o || (o.score === 'multiscale' && multiscaleScore === undefined)) return null;
  const score = o.score === 'multiscale' ? multiscaleScore! : oodScore(r.meanErrors);
  return { kind: o.score ?? 'min-class-mean-error', score, threshold: o.threshold, flagged: score > o.threshold };
}

/** Classify preprocessed pixels (NHWC at the model's square, in [−1, 1]). */
export function classifyPixels(p: DiffusionPipeline, images: Float32Array, count: number, o: ClassifyOptions = {}): { results: Classification[]; settings: ClassifySettings; seconds: number } {
  const settings = classifySettings(p, o);
  const clf = new DiffusionClassifier(p, settings.config);
  const t0 = performance.now();
  const raw = clf.classify(images, count, { onProgress: o.onProgress, signal: o.signal });
  // the multiscale OOD score: one batched pass per fixed time and image, added to the image's forward passes
  const fit = settings.ood?.score === 'multiscale' ? settings.ood : null;
  const ms = fit ? multiscaleScores(p, images, count, fit, { batchSize: settings.config.batchSize, signal: o.signal }) : null;
  if (fit) for (const r of raw) r.forwardPasses += fit.times.length;
  const seconds = (performance.now() - t0) / 1000;
  return { results: raw.map((r, i) => describeResult(p, r, settings, ms?.[i])), settings, seconds };
}

/** classify() with the settings used and the time it took. */
export async function classifyWithSettings(p: DiffusionPipeline, inputs: ImageInput | readonly ImageInput[], o: ClassifyOptions & { names?: readonly string[] } = {}) {
  const list = Array.isArray(inputs) ? inputs as readonly ImageInput[] : [inputs as ImageInput];
  const images = await p.preprocessBatch(list, o.names);
  o.signal?.throwIfAborted();
  return classifyPixels(p, images, list.length, o);
}

/**
 * Classify images with a pipeline: the prediction `meddiff classify` gives (the calibrated
 * threshold when the model folder has one), the vote shares, the uncertainty. Deterministic for a
 * seed, and independent of which other images share the call.
 */
export async function classify(p: DiffusionPipeline, inputs: ImageInput | readonly ImageInput[], o: ClassifyOptions & { names?: readonly string[] } = {}): Promise<Classification[]> {
  return (await classifyWithSettings(p, inputs, o)).results;
}

/** One input of classifyFiles(): its result, or the error that kept it from being classified. */
export interface InputOutcome { name: string; result: Classification | null; error: string | null }

/**
 * Classify many inputs where some may be unreadable (a folder of scans with one corrupt file):
 * every input gets an outcome, the readable ones are classified together, the others carry their
 * error. Results equal classify()'s for the same inputs (each image's pairs depend on it alone).
 */
export async function classifyFiles(p: DiffusionPipeline, inputs: readonly ImageInput[], o: ClassifyOptions & { names?: readonly string[] } = {}) {
  const { batch, good, errors, names } = await p.preprocessMany(inputs, o.names, o.signal);
  const r = good.length ? classifyPixels(p, batch, good.length, o) : { results: [] as Classification[], settings: classifySettings(p, o), seconds: 0 };
  const outcomes: InputOutcome[] = names.map((name, i) => ({ name, result: null, error: errors[i]! }));
  good.forEach((i, k) => { outcomes[i]!.result = r.results[k]!; });
  return { outcomes, settings: r.settings, seconds: r.seconds, failed: outcomes.filter((x) => x.error !== null).length };
}

/** One result as `meddiff classify --json` (and the server) print it: class names as keys. */
export function classificationJson(r: Classification, classNames: readonly string[], id?: string) {
  return {
    ...(id !== undefined ? { file: id } : {}),
    prediction: r.prediction, calibrated: r.calibrated, decision: r.decision, voteShare: r.voteShare, entropy: r.entropy, uncertainty: r.uncertainty,
    ...(r.probability ? { probability: r.probability } : {}),
    ...(r.threshold ? { threshold: { class: r.threshold.className, value: r.threshold.value, fittedAtN: r.threshold.fittedAtN } } : {}),
    ...(r.decision === 'offsets' ? { classOffsets: Object.fromEntries(classNames.map((c, k) => [c, r.classOffsets![k]!])) } : {}),
    ...(r.ood ? { ood: r.ood } : {}),
    votes: Object.fromEntries(classNames.map((c, k) => [c, r.votes[k]!])),
    meanError: Object.fromEntries(classNames.map((c, k) => [c, r.meanErrors[k]!])),
    votePrediction: classNames[r.votePred]!, meanPrediction: classNames[r.meanPred]!,
    pairsUsed: r.pairsUsed, forwardPasses: r.forwardPasses,
    ...(r.keptClasses && r.keptClasses.length < classNames.length ? { keptClasses: r.keptClasses.map((k) => classNames[k]!) } : {}),
  };
}
