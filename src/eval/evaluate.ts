// evaluate() as a library call: classify a split with a pipeline (its calibration applied, as
// `classify` would), optionally explain the first images, and write the report once.
import path from 'node:path';
import { classifySettings, DiffusionClassifier, type ClassifyConfig, type ClassifyProgress } from '../classify/index.ts';
import { explainImages, explanationTable, localise, localisationHtml, summariseLocalisation, type ExplainConfig } from '../explain/index.ts';
import type { BaselinePipeline, DiffusionPipeline, Logger } from '../pipeline/index.ts';
import { judgeCounterfactuals, judgeSectionHtml } from './judge.ts';
import { defaultPositiveClass, oodScore } from '../stats/index.ts';
import { portablePath } from '../util/index.ts';
import { csvMaskPaths, loadMasks, type CsvColumns } from '../data/index.ts';
import { calibratedFigures, calibratedSectionHtml } from './calibrated.ts';
import { oodDetection, oodSectionHtml, type OodOptions, type OodReport } from './ood.ts';
import { writeReport, type ReportSection, type ReportSummary } from './report.ts';
import type { PredictionRecord } from './types.ts';

export interface EvaluateOptions {
  /** Data set (npz, folder, CSV), read with the pipeline's preprocessing and split seed. */
  data: string;
  /** Split to evaluate (default 'test'). */
  split?: string;
  /** Only the first k images, spread evenly over the split. */
  limit?: number;
  /** CSV manifests: columns and filters (default: those the model was trained with). */
  csv?: CsvColumns;
  /** Report folder. */
  out: string;
  classify?: Partial<ClassifyConfig>;
  /** false: ignore the pipeline's calibration. */
  calibration?: boolean;
  /** Positive ('finding') class name for sensitivity/specificity/AUROC; default: the non-normal class. */
  positive?: string;
  /** Out-of-distribution check: detection AUROC of this split against other data sets, and how many the stored threshold flags. */
  ood?: OodOptions;
  /** Explain the first `images` images (counterfactuals and their flip rate) in the report. */
  explain?: { images: number; settings?: Partial<ExplainConfig>; judge?: BaselinePipeline };
  logger?: Logger;
  signal?: AbortSignal;
  onProgress?: (p: ClassifyProgress) => void;
}

