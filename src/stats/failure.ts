/**
 * Failure-detection and calibration metrics beyond the paper (pure, no I/O), as reported by
 * Jaeger et al., "A call to reflect on evaluation practices for failure detection in image
 * classification" (ICLR 2023, fd-shifts): the risk–coverage curve and its area (AURC, E-AURC),
 * and by Guo et al., "On calibration of modern neural networks" (ICML 2017): expected calibration
 * error with equal-width bins, and temperature scaling fitted by NLL. Also the usual
 * probabilistic scores (NLL, Brier) and the ensemble / MC-dropout decomposition of uncertainty
 * (predictive entropy, mutual information; Gal 2016, Lakshminarayanan et al. 2017).
 * Undefined values are NaN (null in JSON).
 */

/** One point of a risk–coverage curve: the error rate among the `coverage` share of images kept. */
export interface RiskCoveragePoint {
  coverage: number;
  risk: number;
}

export interface AurcResult {
  /** Area under the risk–coverage curve, (1/n) Σ_k risk(k/n), k = 1…n. Lower is better. */
  aurc: number;
  /** AURC of the same errors ranked perfectly (all correct images kept first). */
  optimalAurc: number;
  /** Excess AURC, aurc − optimalAurc (≥ 0; 0 = perfect ranking). */
  eaurc: number;
  /** Error rate over all images (the risk at full coverage). */
  errorRate: number;
  /** The curve at each group of equal uncertainty (coverage ascending, ending at 1), for plots. */
  curve: RiskCoveragePoint[];
}

