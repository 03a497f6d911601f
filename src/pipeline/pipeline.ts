// The saved model folder as one object (diffusers-style): the denoiser, the preprocessing from
// pixels to the array it sees, the noise schedule, the class names, the calibration and which
// weights are used. Everything that touches a model — training, classify, explain, sample,
// evaluate, calibrate — goes through it, so there is one way for an image to reach the model.
import fs from 'node:fs';
import path from 'node:path';
import { tf } from '../runtime/index.ts';
import { portablePath, writeFileAtomic } from '../util/index.ts';
import { haarForward, haarInverse, type ScheduleConfig } from '../diffusion/index.ts';
import { createDenoiser, denoiserKindOfWeights, type Denoiser, type DenoiserConfig, type SafetensorsDtype } from '../models/index.ts';
import { ImageModel } from './image-model.ts';
import { fileRecord, loadCheckpoint, saveCheckpoint } from './checkpoint.ts';
import { CALIBRATION_FILE, loadCalibration, saveCalibration } from './calibration.ts';
import { checkModelFits, defaultSchedule, pipelineConfigJson, readPipelineConfig, validatePreprocessConfig } from './config.ts';
import { PIPELINE_FORMAT, PIPELINE_VERSION, type Calibration, type Logger, type PipelineConfig, type PreprocessConfig } from './types.ts';

export interface PipelineParts {
  denoiser: Denoiser;
  config: PipelineConfig;
  calibration?: Calibration | null;
  weights?: 'ema' | 'raw';
  weightsSha256?: string;
  step?: number;
  /** The folder it was loaded from (null for one built in memory). */
  dir?: string | null;
  /** Storage dtype of the loaded weights; save() keeps it unless told otherwise. */
  dtype?: SafetensorsDtype;
}

export class DiffusionPipeline extends ImageModel<PipelineConfig> {
  readonly denoiser: Denoiser;
  /** The calibration for these exact weights (null: none, or ignored). */
  calibration: Calibration | null;
  readonly weights: 'ema' | 'raw';
  readonly weightsSha256: string;
  readonly step: number;
  readonly dir: string | null;
  readonly dtype: SafetensorsDtype | undefined;

  constructor(p: PipelineParts) {
    checkModelFits(p.denoiser.config, p.config.preprocess, p.config.classNames, 'pipeline');
    super(p.config);
    this.denoiser = p.denoiser;
    this.calibration = p.calibration ?? null;
    this.weights = p.weights ?? 'ema';
    this.weightsSha256 = p.weightsSha256 ?? '';
    this.step = p.step ?? 0;
    this.dir = p.dir ?? null;
    this.dtype = p.dtype;
  }

  get schedule(): ScheduleConfig { return this.config.schedule; }

  /** Pixels [B, S, S, C] → the array the denoiser sees, [B, S/2, S/2, 4C] (inside tf.tidy). */
  toModelSpace(pixels: tf.Tensor4D): tf.Tensor4D {
    return haarForward(pixels, { scale: this.preprocessing.wavelet.scale });
  }

  /** The denoiser's array → pixels (the inverse Haar stage). */
  fromModelSpace(z: tf.Tensor4D): tf.Tensor4D {
    return haarInverse(z, { scale: this.preprocessing.wavelet.scale });
  }

  /** NHWC pixel floats → model-space floats, for callers that work on arrays. */
  toModelSpaceArray(images: Float32Array, count: number): Float32Array {
    const s = this.imageSize, c = this.channels;
    if (images.length !== count * s * s * c) throw new Error(`expected ${count} images of ${s}×${s}×${c} (${count * s * s * c} values), got ${images.length} values`);
    return tf.tidy(() => this.toModelSpace(tf.tensor4d(images, [count, s, s, c])).dataSync() as Float32Array);
  }

