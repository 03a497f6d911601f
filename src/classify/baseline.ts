// Classification by a discriminative baseline, with the uncertainty a reviewer would compare the
// diffusion classifier's vote entropy against: softmax, temperature scaling (fitted on validation),
// MC dropout (T passes with dropout on; Gal & Ghahramani 2016) and a deep ensemble (Lakshminarayanan et al. 2017).
import { saveTemperature, type BaselinePipeline, type ImageInput, type TemperatureCalibration } from '../pipeline/index.ts';
import { parseSplitName } from '../data/index.ts';
import { expectedCalibrationError, fitTemperature, meanProbabilities, mutualInformation, predictiveEntropy, softmax } from '../stats/index.ts';

export type BaselineMethodName = 'softmax' | 'temperature' | 'mc-dropout' | 'ensemble';

export interface BaselineClassifyOptions {
  /** MC dropout: this many passes with dropout on (the model needs dropout > 0). */
  mcDropout?: number;
  /** A deep ensemble: these models with the pipeline itself (same classes and preprocessing). */
  ensemble?: readonly BaselinePipeline[];
  /** false: ignore a stored temperature calibration. */
  calibration?: boolean;
  /** Seed of the MC-dropout masks. */
  seed?: number;
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number }) => void;
}

export interface BaselineResult {
  prediction: number;
  probabilities: number[];
  /** Predictive entropy ÷ log K, in [0, 1]. */
  entropy: number;
  maxProbability: number;
  /** MC dropout / ensemble: mutual information between prediction and model (nats). */
  mutualInformation?: number;
}

export interface BaselineClassification {
  /** What the model answers: ensemble > mc-dropout > temperature > softmax, by what was asked for. */
  primary: BaselineMethodName;
  methods: Partial<Record<BaselineMethodName, BaselineResult[]>>;
  forwardPassesPerImage: number;
  temperature: number | null;
}

const argmax = (p: readonly number[]) => p.reduce((b, v, i) => (v > p[b]! ? i : b), 0);

function result(p: number[], mi?: number): BaselineResult {
  return { prediction: argmax(p), probabilities: p, entropy: predictiveEntropy(p), maxProbability: Math.max(...p), ...(mi !== undefined ? { mutualInformation: mi } : {}) };
}

function rows(logits: Float32Array, count: number, K: number, temperature = 1): number[][] {
  return Array.from({ length: count }, (_, i) => softmax(logits.subarray(i * K, (i + 1) * K), temperature));
}

/** Refuses an ensemble whose members would not see the same images the same way, naming the odd one. */
export function checkEnsemble(members: readonly BaselinePipeline[]): void {
  const [a, ...rest] = members;
  if (!a) throw new Error('--ensemble: no models given');
  const seen = new Map<string, string>(), objects = new Set<BaselinePipeline>();
  for (const m of members) {
    const where = m.dir ?? 'a member';
    if (objects.has(m)) throw new Error(`--ensemble: ${where} is given twice; give each member once`);
    objects.add(m);
    // the same weights twice would count one network as two and shrink the mutual information
    if (m.weightsSha256 && seen.has(m.weightsSha256)) throw new Error(`--ensemble: ${where} holds the same weights as ${seen.get(m.weightsSha256)}; give each member once`);
    if (m.weightsSha256) seen.set(m.weightsSha256, where);
  }
  for (const m of rest) {
    const where = m.dir ?? 'a member';
    const da = a.config.data, dm = m.config.data;
    if ((da?.splitSeed ?? 0) !== (dm?.splitSeed ?? 0) && da?.kind !== 'npz') {
      throw new Error(`--ensemble: ${where} was trained on the split drawn with seed ${dm?.splitSeed ?? 0}, ${a.dir ?? 'the first'} with ${da?.splitSeed ?? 0}; members must share a split, or one member's test images were another's training images`);
    }
    if (m.preprocessing.dicomWindow !== a.preprocessing.dicomWindow) throw new Error(`--ensemble: ${where} windows DICOM by '${m.preprocessing.dicomWindow}', ${a.dir ?? 'the first'} by '${a.preprocessing.dicomWindow}'`);
    if (m.classNames.join('\n') !== a.classNames.join('\n')) throw new Error(`--ensemble: ${where} has classes ${m.classNames.join(', ')}, ${a.dir ?? 'the first'} has ${a.classNames.join(', ')}; an ensemble needs the same classes`);
    const pa = a.preprocessing, pm = m.preprocessing;
    if (pm.imageSize !== pa.imageSize || pm.channels !== pa.channels || pm.contentSize !== pa.contentSize || pm.fit !== pa.fit) {
      throw new Error(`--ensemble: ${where} sees ${pm.imageSize}² × ${pm.channels} (${pm.fit}), ${a.dir ?? 'the first'} ${pa.imageSize}² × ${pa.channels} (${pa.fit}); an ensemble needs the same input size and preprocessing`);
    }
  }
}

