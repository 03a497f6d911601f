// calibrate() as a library call: classify a VALIDATION split with a pipeline, fit the vote-share
// threshold (two classes; optionally the time window) or the per-class vote-share offsets (K > 2),
// store it beside the weights.
import { parseSplitName, type CsvColumns } from '../data/index.ts';
import { saveCalibration, type Calibration, type CalibrationObjective, type DiffusionPipeline, type Logger, type OodCalibration, type OodScoreKind, type OffsetsCalibration, type ThresholdCalibration } from '../pipeline/index.ts';
import { accuracy, balancedAccuracy, defaultPositiveClass, fitClassOffsets, offsetDecision, oodScore, quantile, thresholdDecisions } from '../stats/index.ts';
import { DiffusionClassifier, type ClassifyProgress } from './classifier.ts';
import { fitPlatt, fitVoteThreshold } from './calibrate.ts';
import type { ClassifyConfig } from './types.ts';
import { searchTimeWindow, windowVote, type TimeWindowFit } from './window.ts';
import { fitMultiscaleOod, OOD_SCORE_KINDS, validateMultiscaleOodConfig } from './ood.ts';

export interface CalibrateOptions {
  /** Data set with a validation split (npz, folder, CSV). */
  data: string;
  /** Split to fit on (default 'val'); the test split is refused. */
  split?: string;
  limit?: number;
  /** CSV manifests: columns and filters (default: those the model was trained with). */
  csv?: CsvColumns;
  /** Classify settings (N, seed, batch, mirror, tRange…); early stopping is refused. */
  classify?: Partial<ClassifyConfig>;
  /** Also choose the diffusion-time window of the pairs. */
  searchT?: boolean;
  minWidth?: number;
  significance?: number;
  objective?: CalibrationObjective;
  /** Quantile of the fitting split's OOD scores that becomes the OOD threshold (default 0.98: 2% of in-distribution images flagged). */
  oodQuantile?: number;
  /**
   * Which OOD score the threshold is for: 'min-class-mean-error' (default; from the classifier's
   * own pairs) or 'multiscale' (null-class errors at fixed times, a Gaussian fitted on the
   * training split, a conformal threshold on this split; 10 extra forward passes per image).
   */
  oodScore?: OodScoreKind;
  /** Multiscale score: training images its Gaussian is fitted on, evenly spread (default 300). */
  oodTrainImages?: number;
  /** Multiscale score v3: add the input's Haar-band statistics (its complexity) to the vector. */
  oodBands?: boolean;
  /**
   * Only (re)fit the OOD threshold and keep the rest of the pipeline's calibration (its window,
   * mirror view and decision threshold) exactly as it is.
   */
  oodOnly?: boolean;
  /** Write calibration.json into the pipeline's folder (default true when it has one). */
  save?: boolean;
  logger?: Logger;
  signal?: AbortSignal;
  onProgress?: (p: ClassifyProgress) => void;
}

export interface CalibrateResult {
  calibration: Calibration;
  /** The window search, when asked for. */
  window: TimeWindowFit | null;
  /** calibration.json written, or null. */
  file: string | null;
}