  /**
   * Write the folder: config.json (with preprocessing and schedule), one set of weights, state.json
   * and, when there is one, the calibration re-tied to the written weights. Atomic: a crash leaves
   * the previous folder as it was.
   */
  save(dir: string, o: { dtype?: SafetensorsDtype; info?: Record<string, unknown>; dataFingerprint?: string } = {}): void {
    const dtype = o.dtype ?? this.dtype;
    saveCheckpoint(dir, {
      config: pipelineConfigJson(this.config), model: this.denoiser.params.toNamedArrays(),
      state: {
        step: this.step, classNames: this.classNames, dataFingerprint: o.dataFingerprint ?? '', resume: {},
        info: { ...(o.info ?? {}), selectedWeights: this.weights, fp16: dtype === 'F16' },
      },
    }, { dtype });
    if (this.calibration) {
      const written = loadCheckpoint(dir, { optimizer: false });
      saveCalibration(dir, { ...this.calibration, weightsSha256: written.state.files['model.safetensors']?.sha256 });
    } else fs.rmSync(path.join(dir, CALIBRATION_FILE), { force: true });
  }

  dispose(): void { this.denoiser.dispose(); }
}

/** A pipeline around a denoiser in memory (training, tests): the config follows the denoiser's. */
export function createPipeline(o: {
  denoiser: Denoiser; classNames: string[]; preprocess?: Partial<PreprocessConfig>; schedule?: ScheduleConfig;
  train?: Record<string, unknown>; data?: PipelineConfig['data']; calibration?: Calibration | null; weights?: 'ema' | 'raw'; step?: number;
}): DiffusionPipeline {
  const m: DenoiserConfig = o.denoiser.config;
  const size = o.preprocess?.imageSize ?? m.imageSize * 2;
  const preprocess = validatePreprocessConfig({ channels: (m.inChannels / 4) as 1 | 3, imageSize: size, contentSize: size, fit: 'pad', wavelet: { levels: 1, scale: 'orthonormal' }, ...o.preprocess });
  const config: PipelineConfig = {
    format: PIPELINE_FORMAT, version: PIPELINE_VERSION, model: m, preprocess, schedule: o.schedule ?? defaultSchedule(m), classNames: o.classNames,
    ...(o.train ? { train: o.train } : {}), ...(o.data ? { data: o.data } : {}),
  };
  return new DiffusionPipeline({ denoiser: o.denoiser, config, calibration: o.calibration, weights: o.weights, step: o.step });
}

/**
 * The checkpoint a path means: the folder itself if it is one; for a training run, best/ (the
 * weights validation chose) when it exists, else checkpoint/ (the last step).
 */
export function resolveModelDir(dir: string): string {
  if (fs.existsSync(path.join(dir, 'state.json')) || fs.existsSync(path.join(`${path.resolve(dir)}.old`, 'state.json'))) return dir;
  for (const sub of ['best', 'checkpoint']) if (fs.existsSync(path.join(dir, sub, 'state.json'))) return path.join(dir, sub);
  if (!fs.existsSync(dir)) throw new Error(`model ${dir} does not exist`);
  throw new Error(`${dir} is not a meddiff model: expected state.json (a checkpoint) or best/ or checkpoint/ (a training run)`);
}

export interface LoadPipelineOptions {
  /** 'ema' (default when the folder has EMA weights) or 'raw'. */
  weights?: 'ema' | 'raw';
  /** false: do not read calibration.json. */
  calibration?: boolean;
  logger?: Logger;
}

