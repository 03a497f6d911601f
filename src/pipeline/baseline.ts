// A discriminative baseline's folder as one object (the same shape as a diffusion pipeline's):
// config.json (format 'meddiff-baseline': network, preprocessing, classes, training settings),
// model.safetensors (weights + batch-norm statistics), state.json, and an optional temperature
// calibration. classify, evaluate and calibrate dispatch on the folder's format (loadModel).
import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../runtime/index.ts';
import { writeFileAtomic } from '../util/index.ts';
import { createBaseline, validateBaselineConfig, type BaselineConfig, type BaselineNet, type NamedArrays, type SafetensorsDtype } from '../models/index.ts';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { validatePreprocessConfig } from './config.ts';
import { ImageModel, type ImagePreprocess } from './image-model.ts';
import { loadPipeline, resolveModelDir, type DiffusionPipeline, type LoadPipelineOptions } from './pipeline.ts';
import type { Logger, PipelineConfig } from './types.ts';

export const BASELINE_FORMAT = 'meddiff-baseline';
export const BASELINE_VERSION = 1;
export const TEMPERATURE_FILE = 'calibration.json';

export interface BaselinePipelineConfig {
  format: typeof BASELINE_FORMAT;
  version: number;
  model: BaselineConfig;
  preprocess: ImagePreprocess;
  classNames: string[];
  train?: Record<string, unknown>;
  data?: PipelineConfig['data'];
}

/** Temperature scaling (Guo et al. 2017): softmax(logits / T), T fitted on validation by NLL. */
export interface TemperatureCalibration {
  kind: 'temperature';
  temperature: number;
  fittedOn: { split: string; images: number; nllBefore: number; nllAfter: number; eceBefore?: number; eceAfter?: number };
  /** The exact weights it was fitted for; other weights ignore it. */
  weightsSha256?: string;
}

function fail(where: string, field: string, msg: string): never {
  throw new Error(`${where}: '${field}' ${msg}`);
}

