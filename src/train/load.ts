// Load a trained model for inference (classify, explain, sample) from a run folder, its
// checkpoint folder, or a shipped model folder.
import fs from 'node:fs';
import path from 'node:path';
import { createDenoiser, type Denoiser, type UNetConfig } from '../models/index.ts';
import { validateScheduleConfig, type ScheduleConfig } from '../diffusion/index.ts';
import { loadCheckpoint } from './checkpoint.ts';

export interface TrainedModel {
  model: Denoiser;
  classNames: string[];
  /** Pixel size and channels of the images the model was trained on. */
  imageSize: number;
  /** Side of the content inside the square (the rest is black padding), e.g. 28 in 32. */
  contentSize: number;
  channels: number;
  haarScale: 'orthonormal' | 'half';
  schedule: ScheduleConfig;
  /** Seed of the data split used in training (evaluate the same split). */
  splitSeed: number;
  /** How other images are fitted to the square (as the training data was). */
  fit: 'pad' | 'crop';
  /** SHA-256 of the weight file used (ties a calibration to these exact weights). */
  weightsSha256: string;
  weights: 'ema' | 'raw';
  step: number;
  dir: string;
  config: Record<string, unknown>;
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

/**
 * openDataset options that reproduce the model's training view of a data set (size, channels,
 * split seed). Class names are not forced: callers compare them, so other data is refused.
 */
export function datasetOptionsFor(tm: TrainedModel) {
  return { imageSize: tm.imageSize, channels: tm.channels as 1 | 3, seed: tm.splitSeed };
}

export function loadTrainedModel(dir: string, opts: { weights?: 'ema' | 'raw' } = {}): TrainedModel {
  const ck = loadCheckpoint(resolveModelDir(dir), { optimizer: false });
  const cfg = ck.config as { model: UNetConfig; data: { imageSize: number; contentSize?: number; channels: number; splitSeed?: number; fit?: 'pad' | 'crop' }; train?: { haarScale?: 'orthonormal' | 'half'; seed?: number }; classNames: string[] };
  if (!cfg.model || !cfg.data) throw new Error(`${ck.dir}/config.json lacks 'model' or 'data'`);
  if (!(cfg.model.numClasses >= 1)) throw new Error(`${ck.dir}: model has no classes`);
  // A best/ or shipped folder holds one set of weights, chosen by validation (state.info.selectedWeights).
  const selected = (ck.state.info as { selectedWeights?: 'ema' | 'raw' } | undefined)?.selectedWeights;
  let weights = opts.weights ?? (ck.ema ? 'ema' : selected ?? 'raw');
  let arrays = weights === 'ema' ? ck.ema : ck.model;
  if (!arrays && selected) { weights = selected; arrays = ck.model; }
  if (!arrays) throw new Error(`${ck.dir} has no EMA weights; use --weights raw`);
  const model = createDenoiser(cfg.model);
  try {
    model.params.loadNamedArrays(arrays, path.join(ck.dir, arrays === ck.ema ? 'ema.safetensors' : 'model.safetensors'));
  } catch (e) {
    model.dispose();
    throw e;
  }
  const classNames = ck.state.classNames ?? cfg.classNames;
  if (classNames.length !== cfg.model.numClasses) throw new Error(`${ck.dir}: ${classNames.length} class names for ${cfg.model.numClasses} classes`);
  return {
    model, classNames, imageSize: cfg.data.imageSize, contentSize: cfg.data.contentSize ?? cfg.data.imageSize, channels: cfg.data.channels,
    haarScale: cfg.train?.haarScale ?? 'orthonormal',
    schedule: validateScheduleConfig({ kind: 'shifted-cosine', imageSize: cfg.model.imageSize }),
    weightsSha256: ck.state.files[arrays === ck.ema ? 'ema.safetensors' : 'model.safetensors']?.sha256 ?? '',
    splitSeed: cfg.data.splitSeed ?? cfg.train?.seed ?? 0,
    fit: cfg.data.fit ?? (String((cfg.data as { path?: string }).path ?? '').endsWith('.npz') ? 'crop' : 'pad'),
    weights, step: ck.state.step, dir: ck.dir, config: ck.config,
  };
}