/** Classify preprocessed NHWC pixels; every method asked for is computed over the same images. */
export function classifyBaselinePixels(bp: BaselinePipeline, images: Float32Array, count: number, o: BaselineClassifyOptions = {}): BaselineClassification {
  const K = bp.classNames.length;
  const T = o.mcDropout ?? 0;
  if (T !== 0 && !(Number.isInteger(T) && T >= 2)) throw new Error(`--mc-dropout must be a whole number of passes ≥ 2, got ${T}`);
  if (T && !(bp.net.config.dropout > 0)) throw new Error(`--mc-dropout: ${bp.dir ?? 'the model'} (${bp.arch}) was trained without dropout, so its passes would all be equal; train with --dropout 0.2 (or another rate) first`);
  const members = o.ensemble?.length ? [bp, ...o.ensemble] : [];
  if (members.length) checkEnsemble(members);
  const total = 1 + T + Math.max(0, members.length - 1);
  let done = 0;
  const tick = () => o.onProgress?.({ done: ++done, total });
  const logits = bp.logits(images, count, { batchSize: o.batchSize, signal: o.signal });
  tick();
  const plain = rows(logits, count, K).map((p) => result(p));
  const methods: BaselineClassification['methods'] = { softmax: plain };
  let primary: BaselineMethodName = 'softmax';
  const temperature = o.calibration === false ? null : bp.calibration?.temperature ?? null;
  if (temperature !== null) {
    methods.temperature = rows(logits, count, K, temperature).map((p) => result(p));
    primary = 'temperature';
  }
  if (T) {
    const passes: number[][][] = [];
    for (let t = 0; t < T; t++) {
      // masks differ per pass and per batch, and are the same for the same seed
      passes.push(rows(bp.logits(images, count, { batchSize: o.batchSize, signal: o.signal, dropoutSeed: ((o.seed ?? 0) * 1_000_003 + t * 7919 + 1) >>> 0 }), count, K));
      tick();
    }
    const mean = meanProbabilities(passes), mi = mutualInformation(passes);
    methods['mc-dropout'] = mean.map((p, i) => result(p, mi[i]));
    primary = 'mc-dropout';
  }
  if (members.length) {
    const outs: number[][][] = [plain.map((r) => r.probabilities)];
    for (const m of members.slice(1)) {
      outs.push(rows(m.logits(images, count, { batchSize: o.batchSize, signal: o.signal }), count, K));
      tick();
    }
    const mean = meanProbabilities(outs), mi = mutualInformation(outs);
    methods.ensemble = mean.map((p, i) => result(p, mi[i]));
    primary = 'ensemble';
  }
  return { primary, methods, forwardPassesPerImage: total, temperature };
}

export interface CalibrateBaselineOptions {
  data: string;
  /** Split to fit on (default val; never the test split). */
  split?: string;
  limit?: number;
  csv?: import('../data/index.ts').CsvColumns;
  logger?: import('../pipeline/index.ts').Logger;
}

/**
 * Temperature scaling fitted on validation (Guo et al. 2017): one T for softmax(logits / T) by NLL.
 * The argmax never changes; the confidence does. Stored as calibration.json beside the weights.
 */
export async function calibrateBaseline(bp: BaselinePipeline, o: CalibrateBaselineOptions): Promise<{ calibration: TemperatureCalibration; file: string | null }> {
  const split = o.split ?? 'val';
  if (parseSplitName(split) === 'test') throw new Error('calibrate fits on validation data; fitting on the test split would bias every figure reported on it (use --split val)');
  const s = await bp.loadSplit(o.data, split, { limit: o.limit, logger: o.logger, sameClasses: true, csv: o.csv });
  const K = bp.classNames.length;
  const logits = bp.logits(s.images, s.count);
  const rowsOf = (i: number) => Array.from(logits.subarray(i * K, (i + 1) * K));
  const L = Array.from({ length: s.count }, (_, i) => rowsOf(i));
  const labels = Array.from(s.labels);
  const fit = fitTemperature(L, labels);
  const ece = (T: number) => {
    const p = L.map((z) => softmax(z, T));
    return expectedCalibrationError(p.map((q) => Math.max(...q)), p.map((q, i) => argmax(q) === labels[i])).ece;
  };
  const calibration: TemperatureCalibration = {
    kind: 'temperature', temperature: fit.temperature,
    fittedOn: { split: s.split, images: s.count, nllBefore: fit.nllBefore, nllAfter: fit.nllAfter, eceBefore: ece(1), eceAfter: ece(fit.temperature) },
    weightsSha256: bp.weightsSha256 || undefined,
  };
  bp.calibration = calibration;
  return { calibration, file: bp.dir ? saveTemperature(bp.dir, calibration) : null };
}

/** One input's outcome when classifying files with a baseline: its result, or its error. */
export interface BaselineFileOutcome { name: string; result: BaselineResult | null; error: string | null }

/** Classify files/bytes/images; unreadable ones carry their error, the others are classified together. */
export async function classifyBaselineFiles(bp: BaselinePipeline, inputs: readonly ImageInput[], o: BaselineClassifyOptions & { names?: readonly string[] } = {}) {
  const t0 = performance.now();
  const { batch, good, errors, names } = await bp.preprocessMany(inputs, o.names, o.signal);
  const r = good.length ? classifyBaselinePixels(bp, batch, good.length, o) : null;
  const outcomes: BaselineFileOutcome[] = names.map((name, i) => ({ name, result: null, error: errors[i]! }));
  if (r) good.forEach((i, k) => { outcomes[i]!.result = r.methods[r.primary]![k]!; });
  return { outcomes, primary: r?.primary ?? null, temperature: r?.temperature ?? null, seconds: (performance.now() - t0) / 1000, failed: outcomes.filter((x) => x.error !== null).length };
}

/** One baseline result as `meddiff classify --json` prints it: class names as keys. */
export function baselineResultJson(r: BaselineResult, classNames: readonly string[], method: string, id?: string) {
  return {
    ...(id !== undefined ? { file: id } : {}),
    prediction: classNames[r.prediction]!, probability: r.maxProbability, uncertainty: r.entropy, method,
    probabilities: Object.fromEntries(classNames.map((c, k) => [c, r.probabilities[k]!])),
    ...(r.mutualInformation !== undefined ? { mutualInformation: r.mutualInformation } : {}),
  };
}