/** A baseline config.json object, checked field by field. */
export function readBaselineConfig(raw: Record<string, unknown>, where = 'config.json'): BaselinePipelineConfig {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${where}: not a JSON object`);
  if (raw.format !== BASELINE_FORMAT) fail(where, 'format', `is ${JSON.stringify(raw.format)}, expected '${BASELINE_FORMAT}'`);
  const version = Number(raw.version);
  if (!(version >= 1)) fail(where, 'version', `must be a number ≥ 1, got ${JSON.stringify(raw.version)}`);
  if (version > BASELINE_VERSION) fail(where, 'version', `${version} is newer than this meddiff understands (${BASELINE_VERSION}); upgrade meddiff`);
  let model: BaselineConfig;
  try { model = validateBaselineConfig((raw.model ?? {}) as Partial<BaselineConfig>); } catch (e) { throw new Error(`${where}: ${(e as Error).message}`); }
  const pre = (raw.preprocess ?? {}) as Record<string, unknown>;
  if ('wavelet' in pre) fail(where, 'preprocess.wavelet', 'does not apply to a baseline (it sees pixels)');
  // the pixel rules are the diffusion pipeline's; only the wavelet stage is absent
  const { wavelet: _w, ...preprocess } = validatePreprocessConfig({ ...pre, wavelet: { levels: 1, scale: 'orthonormal' } } as never, where);
  const classNames = raw.classNames;
  if (!Array.isArray(classNames) || !classNames.every((c) => typeof c === 'string')) fail(where, 'classNames', `must be a list of class names, got ${JSON.stringify(classNames)}`);
  if (model.imageSize !== preprocess.imageSize) fail(where, 'model.imageSize', `${model.imageSize} does not match preprocess.imageSize ${preprocess.imageSize}`);
  if (model.inChannels !== preprocess.channels) fail(where, 'model.inChannels', `${model.inChannels} does not match preprocess.channels ${preprocess.channels}`);
  if (model.numClasses !== classNames.length) fail(where, 'classNames', `lists ${classNames.length} classes for a model with numClasses = ${model.numClasses}`);
  return {
    format: BASELINE_FORMAT, version: BASELINE_VERSION, model, preprocess, classNames: [...classNames],
    ...(raw.train !== undefined ? { train: raw.train as Record<string, unknown> } : {}),
    ...(raw.data !== undefined ? { data: raw.data as PipelineConfig['data'] } : {}),
  };
}

/** Whether a model folder (or training run) holds a baseline: its config.json's format. */
export function isBaselineFolder(dir: string): boolean {
  // the folder, its '.old' twin (an interrupted atomic swap), or a training run's best/ and checkpoint/
  for (const d of [dir, `${path.resolve(dir)}.old`, path.join(dir, 'best'), path.join(dir, 'checkpoint')]) {
    const f = path.join(d, 'config.json');
    if (!fs.existsSync(f)) continue;
    try { return (JSON.parse(fs.readFileSync(f, 'utf8')) as { format?: unknown }).format === BASELINE_FORMAT; } catch { return false; }
  }
  return false;
}

export class BaselinePipeline extends ImageModel<BaselinePipelineConfig> {
  readonly net: BaselineNet;
  calibration: TemperatureCalibration | null;
  readonly weightsSha256: string;
  readonly step: number;
  readonly dir: string | null;
  /** Seconds of training recorded in state.json (null when unknown). */
  readonly trainingSeconds: number | null;

  constructor(p: { net: BaselineNet; config: BaselinePipelineConfig; calibration?: TemperatureCalibration | null; weightsSha256?: string; step?: number; dir?: string | null; trainingSeconds?: number | null }) {
    super(p.config);
    this.net = p.net;
    this.calibration = p.calibration ?? null;
    this.weightsSha256 = p.weightsSha256 ?? '';
    this.step = p.step ?? 0;
    this.dir = p.dir ?? null;
    this.trainingSeconds = p.trainingSeconds ?? null;
  }

  get kind(): 'baseline' { return 'baseline'; }
  get arch(): BaselineConfig['kind'] { return this.config.model.kind; }

  /**
   * Logits [count × K] of NHWC pixels in [−1, 1], in batches (eval-mode batch norm, so a result
   * does not depend on its batch). `dropoutSeed` turns dropout on (one MC-dropout pass).
   */
  logits(images: Float32Array, count: number, o: { batchSize?: number; dropoutSeed?: number; signal?: AbortSignal } = {}): Float32Array {
    const s = this.imageSize, c = this.channels, px = this.pixelsPerImage, K = this.classNames.length;
    if (images.length !== count * px) throw new Error(`expected ${count} images of ${s}×${s}×${c} (${count * px} values), got ${images.length}`);
    const out = new Float32Array(count * K), bs = o.batchSize ?? 64;
    for (let i = 0; i < count; i += bs) {
      o.signal?.throwIfAborted();
      const n = Math.min(bs, count - i);
      const y = tf.tidy(() => this.net.apply(tf.tensor4d(images.subarray(i * px, (i + n) * px), [n, s, s, c]), {
        training: false, dropout: o.dropoutSeed !== undefined, seed: o.dropoutSeed === undefined ? 0 : (o.dropoutSeed + i) >>> 0,
      }));
      out.set(y.dataSync() as Float32Array, i * K);
      y.dispose();
    }
    return out;
  }

  /** Weights and batch-norm statistics, by name (the contents of model.safetensors). */
  namedArrays(): NamedArrays {
    const m = this.net.params.toNamedArrays();
    for (const [k, v] of this.net.buffers.toNamedArrays()) m.set(k, v);
    return m;
  }

  /** Write the folder atomically; the calibration is kept only if the weights are unchanged. */
  save(dir: string, o: { info?: Record<string, unknown>; dataFingerprint?: string; dtype?: SafetensorsDtype; /** the same weights re-encoded (export): keep the temperature */ keepCalibration?: boolean } = {}): void {
    saveCheckpoint(dir, {
      config: this.config as unknown as Record<string, unknown>, model: this.namedArrays(),
      state: { step: this.step, classNames: this.classNames, dataFingerprint: o.dataFingerprint ?? '', resume: {}, info: { ...(o.info ?? {}), ...(this.trainingSeconds !== null ? { trainingSeconds: this.trainingSeconds } : {}), fp16: o.dtype === 'F16' } },
    }, { dtype: o.dtype });
    // the temperature was fitted for the loaded weights: it travels only with those exact weights
    const written = loadCheckpoint(dir, { optimizer: false }).state.files['model.safetensors']?.sha256;
    if (this.calibration && this.weightsSha256 && (written === this.weightsSha256 || o.keepCalibration)) saveTemperature(dir, { ...this.calibration, weightsSha256: written! });
    else fs.rmSync(path.join(dir, TEMPERATURE_FILE), { force: true });
  }

  dispose(): void { this.net.dispose(); }
}

/** Split a loaded model.safetensors into the network's parameters and buffers (every name must be one of them). */
export function loadBaselineWeights(net: BaselineNet, arrays: NamedArrays, source: string): void {
  const params: NamedArrays = new Map(), buffers: NamedArrays = new Map();
  for (const [k, v] of arrays) (net.buffers.vars.has(k) ? buffers : params).set(k, v);
  net.params.loadNamedArrays(params, source);
  net.buffers.loadNamedArrays(buffers, source);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function saveTemperature(dir: string, c: TemperatureCalibration): string {
  const f = path.join(dir, TEMPERATURE_FILE);
  writeFileAtomic(f, JSON.stringify(c, null, 2) + '\n');
  return f;
}

/** The temperature calibration beside the weights (null: none, or fitted for other weights — then a warning). */
export function loadTemperature(dir: string, weightsSha256: string, warn?: (m: string) => void): TemperatureCalibration | null {
  const f = path.join(dir, TEMPERATURE_FILE);
  if (!fs.existsSync(f)) return null;
  let c: Record<string, unknown>;
  try { c = JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>; } catch (e) { throw new Error(`${f}: not valid JSON (${(e as Error).message}); delete it or run meddiff calibrate again`); }
  if (typeof c !== 'object' || c === null || c.kind !== 'temperature') throw new Error(`${f}: not a baseline calibration (kind ${JSON.stringify((c as { kind?: unknown } | null)?.kind)}, expected 'temperature'); run meddiff calibrate again`);
  if (!(isNum(c.temperature) && c.temperature > 0)) throw new Error(`${f}: 'temperature' must be a positive number, got ${JSON.stringify(c.temperature)}; run meddiff calibrate again`);
  const fo = c.fittedOn as Record<string, unknown> | undefined;
  if (!fo || typeof fo !== 'object' || typeof fo.split !== 'string' || !Number.isSafeInteger(fo.images) || !isNum(fo.nllBefore) || !isNum(fo.nllAfter)) {
    throw new Error(`${f}: 'fittedOn' must be {split, images, nllBefore, nllAfter}; run meddiff calibrate again`);
  }
  if (c.weightsSha256 !== weightsSha256) {
    warn?.(`${f} was fitted for other weights; ignoring it (run meddiff calibrate again)`);
    return null;
  }
  return c as unknown as TemperatureCalibration;
}

/** Seconds the whole training run took, when `dir` is a run's best/ beside its checkpoint/ (else null). */
function runSeconds(dir: string): number | null {
  if (path.basename(path.resolve(dir)) !== 'best') return null;
  const f = path.join(path.dirname(path.resolve(dir)), 'checkpoint', 'state.json');
  try {
    const e = (JSON.parse(fs.readFileSync(f, 'utf8')) as { resume?: { elapsedSec?: unknown } }).resume?.elapsedSec;
    return isNum(e) ? e : null;
  } catch { return null; }
}

/** Load a baseline folder (a shipped model, a checkpoint, or a training run: its best/ or checkpoint/). */
export function loadBaselinePipeline(dir: string, o: { calibration?: boolean; logger?: Logger } = {}): BaselinePipeline {
  const ck = loadCheckpoint(resolveModelDir(dir), { optimizer: false });
  const config = readBaselineConfig(ck.config, path.join(ck.dir, 'config.json'));
  const sha = ck.state.files['model.safetensors']?.sha256 ?? '';
  const calibration = o.calibration === false ? null : loadTemperature(ck.dir, sha, (m) => o.logger?.warn?.(m));
  if (JSON.stringify(ck.state.classNames ?? config.classNames) !== JSON.stringify(config.classNames)) {
    throw new Error(`${ck.dir}: state.json names classes ${ck.state.classNames.join(', ')} but config.json ${config.classNames.join(', ')}`);
  }
  const net = createBaseline(config.model);
  try { loadBaselineWeights(net, ck.model, path.join(ck.dir, 'model.safetensors')); } catch (e) { net.dispose(); throw e; }
  // the cost of training is the whole run's time: a run's best/ records only the time to its best epoch
  let secs = runSeconds(ck.dir);
  if (secs === null) {
    const info = (ck.state.info ?? {}) as { trainingSeconds?: unknown };
    const resume = (ck.state.resume ?? {}) as { elapsedSec?: unknown };
    secs = isNum(resume.elapsedSec) ? resume.elapsedSec : isNum(info.trainingSeconds) ? info.trainingSeconds : null;
  }
  return new BaselinePipeline({ net, config, calibration, weightsSha256: sha, step: ck.state.step, dir: ck.dir, trainingSeconds: secs });
}

/** Any model folder: a baseline when its config.json says so, else a diffusion pipeline. */
export function loadModel(dir: string, o: LoadPipelineOptions = {}): DiffusionPipeline | BaselinePipeline {
  return isBaselineFolder(dir) ? loadBaselinePipeline(dir, o) : loadPipeline(dir, o);
}
