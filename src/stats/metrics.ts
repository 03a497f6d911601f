/**
 * Classification metrics (pure, no I/O). Conventions, chosen to match scikit-learn:
 * - confusion matrix rows = true class, columns = predicted class;
 * - precision of a class never predicted is 0 (sklearn zero_division=0); recall of a class absent
 *   from yTrue is NaN and that class is left out of balanced accuracy;
 * - macro F1 averages over the classes present in yTrue or yPred;
 * - a metric that is undefined (empty input, AUROC with one class only) is NaN (null in JSON).
 */

/** The two ways of turning per-pair errors into a class. */
export type Aggregate = 'vote' | 'mean';

/** The fields of one prediction that the metrics read (eval's PredictionRecord has them all). */
export interface ScoredPrediction {
  /** Image path or other stable identifier. */
  id: string;
  /** True class index in [0, K). */
  label: number;
  votePred: number;
  meanPred: number;
  shares: readonly number[];
  meanErrors: readonly number[];
}

export type Labels = ArrayLike<number>;

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Images whose true class is this one. */
  support: number;
  /** Images predicted as this class. */
  predicted: number;
}

function checkLabels(y: Labels, K: number, what: string): void {
  for (let i = 0; i < y.length; i++) {
    const v = y[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= K) throw new Error(`${what}[${i}] = ${v} is not a class index in [0, ${K})`);
  }
}

