// From a data set on disk to a trained checkpoint: the library form of `meddiff train`.
import fs from 'node:fs';
import path from 'node:path';
import {
  createDenoiser, presetConfig, validateDenoiserConfig, validateUNetConfig, UNET_PRESETS, MODEL_PRESET_NAMES,
  type Denoiser, type DenoiserConfig, type UNetConfig,
} from '../models/index.ts';
import { portablePath } from '../util/index.ts';
import { createPipeline, defaultSchedule, type DiffusionPipeline, type Logger } from '../pipeline/index.ts';
import { openDataset, BatchStream, type CsvColumns, medmnistStem, stackSplit, type Dataset, type BatchPosition, type Batch } from '../data/index.ts';
import { validateTrainConfig, type TrainConfig } from './config.ts';
import { chooseMicroBatch, measureStepMemory, type MicroBatchChoice } from './memory.ts';
import { Trainer, type StepMetrics, type TrainBatches, type ValidationMetrics, type ValidationRecord } from './trainer.ts';
import { DiffusionClassifier } from '../classify/index.ts';
import { balancedAccuracy, accuracy, auroc, macroF1 } from '../eval/index.ts';

export interface TrainRunOptions {
  data: string;
  out: string;
  /** Preset name (UNet: tiny, small, base, unet-64, unet-128; DiT: dit-tiny, dit-s, dit-b4) or a path to a JSON model config. */
  config?: string;
  /** Overrides of the model config (e.g. from a JSON file), fields of the preset's kind. */
  model?: Partial<DenoiserConfig>;
  train?: Parameters<typeof validateTrainConfig>[0];
  /** Pixel side the images are brought to (default: twice the model's array side). */
  imageSize?: number;
  /**
   * Memory a training step may use, in MB, when the micro-batch is automatic (train.microBatch
   * unset or 'auto'); default: half of os.totalmem().
   */
  memoryBudgetMB?: number;
  /** Files smaller than imageSize: 'warn' (default, scaled up) or 'error' (bad inputs, skipped with skipBad). */
  upscale?: 'warn' | 'error';
  resume?: boolean;
  skipBad?: boolean;
  /** Limit the training split to its first n examples (for smoke tests). */
  limit?: number;
  /** CSV manifests: named columns, row filters, a group column for the split (recorded in config.json for evaluation). */
  csv?: CsvColumns;
  onLog?: (m: StepMetrics) => void;
  /** Validate every k steps (0 = never; default 500) on the first valImages of the val split with valPairs pairs. */
  valEvery?: number;
  valImages?: number;
  valPairs?: number;
  onValidation?: (v: ValidationRecord) => void;
  /** Wall-clock training budget in seconds: stop (validated and checkpointed) at the first step past it. */
  timeLimitSec?: number;
  onWarning?: (msg: string) => void;
  /** Where warnings go when onWarning is not given. */
  logger?: Logger;
  /** Stops training at the next step, after checkpointing it (resume with resume: true). */
  signal?: AbortSignal;
  /** trainSize: distinct training images; sampledSize: what an epoch draws (more when over-sampled for balance). */
  onReady?: (info: { dataset: Dataset; model: Denoiser; train: TrainConfig; startStep: number; trainSize: number; sampledSize: number; microBatch?: MicroBatchChoice }) => void;
}

type ModelSpec = Partial<DenoiserConfig> & { preset?: string };

function modelConfigFrom(spec: string | undefined): ModelSpec {
  if (!spec) return { preset: 'small' };
  if (MODEL_PRESET_NAMES.includes(spec)) return { preset: spec };
  if (!spec.endsWith('.json')) throw new Error(`--config '${spec}': expected a preset (${MODEL_PRESET_NAMES.join(', ')}) or a .json file`);
  let text: string;
  try { text = fs.readFileSync(spec, 'utf8'); } catch (e) { throw new Error(`--config ${spec}: ${(e as Error).message}`); }
  try { return JSON.parse(text) as ModelSpec; } catch (e) { throw new Error(`--config ${spec}: not valid JSON (${(e as Error).message})`); }
}

/** Adapts the data module's seeded BatchStream to the trainer's resumable source. */
export function batchesFor(ds: Dataset, batchSize: number, seed: number, limit: number | undefined, position?: unknown): TrainBatches {
  const split = ds.split('train');
  const size = limit ? Math.min(limit, split.size) : split.size;
  const stream = new BatchStream({ size, shape: split.shape, get: (i) => split.get(i) }, { batchSize, seed, start: position as BatchPosition | undefined });
  const it = stream[Symbol.asyncIterator]();
  let pos: BatchPosition = stream.start;
  return {
    async next() {
      const r = await it.next();
      if (r.done) throw new Error('the batch stream ended unexpectedly');
      const b = r.value as Batch;
      pos = b.next;
      return { images: b.images, labels: b.labels };
    },
    position: () => pos,
  };
}

