// calibrate() as a library call: classify a VALIDATION split with a pipeline, fit the vote-share
// threshold (and optionally the time window), store it beside the weights.
import { parseSplitName, type CsvColumns } from '../data/index.ts';
import { saveCalibration, type Calibration, type CalibrationObjective, type DiffusionPipeline, type Logger, type OodCalibration } from '../pipeline/index.ts';
import { accuracy, balancedAccuracy, defaultPositiveClass, oodScore, quantile, thresholdDecisions } from '../stats/index.ts';
import { DiffusionClassifier, type ClassifyProgress } from './classifier.ts';
import { fitPlatt, fitVoteThreshold } from './calibrate.ts';
import type { ClassifyConfig } from './types.ts';
import { searchTimeWindow, windowVote, type TimeWindowFit } from './window.ts';

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
  if (!o.oodOnly && p.classNames.length !== 2) throw new Error(`calibration needs two classes; this model has ${p.classNames.length}`);
  const q = o.oodQuantile ?? 0.98;
  if (!(q > 0 && q < 1)) throw new Error(`--ood-quantile must be in (0, 1), got ${q}`);
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
  const objective = o.objective ?? 'balanced-accuracy';
  if (objective !== 'balanced-accuracy' && objective !== 'accuracy') throw new Error(`objective must be 'balanced-accuracy' or 'accuracy', got '${String(objective)}'`);
  const { images, labels, count } = await p.loadSplit(o.data, split, { limit: o.limit, logger: o.logger, sameClasses: true, csv: o.csv });
  const clf = new DiffusionClassifier(p, { ...cfg, decisionThreshold: null, keepErrors: search });
  const r = clf.classify(images, count, { onProgress: o.onProgress, signal: o.signal });
  // the OOD threshold from the scores over the pairs classify will draw: those in `tRange`
  const fitOod = (tRange: [number, number], scores: number[]): OodCalibration => ({
    score: 'min-class-mean-error', threshold: quantile(scores, q), quantile: q, fittedOn: { split, images: count, n: clf.cfg.n, tRange, mirror: clf.cfg.mirror },
  });
  const store = (cal: Calibration, win: TimeWindowFit | null): CalibrateResult => {
    const save = o.save ?? p.dir !== null;
    if (save && !p.dir) throw new Error('calibrate: this pipeline has no folder to save calibration.json in; pass save: false');
    const file = save ? saveCalibration(p.dir!, cal) : null;
    p.calibration = cal;
    return { calibration: cal, window: win, file };
  };
  if (base) return store({ ...base, ood: fitOod(clf.cfg.tRange, r.map((x) => oodScore(x.meanErrors))) }, null);
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
  const cal: Calibration = {
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