function checkSameLength(a: { length: number }, b: { length: number }, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: lengths differ (${a.length} vs ${b.length})`);
}

/** K×K counts, cm[true][pred]. */
export function confusionMatrix(yTrue: Labels, yPred: Labels, K: number): number[][] {
  if (!Number.isInteger(K) || K < 2) throw new Error(`K must be an integer >= 2, got ${K}`);
  checkSameLength(yTrue, yPred, 'confusionMatrix');
  checkLabels(yTrue, K, 'yTrue');
  checkLabels(yPred, K, 'yPred');
  const cm = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  for (let i = 0; i < yTrue.length; i++) cm[yTrue[i]!]![yPred[i]!]!++;
  return cm;
}

/** Fraction of predictions equal to the label (NaN when empty). */
export function accuracy(yTrue: Labels, yPred: Labels): number {
  checkSameLength(yTrue, yPred, 'accuracy');
  if (yTrue.length === 0) return NaN;
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) ok++;
  return ok / yTrue.length;
}

/** Precision, recall, F1, support per class from a confusion matrix. */
export function perClassFromConfusion(cm: number[][]): ClassMetrics[] {
  const K = cm.length;
  return cm.map((row, c) => {
    const tp = row[c]!;
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < K; r++) predicted += cm[r]![c]!;
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : NaN;
    const r0 = support > 0 ? recall : 0;
    // A class neither present nor predicted has no F1 (left out of the macro mean).
    const f1 = support === 0 && predicted === 0 ? NaN : precision + r0 > 0 ? (2 * precision * r0) / (precision + r0) : 0;
    return { precision, recall, f1, support, predicted };
  });
}

/** Precision, recall, F1 and support per class. */
export function perClassMetrics(yTrue: Labels, yPred: Labels, K: number): ClassMetrics[] {
  return perClassFromConfusion(confusionMatrix(yTrue, yPred, K));
}

/** Mean recall over the classes present in yTrue (sklearn balanced_accuracy_score). */
export function balancedAccuracy(yTrue: Labels, yPred: Labels, K: number): number {
  const rec = perClassMetrics(yTrue, yPred, K).map((m) => m.recall).filter((r) => !Number.isNaN(r));
  return rec.length ? rec.reduce((a, b) => a + b, 0) / rec.length : NaN;
}

/** Unweighted mean F1 over the classes present in yTrue or yPred (sklearn f1_score average='macro'). */
export function macroF1(yTrue: Labels, yPred: Labels, K: number): number {
  const f = perClassMetrics(yTrue, yPred, K).map((m) => m.f1).filter((x) => !Number.isNaN(x));
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
}

/** Recall of the positive class, TP / (TP + FN). One-vs-rest when K > 2. */
export function sensitivity(yTrue: Labels, yPred: Labels, positive = 1): number {
  checkSameLength(yTrue, yPred, 'sensitivity');
  let tp = 0, p = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === positive) { p++; if (yPred[i] === positive) tp++; }
  return p > 0 ? tp / p : NaN;
}

/** Recall of the negative class(es), TN / (TN + FP). One-vs-rest when K > 2. */
export function specificity(yTrue: Labels, yPred: Labels, positive = 1): number {
  checkSameLength(yTrue, yPred, 'specificity');
  let tn = 0, n = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] !== positive) { n++; if (yPred[i] !== positive) tn++; }
  return n > 0 ? tn / n : NaN;
}

/**
 * Midranks (1-based) of the values, ties sharing the average of the ranks they span.
 */
export function midranks(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]! || a - b);
  const r = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]!] === x[order[i]!]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]!] = rank;
    i = j + 1;
  }
  return r;
}

/**
 * Area under the ROC curve of `score` for detecting yTrue === positive (higher score = more
 * positive), via the Mann–Whitney U statistic with midranks, so a tie between a positive and a
 * negative counts 1/2. NaN when either group is empty.
 */
export function auroc(yTrue: ArrayLike<number | boolean>, score: ArrayLike<number>, positive: number | boolean = 1): number {
  checkSameLength(yTrue, score, 'auroc');
  for (let i = 0; i < score.length; i++) if (Number.isNaN(score[i])) throw new Error(`auroc: score[${i}] is NaN`);
  const r = midranks(score);
  let nPos = 0, rankSum = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === positive) { nPos++; rankSum += r[i]!; }
  const nNeg = yTrue.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Macro one-vs-rest AUROC: the mean over classes c of auroc(yTrue === c, scores[i][c]).
 * Classes with no positive or no negative image are left out.
 */
export function macroAurocOvr(yTrue: Labels, scores: ArrayLike<ArrayLike<number>>, K: number): number {
  checkSameLength(yTrue, scores, 'macroAurocOvr');
  const vals: number[] = [];
  for (let c = 0; c < K; c++) {
    const s = Array.from({ length: yTrue.length }, (_, i) => scores[i]![c]!);
    const a = auroc(yTrue, s, c);
    if (!Number.isNaN(a)) vals.push(a);
  }
  return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : NaN;
}

/** Metrics of one aggregation rule. */
export interface AggregateMetrics {
  accuracy: number;
  balancedAccuracy: number;
  macroF1: number;
  /** Binary: AUROC of the positive-class score; K > 2: macro one-vs-rest AUROC. */
  auroc: number;
  /** The score the AUROC ranks by. */
  aurocScore: string;
  /** Binary only (null when K > 2). */
  sensitivity: number | null;
  specificity: number | null;
  perClass: ClassMetrics[];
  /** cm[true][pred]. */
  confusionMatrix: number[][];
}

export interface Summary {
  n: number;
  K: number;
  /** Positive class index used for sensitivity, specificity and binary AUROC. */
  positive: number;
  vote: AggregateMetrics;
  mean: AggregateMetrics;
}

export interface SummarizeOptions {
  /** Positive class for binary metrics (default 1). */
  positive?: number;
}

/**
 * Per-class scores (higher = more that class) used for AUROC:
 * - vote: the vote share of the class;
 * - mean: the margin min_{c'≠c} meanError[c'] − meanError[c] (binary: e_neg − e_pos).
 */
export function classScores(r: ScoredPrediction, aggregate: Aggregate): number[] {
  if (aggregate === 'vote') return r.shares.slice();
  const e = r.meanErrors;
  return e.map((ec, c) => {
    let best = Infinity;
    for (let d = 0; d < e.length; d++) if (d !== c && e[d]! < best) best = e[d]!;
    return best - ec;
  });
}

function aggregateMetrics(records: readonly ScoredPrediction[], K: number, positive: number, aggregate: Aggregate): AggregateMetrics {
  const yTrue = records.map((r) => r.label);
  const yPred = records.map((r) => (aggregate === 'vote' ? r.votePred : r.meanPred));
  const cm = confusionMatrix(yTrue, yPred, K);
  const perClass = perClassFromConfusion(cm);
  const scores = records.map((r) => classScores(r, aggregate));
  const binary = K === 2;
  const what = aggregate === 'vote' ? 'vote share' : 'mean-error margin';
  return {
    accuracy: accuracy(yTrue, yPred),
    balancedAccuracy: balancedAccuracy(yTrue, yPred, K),
    macroF1: macroF1(yTrue, yPred, K),
    auroc: binary ? auroc(yTrue, scores.map((s) => s[positive]!), positive) : macroAurocOvr(yTrue, scores, K),
    aurocScore: binary ? `${what} of class ${positive}` : `${what} per class, macro one-vs-rest`,
    sensitivity: binary ? sensitivity(yTrue, yPred, positive) : null,
    specificity: binary ? specificity(yTrue, yPred, positive) : null,
    perClass,
    confusionMatrix: cm,
  };
}

/** All metrics for the vote and the mean prediction. */
export function summarize(records: readonly ScoredPrediction[], K: number, opts: SummarizeOptions = {}): Summary {
  const positive = opts.positive ?? 1;
  if (!Number.isInteger(positive) || positive < 0 || positive >= K) throw new Error(`positive class ${positive} is not in [0, ${K})`);
  records.forEach((r, i) => {
    if (r.shares.length !== K || r.meanErrors.length !== K) {
      throw new Error(`record ${i} (${r.id}): shares/meanErrors have length ${r.shares.length}/${r.meanErrors.length}, expected K = ${K}`);
    }
  });
  return {
    n: records.length,
    K,
    positive,
    vote: aggregateMetrics(records, K, positive, 'vote'),
    mean: aggregateMetrics(records, K, positive, 'mean'),
  };
}

const NEGATIVE_NAMES = ['normal', 'benign', 'normal+benign', 'normal, benign', 'no finding', 'healthy', 'negative', 'nv', 'nevus', 'control'];

/**
 * The "finding" class of a two-class problem, used as positive for sensitivity, specificity and
 * AUROC: the class whose name is not a normal/benign one (BreastMNIST: malignant = 0), else class 1.
 */
export function defaultPositiveClass(classNames: readonly string[]): number {
  if (classNames.length !== 2) return 1;
  const neg = classNames.map((c) => NEGATIVE_NAMES.includes(c.trim().toLowerCase()));
  if (neg[0] && !neg[1]) return 1;
  if (neg[1] && !neg[0]) return 0;
  return 1;
}