function checkLength(a: { length: number }, b: { length: number }, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: lengths differ (${a.length} vs ${b.length})`);
}

function checkFinite(x: ArrayLike<number>, what: string): void {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) throw new Error(`${what}[${i}] = ${x[i]} is not a finite number`);
}

/**
 * Area under the risk–coverage curve (Geifman & El-Yaniv 2017; fd-shifts' AURC and E-AURC).
 * Images are kept from the least uncertain up; risk(k) is the error rate among the first k.
 * Images of equal uncertainty are one group: inside a group the errors are spread evenly (the
 * expectation over every order of the tied images), so the value does not depend on input order.
 * The optimal AURC keeps all correct images first (Geifman et al. 2019, "Bias-reduced uncertainty
 * estimation"). NaN for n = 0.
 */
export function aurc(correct: ArrayLike<boolean>, uncertainty: ArrayLike<number>): AurcResult {
  checkLength(correct, uncertainty, 'aurc');
  checkFinite(uncertainty, 'aurc: uncertainty');
  const n = correct.length;
  if (n === 0) return { aurc: NaN, optimalAurc: NaN, eaurc: NaN, errorRate: NaN, curve: [] };
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => uncertainty[a]! - uncertainty[b]!);
  let area = 0, kept = 0, errorsBefore = 0;
  const curve: RiskCoveragePoint[] = [];
  for (let i = 0; i < n;) {
    let j = i, groupErrors = 0;
    while (j < n && uncertainty[order[j]!] === uncertainty[order[i]!]) { if (!correct[order[j]!]) groupErrors++; j++; }
    const size = j - i, perImage = groupErrors / size;
    for (let m = 1; m <= size; m++) area += (errorsBefore + m * perImage) / (kept + m);
    kept += size;
    errorsBefore += groupErrors;
    curve.push({ coverage: kept / n, risk: errorsBefore / kept });
    i = j;
  }
  const errors = errorsBefore, firstWrong = n - errors;
  let optimal = 0;
  for (let k = firstWrong + 1; k <= n; k++) optimal += (k - firstWrong) / k;
  const a = area / n, opt = optimal / n;
  return { aurc: a, optimalAurc: opt, eaurc: a - opt, errorRate: errors / n, curve };
}

/** Excess AURC alone (aurc − optimal AURC). */
export function eaurc(correct: ArrayLike<boolean>, uncertainty: ArrayLike<number>): number {
  return aurc(correct, uncertainty).eaurc;
}

/** One bin of a reliability diagram; confidence and accuracy are NaN when the bin is empty. */
export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean confidence of the images in the bin. */
  confidence: number;
  /** Share of them classified correctly. */
  accuracy: number;
}

export interface CalibrationResult {
  /** ECE = Σ_b (n_b / n) · |accuracy_b − confidence_b|, in [0, 1]. */
  ece: number;
  /** Maximum calibration error over non-empty bins. */
  mce: number;
  bins: ReliabilityBin[];
}

/**
 * Expected calibration error (Naeini et al. 2015; Guo et al. 2017) with `bins` equal-width bins
 * over [0, 1]: bin b holds confidences in [b/B, (b+1)/B), the last bin also 1. The confidence is
 * the probability the model gives its own answer (max softmax, max vote share). NaN for n = 0.
 */
export function expectedCalibrationError(confidence: ArrayLike<number>, correct: ArrayLike<boolean>, bins = 15): CalibrationResult {
  checkLength(confidence, correct, 'expectedCalibrationError');
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`expectedCalibrationError: bins must be a positive integer, got ${bins}`);
  const n = confidence.length;
  const count = new Array<number>(bins).fill(0), confSum = new Array<number>(bins).fill(0), okSum = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    const c = confidence[i]!;
    if (!(c >= 0 && c <= 1)) throw new Error(`expectedCalibrationError: confidence[${i}] = ${c} is not in [0, 1]`);
    const b = Math.min(bins - 1, Math.floor(c * bins));
    count[b]!++; confSum[b]! += c; if (correct[i]) okSum[b]!++;
  }
  let ece = 0, mce = 0;
  const out: ReliabilityBin[] = count.map((k, b) => {
    const conf = k > 0 ? confSum[b]! / k : NaN, acc = k > 0 ? okSum[b]! / k : NaN;
    if (k > 0) { const gap = Math.abs(acc - conf); ece += (k / n) * gap; mce = Math.max(mce, gap); }
    return { lo: b / bins, hi: (b + 1) / bins, count: k, confidence: conf, accuracy: acc };
  });
  return n > 0 ? { ece, mce, bins: out } : { ece: NaN, mce: NaN, bins: out };
}

/** Probabilities below this count as this in NLL, so one zero does not make the mean infinite. */
export const NLL_EPSILON = 1e-15;

function checkProbabilities(p: ArrayLike<ArrayLike<number>>, labels: ArrayLike<number>, what: string): void {
  checkLength(p, labels, what);
  for (let i = 0; i < p.length; i++) {
    const K = p[i]!.length, y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= K) throw new Error(`${what}: labels[${i}] = ${y} is not a class index in [0, ${K})`);
  }
}

/** Mean negative log-likelihood of the true class, −(1/n) Σ log p_i[y_i] (nats). NaN for n = 0. */
export function nll(probabilities: ArrayLike<ArrayLike<number>>, labels: ArrayLike<number>): number {
  checkProbabilities(probabilities, labels, 'nll');
  const n = labels.length;
  let s = 0;
  for (let i = 0; i < n; i++) s -= Math.log(Math.max(NLL_EPSILON, probabilities[i]![labels[i]!]!));
  return n > 0 ? s / n : NaN;
}

/** Multi-class Brier score (Brier 1950): (1/n) Σ_i Σ_c (p_ic − [c = y_i])², in [0, 2]. NaN for n = 0. */
export function brier(probabilities: ArrayLike<ArrayLike<number>>, labels: ArrayLike<number>): number {
  checkProbabilities(probabilities, labels, 'brier');
  const n = labels.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    const p = probabilities[i]!;
    for (let c = 0; c < p.length; c++) s += (p[c]! - (c === labels[i] ? 1 : 0)) ** 2;
  }
  return n > 0 ? s / n : NaN;
}

/** softmax(logits / T), computed stably (max subtracted). */
export function softmax(logits: ArrayLike<number>, temperature = 1): number[] {
  if (!(temperature > 0)) throw new Error(`softmax: temperature must be > 0, got ${temperature}`);
  let max = -Infinity;
  for (let c = 0; c < logits.length; c++) max = Math.max(max, logits[c]!);
  const e = Array.from(logits, (z) => Math.exp((z - max) / temperature));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Mean NLL of softmax(logits / T) without building the probabilities. */
function temperedNll(logits: ArrayLike<ArrayLike<number>>, labels: ArrayLike<number>, T: number): number {
  let s = 0;
  for (let i = 0; i < labels.length; i++) {
    const z = logits[i]!;
    let max = -Infinity;
    for (let c = 0; c < z.length; c++) max = Math.max(max, z[c]!);
    let sum = 0;
    for (let c = 0; c < z.length; c++) sum += Math.exp((z[c]! - max) / T);
    s += Math.log(sum) - (z[labels[i]!]! - max) / T;
  }
  return s / labels.length;
}

export interface TemperatureFit {
  temperature: number;
  /** Mean NLL at T = 1. */
  nllBefore: number;
  /** Mean NLL at the fitted T. */
  nllAfter: number;
}

/** Search range of the temperature (Guo et al. found fitted T between ~1 and ~3 on real networks). */
export const TEMPERATURE_RANGE: readonly [number, number] = [0.05, 20];

/**
 * Temperature scaling (Guo et al. 2017): the T in [0.05, 20] minimising the mean NLL of
 * softmax(logits / T). The NLL is convex in 1/T, hence unimodal in log T, so a golden-section
 * search on log T finds the minimum; 80 steps shrink the bracket below 1e-16 relative. Deterministic.
 */
export function fitTemperature(logits: ArrayLike<ArrayLike<number>>, labels: ArrayLike<number>): TemperatureFit {
  checkProbabilities(logits, labels, 'fitTemperature');
  if (labels.length === 0) throw new Error('fitTemperature: no images');
  for (let i = 0; i < logits.length; i++) checkFinite(logits[i]!, `fitTemperature: logits[${i}]`);
  const f = (u: number) => temperedNll(logits, labels, Math.exp(u));
  const g = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(TEMPERATURE_RANGE[0]), b = Math.log(TEMPERATURE_RANGE[1]);
  let c = b - g * (b - a), d = a + g * (b - a), fc = f(c), fd = f(d);
  for (let it = 0; it < 80; it++) {
    if (fc <= fd) { b = d; d = c; fd = fc; c = b - g * (b - a); fc = f(c); } else { a = c; c = d; fc = fd; d = a + g * (b - a); fd = f(d); }
  }
  const temperature = Math.exp((a + b) / 2);
  return { temperature, nllBefore: temperedNll(logits, labels, 1), nllAfter: temperedNll(logits, labels, temperature) };
}

/** Shannon entropy −Σ p log p in nats (0 log 0 = 0). */
function entropyNats(p: ArrayLike<number>): number {
  let h = 0;
  for (let c = 0; c < p.length; c++) { const v = p[c]!; if (v > 0) h -= v * Math.log(v); }
  return h;
}

/** Predictive entropy normalised by log K: 0 = one class certain, 1 = uniform. */
export function predictiveEntropy(p: ArrayLike<number>): number {
  if (p.length < 2) throw new Error(`predictiveEntropy: need at least 2 class probabilities, got ${p.length}`);
  return entropyNats(p) / Math.log(p.length);
}

function checkMembers(members: ArrayLike<ArrayLike<ArrayLike<number>>>, what: string): { M: number; n: number; K: number } {
  const M = members.length;
  if (M === 0) throw new Error(`${what}: no members`);
  const n = members[0]!.length, K = n > 0 ? members[0]![0]!.length : 0;
  for (let m = 0; m < M; m++) {
    if (members[m]!.length !== n) throw new Error(`${what}: member ${m} has ${members[m]!.length} images, member 0 has ${n}`);
    for (let i = 0; i < n; i++) if (members[m]![i]!.length !== K) throw new Error(`${what}: member ${m}, image ${i} has ${members[m]![i]!.length} classes, expected ${K}`);
  }
  return { M, n, K };
}

/** Mean class probabilities per image over members[m][image][class] (MC-dropout passes or ensemble members). */
export function meanProbabilities(members: ArrayLike<ArrayLike<ArrayLike<number>>>): number[][] {
  const { M, n, K } = checkMembers(members, 'meanProbabilities');
  return Array.from({ length: n }, (_, i) => {
    const out = new Array<number>(K).fill(0);
    for (let m = 0; m < M; m++) for (let c = 0; c < K; c++) out[c]! += members[m]![i]![c]!;
    return out.map((v) => v / M);
  });
}

/**
 * Mutual information between the prediction and the model per image (BALD; Houlsby et al. 2011):
 * H(mean over members) − mean over members of H(member), in nats, ≥ 0. The spread between
 * members (epistemic), as opposed to the entropy of each member (aleatoric).
 */
export function mutualInformation(members: ArrayLike<ArrayLike<ArrayLike<number>>>): number[] {
  const { M } = checkMembers(members, 'mutualInformation');
  return meanProbabilities(members).map((p, i) => {
    let h = 0;
    for (let m = 0; m < M; m++) h += entropyNats(members[m]![i]!);
    // Rounding can leave −1e-17 when all members agree.
    return Math.max(0, entropyNats(p) - h / M);
  });
}