/** Classify a split of a data set with a pipeline and write report.html, report.json, predictions.csv and the plots. */
export async function evaluate(p: DiffusionPipeline, o: EvaluateOptions): Promise<ReportSummary> {
  const { split, images, labels, ids: rawIds, count } = await p.loadSplit(o.data, o.split ?? 'test', { limit: o.limit, logger: o.logger, sameClasses: true, csv: o.csv });
  const ids = rawIds.map((id) => (path.isAbsolute(id) ? portablePath(id) : id));
  const settings = classifySettings(p, { ...o.classify, calibration: o.calibration, logger: o.logger });
  const cfg = settings.config, cal = settings.stored;
  const clf = new DiffusionClassifier(p, { ...cfg, keepErrors: true });
  const t0 = performance.now();
  const results = clf.classify(images, count, { onProgress: o.onProgress, signal: o.signal });
  const seconds = (performance.now() - t0) / 1000;
  const records: PredictionRecord[] = results.map((r, i) => ({
    id: ids[i]!, label: labels[i]!, votePred: r.votePred, meanPred: r.meanPred, votes: r.votes, shares: r.shares,
    entropy: r.entropy, meanErrors: r.meanErrors, errors: r.errors, pairsUsed: r.pairsUsed, forwardPasses: r.forwardPasses,
  }));
  const passes = results.reduce((a, r) => a + r.forwardPasses, 0);
  let positive = defaultPositiveClass(p.classNames);
  if (o.positive !== undefined) {
    positive = p.classNames.indexOf(o.positive);
    if (positive < 0) throw new Error(`--positive '${o.positive}' is not a class of the model (${p.classNames.join(', ')})`);
  }
  const sections: ReportSection[] = [];
  // Calibrated decisions (threshold fitted on validation data by `meddiff calibrate`), beside the plain vote.
  const calibrated = cal ? calibratedFigures(records, cal, p.classNames.length, positive) : null;
  if (cal && calibrated) sections.push({ title: 'Calibrated decision', html: calibratedSectionHtml(records, cal, calibrated, p.classNames, positive) });
  if (cfg.earlyStop !== 'off') {
    const mean = passes / count / p.classNames.length;
    sections.push({ title: 'Early stopping', html: `<p>Early stopping '${cfg.earlyStop}' used ${mean.toFixed(1)} of ${cfg.n} noise samples per image on average. The majority vote${cfg.decisionThreshold ? ' and the calibrated decision are the ones' : ' is the one'} all ${cfg.n} would give ('decided' never changes ${cfg.decisionThreshold ? 'them' : 'it'}${cfg.earlyStop === 'paired' ? `; 'paired' stops once the remaining samples would change ${cfg.decisionThreshold ? 'one' : 'it'} with probability below ${cfg.alpha}` : ''}), but vote shares and entropy are over the samples used, so confident images look more certain than with all ${cfg.n}; the mean-error rule and the vote-vs-mean table use only the samples drawn.</p>` });
  }
  let ood: OodReport | null = null;
  if (o.ood && o.ood.data.length > 0) {
    ood = await oodDetection(p, { images, count, minClassMeanErrors: records.map((r) => oodScore(r.meanErrors)) }, cfg, { limit: o.limit, ...o.ood }, settings.ood, o.logger, o.signal);
    sections.push({ title: 'Out-of-distribution detection', html: oodSectionHtml(ood) });
  }
  let explanations: Record<string, number> | null = null;
  if (o.explain && o.explain.images > 0) {
    o.signal?.throwIfAborted();
    const k = Math.min(o.explain.images, count), px = p.pixelsPerImage;
    const te = performance.now();
    const es = explainImages(p, images.subarray(0, k * px), k, { explain: o.explain.settings, classify: { ...cfg, earlyStop: 'decided' }, signal: o.signal });
    const s = (performance.now() - te) / 1000;
    const flips = es.filter((e) => e.flipped).length;
    const mean = (f: (e: (typeof es)[number]) => number) => es.reduce((a, e) => a + f(e), 0) / es.length;
    explanations = { images: k, tExplain: es[0]!.tExplain, flipRate: flips / k, meanAbsDiff: mean((e) => e.proximity.meanAbsDiff), fractionChanged: mean((e) => e.proximity.fractionChanged), secondsPerImage: s / k };
    // Localisation against lesion masks, when the CSV lists them (npz and folders have none: no figures)
    const maskPaths = await csvMaskPaths(o.data, o.csv ?? p.datasetOptions().csv, rawIds.slice(0, k));
    let loc: ReturnType<typeof localise>[] | undefined, locHtml = '';
    if (maskPaths.some((m) => m !== undefined)) {
      const pre = p.preprocessing, lm = await loadMasks(rawIds.slice(0, k), maskPaths, { size: pre.imageSize, contentSize: pre.contentSize, fit: pre.fit });
      for (const q of lm.problems) o.logger?.warn?.(`explanation ${q.index} (${ids[q.index]}): mask ${q.mask} left out of the localisation: ${q.reason}`);
      loc = es.map((e, i) => (lm.masks[i] ? localise(e.difference, lm.masks[i]!, e.width, e.height) : null));
      const sum = summariseLocalisation(loc);
      const unusable = lm.listed - (sum?.localisedImages ?? 0);
      explanations.localisedImages = sum?.localisedImages ?? 0;
      explanations.masksUnusable = unusable;
      if (sum) {
        Object.assign(explanations, { massInsideMask: sum.massInsideMask, pointingGame: sum.pointingGame, blobMassInsideMask: sum.blobMassInsideMask,
          blobPointingGame: sum.blobPointingGame, maskAreaFraction: sum.maskAreaFraction }, sum.massInsideMaskVsBlob === null ? {} : { massInsideMaskVsBlob: sum.massInsideMaskVsBlob });
      }
      locHtml = localisationHtml(sum, { listed: lm.listed, unusable });
    }
    const html = `<p>Flip rate (the counterfactual is classified as its target class): <b>${(100 * flips / k).toFixed(1)}%</b> of ${k}; mean |Δ| ${explanations.meanAbsDiff!.toFixed(3)}; ${(100 * explanations.fractionChanged!).toFixed(1)}% of pixels changed by > 0.1; started from t = ${es[0]!.tExplain}; ${explanations.secondsPerImage!.toFixed(2)} s per image.</p>`
      + locHtml + await explanationTable(es, p.classNames, ids.slice(0, k), loc);
    sections.push({ title: 'Counterfactual explanations', html });
    if (o.explain.judge) {
      const j = await judgeCounterfactuals(o.explain.judge, p, es.map((e) => ({ input: e.input, counterfactual: e.reconstructions[e.target]!, factual: e.factual, target: e.target })));
      explanations.judgeFlipRate = j.flipRate;
      explanations.judgeAgreementOnInputs = j.agreementOnInputs;
      if (j.flipRateWhereAgreed !== null) explanations.judgeFlipRateWhereAgreed = j.flipRateWhereAgreed;
      sections.push({ title: 'Counterfactuals as an independent judge sees them', html: judgeSectionHtml(j) });
    }
  }
  return writeReport(o.out, {
    records, classNames: p.classNames, positive,
    model: { path: portablePath(p.dir ?? '.'), weights: p.weights, step: p.step, parameters: p.denoiser.parameterCount() },
    settings: {
      N: cfg.n, aggregate: cfg.aggregate, seed: cfg.seed, split, data: portablePath(o.data), earlyStop: cfg.earlyStop,
      times: cfg.times, tRange: cfg.tRange, mirror: cfg.mirror, limit: o.limit ?? null, prune: cfg.prune,
      timings: { totalSeconds: seconds, secondsPerImage: seconds / count, forwardPassesPerSecond: passes / seconds },
    },
    extraSections: sections, calibrated, explanations, ood,
  });
}