/** Load a model folder (a shipped model, a checkpoint, or a training run: its best/ or checkpoint/). */
export function loadPipeline(dir: string, o: LoadPipelineOptions = {}): DiffusionPipeline {
  const ck = loadCheckpoint(resolveModelDir(dir), { optimizer: false });
  const config = readPipelineConfig(ck.config, path.join(ck.dir, 'config.json'));
  // A best/ or shipped folder holds one set of weights, chosen by validation (state.info.selectedWeights).
  const info = (ck.state.info ?? {}) as { selectedWeights?: 'ema' | 'raw'; fp16?: boolean };
  const selected = info.selectedWeights;
  let weights = o.weights ?? (ck.ema ? 'ema' : selected ?? 'raw');
  let arrays = weights === 'ema' ? ck.ema : ck.model;
  if (!arrays && selected) { weights = selected; arrays = ck.model; }
  if (!arrays) throw new Error(`${ck.dir} has no EMA weights; use --weights raw`);
  const file = arrays === ck.ema ? 'ema.safetensors' : 'model.safetensors';
  const weightsSha256 = ck.state.files[file]?.sha256 ?? '';
  // the calibration is read (and checked) before any tensor exists, so a broken one leaks nothing
  const calibration = o.calibration === false ? null : loadCalibration(ck.dir, weightsSha256, (m) => o.logger?.warn?.(m));
  if (calibration?.kind === 'vote-share-offsets' && calibration.offsets.length !== config.classNames.length) {
    throw new Error(`${path.join(ck.dir, 'calibration.json')}: 'offsets' has ${calibration.offsets.length} values, but the model has ${config.classNames.length} classes (${config.classNames.join(', ')}); run meddiff calibrate again`);
  }
  if (calibration?.kind === 'vote-share-threshold' && calibration.positive >= config.classNames.length) {
    throw new Error(`${path.join(ck.dir, 'calibration.json')}: 'positive' is class ${calibration.positive}, but the model has ${config.classNames.length} classes (${config.classNames.join(', ')}); run meddiff calibrate again`);
  }
  const weightsKind = denoiserKindOfWeights(arrays.keys());
  if (weightsKind && weightsKind !== config.model.kind) {
    const name = (k: string) => (k === 'dit' ? 'a DiT' : 'a UNet');
    throw new Error(`${path.join(ck.dir, file)}: the weights are ${name(weightsKind)}'s but config.json's 'model.kind' is '${config.model.kind}' (${name(config.model.kind)}); config.json and the weights belong to different models`);
  }
  const denoiser = createDenoiser(config.model);
  try {
    denoiser.params.loadNamedArrays(arrays, path.join(ck.dir, file));
  } catch (e) {
    denoiser.dispose();
    throw e;
  }
  const classNames = ck.state.classNames ?? config.classNames;
  if (JSON.stringify(classNames) !== JSON.stringify(config.classNames)) {
    denoiser.dispose();
    throw new Error(`${ck.dir}: state.json names classes ${classNames.join(', ')} but config.json ${config.classNames.join(', ')}`);
  }

  return new DiffusionPipeline({ denoiser, config, calibration, weights, weightsSha256, step: ck.state.step, dir: ck.dir, dtype: info.fp16 ? 'F16' : undefined });
}

/**
 * Rewrite a model folder's config.json in the current format (preprocessing and schedule spelled
 * out, the data path made portable) without touching its weights, so a calibration fitted for
 * them stays valid. state.json's record of config.json is updated; both writes are atomic.
 */
export function upgradeModelFolder(dir: string): { changed: boolean; file: string } {
  const ck = loadCheckpoint(resolveModelDir(dir), { optimizer: false });
  const config = readPipelineConfig(ck.config, path.join(ck.dir, 'config.json'));
  const data = config.data?.path ? { ...config.data, path: portablePath(config.data.path) } : config.data;
  const text = JSON.stringify(pipelineConfigJson({ ...config, ...(data ? { data } : {}) }), null, 2) + '\n';
  const file = path.join(ck.dir, 'config.json');
  if (fs.readFileSync(file, 'utf8') === text) return { changed: false, file };
  const bytes = Buffer.from(text);
  writeFileAtomic(file, bytes);
  const statePath = path.join(ck.dir, 'state.json');
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8')) as { files: Record<string, { bytes: number; sha256: string }> };
  state.files['config.json'] = fileRecord(bytes);
  writeFileAtomic(statePath, JSON.stringify(state, null, 2) + '\n');
  return { changed: true, file };
}