/**
 * Side of the image content inside the model's square: MedMNIST 28² arrays are padded (not
 * resized) to 32², so other images must be brought to 28² and padded the same way to look alike.
 */
export function contentSize(ds: Dataset, file: string, imageSize: number): number {
  if (ds.kind !== 'npz') return imageSize;
  const src = medmnistStem(file).size ?? 28;
  return imageSize <= 1.25 * src && imageSize >= src ? src : imageSize;
}

/**
 * Validation by the diffusion classifier itself (paper appendix C). The score is balanced accuracy
 * (plus a hair of AUROC to break ties): validation and test class mixes differ on PneumoniaMNIST,
 * and plain accuracy picked the checkpoint that was worst on test (method.md §11).
 */
function validationFor(ds: Dataset, pipeline: DiffusionPipeline, train: TrainConfig, o: TrainRunOptions) {
  const every = o.valEvery ?? 500;
  if (every <= 0 || !ds.splits.includes('val') || ds.size('val') === 0) return undefined;
  const { images, labels, count } = stackSplit(ds.split('val'), { limit: o.valImages ?? 256, spread: true });
  const K = ds.classNames.length;
  const clf = new DiffusionClassifier(pipeline, { n: o.valPairs ?? 11, seed: train.seed, keepErrors: false });
  return {
    every,
    async evaluate(): Promise<ValidationMetrics> {
      const r = clf.classify(images, count);
      const pred = r.map((x) => x.votePred);
      const bal = balancedAccuracy(labels, pred, K);
      const auc = K === 2 ? auroc(labels, r.map((x) => x.shares[1]!), 1) : NaN;
      return { score: bal + (Number.isFinite(auc) ? 1e-3 * auc : 0), balancedAccuracy: bal, accuracy: accuracy(labels, pred), macroF1: macroF1(labels, pred, K), auroc: auc, images: count };
    },
  };
}

function savedModelConfig(out: string): DenoiserConfig | null {
  for (const dir of ['checkpoint', 'checkpoint.old']) {
    const f = path.join(out, dir, 'config.json');
    if (!fs.existsSync(f)) continue;
    try { return validateDenoiserConfig((JSON.parse(fs.readFileSync(f, 'utf8')) as { model: DenoiserConfig }).model); } catch { return null; }
  }
  return null;
}

/**
 * The model config: a preset scaled to the array side (a JSON file is taken as written), with
 * overrides. The kind is the preset's (or the file's); fields of the other kind are refused by name.
 */
function modelConfigFor(base: ModelSpec, overrides: Partial<DenoiserConfig> | undefined, arraySide: number, inChannels: number, numClasses: number): DenoiserConfig {
  const { preset, ...fromFile } = base;
  // a JSON file may name a preset and change some of its fields: the scaled preset, then the file's fields
  const start = preset ? { ...presetConfig(preset, { imageSize: arraySide, inChannels, numClasses }), ...fromFile } : { ...fromFile };
  return validateDenoiserConfig({ ...start, ...overrides, imageSize: arraySide, inChannels, numClasses } as ModelSpec);
}