export async function calibrate(p: DiffusionPipeline, o: CalibrateOptions): Promise<CalibrateResult> {
  const split = parseSplitName(o.split ?? 'val');
  if (!split) throw new Error(`split must be train, val or test, got '${String(o.split)}'`);
  if (split === 'test') throw new Error('--split test: calibrating on the test split would leak it into the reported results; use val');
  const base = o.oodOnly ? p.calibration : null;
  if (o.oodOnly && !base) throw new Error('--ood-only adds the OOD threshold to an existing calibration.json, and this model has none (for these weights); run meddiff calibrate without --ood-only');
  const K = p.classNames.length;
  if (!o.oodOnly && K > 2 && o.searchT) throw new Error(`--search-t fits a time window for a two-class threshold; this model has ${K} classes (${p.classNames.join(', ')}), whose class offsets are fitted in the window given by --t-range (default 0,1): drop --search-t`);
  const q = o.oodQuantile ?? 0.98;
  if (!(q > 0 && q < 1)) throw new Error(`--ood-quantile must be in (0, 1), got ${q}`);
  const kind = o.oodScore ?? 'min-class-mean-error';
  if (!OOD_SCORE_KINDS.includes(kind)) throw new Error(`--ood-score must be one of ${OOD_SCORE_KINDS.join(', ')}, got '${String(kind)}'`);
  if (kind !== 'multiscale' && o.oodTrainImages !== undefined) throw new Error(`--ood-train-images applies to --ood-score multiscale; this calibration uses ${kind}`);
  if (kind !== 'multiscale' && o.oodBands) throw new Error(`--ood-bands applies to --ood-score multiscale; this calibration uses ${kind}`);
  const msCfg = kind === 'multiscale'
    ? validateMultiscaleOodConfig({ ...(o.oodTrainImages === undefined ? {} : { trainImages: o.oodTrainImages }), ...(o.oodBands === undefined ? {} : { bands: o.oodBands }) })
    : null;
  // the Gaussian is fitted on training images: a threshold from the same images would flag too few
  if (msCfg && split === 'train') throw new Error('--ood-score multiscale fits its Gaussian on the training split; fit its threshold on another split: --split val');
  const cfg = { ...o.classify };
  if (base) {
    if (o.searchT) throw new Error('--ood-only keeps the calibrated window; drop --search-t');
    // the OOD threshold must be fitted on the votes classify will draw: the calibrated window and mirror view
    cfg.tRange = base.tRange ?? [0, 1];
    cfg.mirror = base.mirror ?? false;
  }
  const search = Boolean(o.searchT);
  if (search && cfg.tRange) throw new Error('--search-t chooses the time window itself; drop --t-range');
  // early-stopped shares are over fewer pairs and pushed towards 0 or 1; a threshold fitted on them would not fit full-N votes
  if (cfg.earlyStop && cfg.earlyStop !== 'off') throw new Error(`calibration needs the vote shares over all N pairs of every image; drop --early-stop ${cfg.earlyStop}`);
  if (cfg.prune) throw new Error('calibration needs the votes of every class on every pair; drop --prune-after/--prune-keep (classify and evaluate may still prune)');
  const objective = o.objective ?? 'balanced-accuracy';
  if (objective !== 'balanced-accuracy' && objective !== 'accuracy') throw new Error(`objective must be 'balanced-accuracy' or 'accuracy', got '${String(objective)}'`);
  const { images, labels, count } = await p.loadSplit(o.data, split, { limit: o.limit, logger: o.logger, sameClasses: true, csv: o.csv });
  let multiscale: OodCalibration | null = null;
  if (msCfg) {
    const train = await p.loadSplit(o.data, 'train', { limit: msCfg.trainImages, logger: o.logger, sameClasses: true, csv: o.csv });
    const fit = fitMultiscaleOod(p, train, { images, count, split }, q, msCfg, { batchSize: cfg.batchSize, signal: o.signal });
    if (fit.notice) o.logger?.warn?.(fit.notice);
    multiscale = fit.calibration;
  }
  const clf = new DiffusionClassifier(p, { ...cfg, decisionThreshold: null, classOffsets: null, keepErrors: search });
  const store = (cal: Calibration, win: TimeWindowFit | null): CalibrateResult => {
    const save = o.save ?? p.dir !== null;
    if (save && !p.dir) throw new Error('calibrate: this pipeline has no folder to save calibration.json in; pass save: false');
    const file = save ? saveCalibration(p.dir!, cal) : null;
    p.calibration = cal;
    return { calibration: cal, window: win, file };
  };
  // the multiscale score does not use the classifier's votes: --ood-only needs no classification
  if (base && multiscale) return store({ ...base, ood: multiscale }, null);
  const r = clf.classify(images, count, { onProgress: o.onProgress, signal: o.signal });
  // the OOD threshold from the scores over the pairs classify will draw: those in `tRange`
  const fitOod = (tRange: [number, number], scores: number[]): OodCalibration => multiscale ?? ({
    score: 'min-class-mean-error', threshold: quantile(scores, q), quantile: q, fittedOn: { split, images: count, n: clf.cfg.n, tRange, mirror: clf.cfg.mirror },
  });
  if (base) return store({ ...base, ood: fitOod(clf.cfg.tRange, r.map((x) => oodScore(x.meanErrors))) }, null);
  if (K > 2) {
    const present = new Set(labels);
    const absent = p.classNames.filter((_, c) => !present.has(c));
    if (absent.length) o.logger?.warn?.(`the ${split} split has no image of ${absent.join(', ')}: balanced accuracy leaves ${absent.length > 1 ? 'them' : 'it'} out, and the fit will avoid predicting ${absent.length > 1 ? 'them' : 'it'}`);
    const shares = r.map((x) => x.shares), means = r.map((x) => x.meanErrors), plain = r.map((x) => x.votePred);
    const fit = fitClassOffsets(shares, labels, K, { objective, means });
    const decided = shares.map((s, i) => offsetDecision(s, fit.offsets, means[i]));
    const cal: OffsetsCalibration = {
      kind: 'vote-share-offsets', offsets: fit.offsets, objective,
      fittedOn: {
        split, images: count, n: clf.cfg.n, balancedAccuracy: balancedAccuracy(labels, decided, K), uncalibratedBalancedAccuracy: balancedAccuracy(labels, plain, K),
        accuracy: accuracy(labels, decided), uncalibratedAccuracy: accuracy(labels, plain),
      },
      ood: fitOod(clf.cfg.tRange, r.map((x) => oodScore(x.meanErrors))), weightsSha256: p.weightsSha256,
    };
    if (clf.cfg.mirror) cal.mirror = true;
    if (clf.cfg.tRange[0] > 0 || clf.cfg.tRange[1] < 1) cal.tRange = clf.cfg.tRange;
    return store(cal, null);
  }
  const positive = defaultPositiveClass(p.classNames);
  let shares = r.map((x) => x.shares[positive]!), preds = r.map((x) => x.votePred);
  let win: TimeWindowFit | null = null;
  if (search) {
    win = searchTimeWindow(r.map((x) => ({ errors: x.errors!, times: x.times! })), labels, 2, { positive, minWidth: o.minWidth, significance: o.significance });
    shares = win.shares.map((s) => s[positive]!);
    preds = win.predictions;
  }
  const platt = objective === 'accuracy' ? fitPlatt(shares, labels, positive) : null;
  const threshold = platt ? platt.threshold : fitVoteThreshold(shares, labels, positive).threshold;
  const decided = thresholdDecisions(shares, threshold, positive);
  const cal: ThresholdCalibration = {
    kind: 'vote-share-threshold', positive, threshold, objective,
    fittedOn: {
      split, images: count, n: clf.cfg.n, balancedAccuracy: balancedAccuracy(labels, decided, 2), uncalibratedBalancedAccuracy: balancedAccuracy(labels, preds, 2),
      accuracy: accuracy(labels, decided), uncalibratedAccuracy: accuracy(labels, preds),
    },
  };
  if (platt) cal.platt = { a: platt.a, b: platt.b };
  // with a searched window, classify will draw its pairs there: score the images on those pairs only
  cal.ood = win
    ? fitOod(win.tRange, r.map((x) => oodScore(windowVote({ errors: x.errors!, times: x.times! }, 2, win!.tRange[0], win!.tRange[1]).means)))
    : fitOod(clf.cfg.tRange, r.map((x) => oodScore(x.meanErrors)));
  cal.weightsSha256 = p.weightsSha256;
  if (clf.cfg.mirror) cal.mirror = true;
  // the window the threshold was fitted in, so the classifier draws its pairs there too
  if (!win && (clf.cfg.tRange[0] > 0 || clf.cfg.tRange[1] < 1)) cal.tRange = clf.cfg.tRange;
  if (win) {
    cal.tRange = win.tRange;
    cal.window = { fullRangeBalancedAccuracy: win.fullRangeBalancedAccuracy, windowsTried: win.windowsTried, pairsPerImage: clf.cfg.n, searched: win.searched, significance: o.significance ?? 0.05 };
  }
  return store(cal, win);
}