export async function trainFromData(o: TrainRunOptions): Promise<{ outDir: string; steps: number; lastLoss: number; timeUp: boolean }> {
  const warn = o.onWarning ?? ((m: string) => o.logger?.warn?.(m));
  const autoMicro = o.train?.microBatch === undefined || o.train.microBatch === 'auto';
  if (o.memoryBudgetMB !== undefined && !(o.memoryBudgetMB > 0)) throw new Error(`memory budget must be a number of MB > 0, got ${o.memoryBudgetMB}`);
  // 0 used to mean "stop at once" (it counts resumed time): a resume with --time-limit 0 trained nothing
  if (o.timeLimitSec !== undefined && !(o.timeLimitSec > 0)) {
    throw new Error(`--time-limit must be more than 0 minutes, got ${o.timeLimitSec / 60}; it counts resumed time, so to continue a run give its total (e.g. --time-limit 240), or leave it out for no limit`);
  }
  const requested = validateTrainConfig({ ...o.train, ...(autoMicro ? { microBatch: 'auto' as const } : {}) });
  const base = modelConfigFrom(o.config);
  const provisional = validateDenoiserConfig({ ...base, ...o.model } as ModelSpec);
  const imageSize = o.imageSize ?? provisional.imageSize * 2;
  if (!Number.isInteger(imageSize) || imageSize < 2 || imageSize % 2 !== 0) throw new Error(`--image-size must be an even number of pixels (one Haar stage halves it), got ${imageSize}`);
  const dataset = await openDataset(o.data, {
    imageSize, split: (o.valEvery ?? 500) > 0 ? ['train', 'val'] : 'train', seed: requested.seed, skipBad: o.skipBad, onWarning: warn, upscale: o.upscale,
    balance: requested.balance ? 'oversample' : 'none', ...(o.csv ? { csv: o.csv } : {}),
  });
  const trainSize = o.limit ? Math.min(o.limit, dataset.size('train')) : dataset.size('train');
  if (trainSize === 0) throw new Error(`${o.data}: the training split is empty; add images or use a CSV with a split column`);
  // A batch larger than the data set would repeat images within a step: clamp it (and the micro-batch) with a warning.
  let train = requested;
  if (requested.batchSize > trainSize) {
    warn(`batch size ${requested.batchSize} is larger than the ${trainSize} training images; using ${trainSize}`);
    train = validateTrainConfig({ ...o.train, batchSize: trainSize, microBatch: Math.min(requested.microBatch, trainSize) });
    if (trainSize % train.microBatch !== 0) train = validateTrainConfig({ ...o.train, batchSize: trainSize, microBatch: trainSize });
  }
  let modelCfg = modelConfigFor(base, o.model, imageSize / 2, 4 * dataset.channels, dataset.classNames.length);
  if (o.resume && base.preset && Object.hasOwn(UNET_PRESETS, base.preset) && !o.model) {
    // a run started before presets scaled with the image size keeps the network it was built with
    // (then: the preset with only imageSize, channels and classes replaced); any other difference is refused by resume()
    const saved = savedModelConfig(o.out);
    let legacy: UNetConfig | null = null;
    try { legacy = validateUNetConfig({ ...UNET_PRESETS[base.preset]!, ...base, preset: undefined, imageSize: imageSize / 2, inChannels: 4 * dataset.channels, numClasses: dataset.classNames.length } as Partial<UNetConfig> & { preset?: string }); } catch { /* unbuildable unscaled: no such old run */ }
    if (saved && legacy && JSON.stringify(saved) === JSON.stringify(legacy) && JSON.stringify(saved) !== JSON.stringify(modelCfg)) {
      warn(`resuming with the model config stored in ${o.out}/checkpoint (preset '${base.preset}' as it was before presets scaled with the image size)`);
      modelCfg = saved;
    }
  }
  const model = createDenoiser(modelCfg, train.seed);
  let microBatch: MicroBatchChoice | undefined;
  if (autoMicro) {
    // measured on the model itself; the choice changes no result (draws are per batch), only memory and speed
    microBatch = chooseMicroBatch(train.batchSize, await measureStepMemory(model), o.memoryBudgetMB !== undefined ? o.memoryBudgetMB * 2 ** 20 : undefined);
    train = { ...train, microBatch: microBatch.microBatch };
    o.logger?.info?.(microBatch.note);
  }
  const pipeline = createPipeline({
    denoiser: model, classNames: dataset.classNames, schedule: defaultSchedule(modelCfg), train: train as unknown as Record<string, unknown>,
    // how other images must be fitted to look like the training data (MedMNIST centre-crops to a square, then sits in the padded square)
    preprocess: { imageSize, contentSize: contentSize(dataset, o.data, imageSize), fit: dataset.kind === 'npz' ? 'crop' : 'pad', wavelet: { levels: 1, scale: train.haarScale } },
    data: {
      // relative to the working directory, so no machine path lands in a shipped config.json
      path: portablePath(o.data), kind: dataset.kind, limit: o.limit ?? null,
      // how the 80/10/10 split was drawn (folders, CSVs without a split column): evaluation must use the same
      splitSeed: train.seed,
      ...(o.csv && dataset.kind === 'csv' ? { csv: o.csv } : {}),
    },
  });
  const trainer = new Trainer({
    pipeline, config: train, dataFingerprint: dataset.fingerprint, outDir: o.out, onLog: o.onLog,
    openSource: (p) => batchesFor(dataset, train.batchSize, train.seed, o.limit, p),
    validation: validationFor(dataset, pipeline, train, o),
    onValidation: o.onValidation,
    timeLimitSec: o.timeLimitSec,
    onWarning: warn, signal: o.signal,
  });
  try {
    if (o.resume) trainer.resume();
    else if (fs.existsSync(path.join(o.out, 'checkpoint', 'state.json')) || fs.existsSync(path.join(o.out, 'checkpoint.old', 'state.json'))) {
      throw new Error(`${o.out} already holds a checkpoint; pass --resume to continue it, or choose another --out`);
    }
    o.onReady?.({ dataset, model, train, startStep: trainer.step, trainSize: o.limit ? Math.min(o.limit, dataset.size('train')) : dataset.split('train').distinct, sampledSize: dataset.size('train'), microBatch });
    const r = await trainer.run();
    return { outDir: o.out, ...r };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}
