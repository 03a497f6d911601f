// Training loop of the discriminative baselines: cross-entropy, Adam (L2 weight decay, as PyTorch's
// Adam in the paper), the paper's augmentations drawn from the run's RNG, batch-norm statistics,
// validation every epoch keeping the best weights in best/, atomic checkpoints and exact resume.
import fs from 'node:fs';
import path from 'node:path';
import { tf, withPrecision, type Tensor } from '../runtime/index.ts';
import { Rng, portablePath, writeFileAtomic, type RngState } from '../util/index.ts';
import { createBaseline, type BaselineArch, type BaselineConfig, type BaselineNet } from '../models/index.ts';
import { BASELINE_FORMAT, BASELINE_VERSION, BaselinePipeline, loadBaselineWeights, loadCheckpoint, saveCheckpoint, type BaselinePipelineConfig, type Logger } from '../pipeline/index.ts';
import { augmentBatch, medmnistStem, openDataset, stackSplit, type CsvColumns, type Dataset } from '../data/index.ts';
import { accuracy, auroc, balancedAccuracy, macroF1 } from '../eval/index.ts';
import { Adam } from './optim.ts';
import { batchesFor, contentSize } from './run.ts';
import { validateBaselineTrainConfig, type BaselineTrainConfig } from './baseline-config.ts';
import type { TrainBatches } from './trainer.ts';

export interface BaselineTrainOptions {
  data: string;
  out: string;
  arch: BaselineArch;
  /** Overrides of the network config (dropout, smallInputStem, patchSize). */
  model?: Partial<BaselineConfig>;
  train?: Parameters<typeof validateBaselineTrainConfig>[1];
  /** Pixel side (default: an npz's native side, else 64). */
  imageSize?: number;
  resume?: boolean;
  skipBad?: boolean;
  limit?: number;
  csv?: CsvColumns;
  /**
   * Seed of the 80/10/10 split for sources without one (folders, CSVs without a split column).
   * Default 0, apart from the training seed, so ensemble members with different seeds share a test split.
   */
  splitSeed?: number;
  /** Stop at the first step past this many seconds of training (resumed time counts), validated and checkpointed. */
  timeLimitSec?: number;
  signal?: AbortSignal;
  logger?: Logger;
  onLog?: (m: BaselineStepMetrics) => void;
  onValidation?: (v: BaselineValidation) => void;
  onReady?: (info: { dataset: Dataset; net: BaselineNet; train: BaselineTrainConfig; startStep: number; totalSteps: number; stepsPerEpoch: number; trainSize: number }) => void;
}

export interface BaselineStepMetrics { step: number; epoch: number; loss: number; lr: number; gradNorm: number; imgPerSec: number; elapsedSec: number }
export interface BaselineValidation { step: number; epoch: number; score: number; balancedAccuracy: number; accuracy: number; macroF1: number; auroc: number; loss: number; best: { step: number; epoch: number; score: number } }

interface ResumeState { rng: RngState; data: unknown; elapsedSec: number; best: BaselineValidation['best'] | null }

/** Train a baseline on a data set; the run folder gets checkpoint/, best/ and metrics.jsonl. */
type BaselineTrainResult = { outDir: string; steps: number; lastLoss: number; timeUp: boolean; best: BaselineValidation['best'] | null };

/** Train a discriminative baseline; all of it at fp32, whatever the inference precision. */
export function trainBaseline(o: BaselineTrainOptions): Promise<BaselineTrainResult> {
  return withPrecision('fp32', () => trainBaselineFp32(o));
}

async function trainBaselineFp32(o: BaselineTrainOptions): Promise<BaselineTrainResult> {
  const warn = (m: string) => o.logger?.warn?.(m);
  let cfg = validateBaselineTrainConfig(o.arch, o.train);
  const splitSeed = o.splitSeed ?? 0;
  if (!Number.isSafeInteger(splitSeed) || splitSeed < 0) throw new Error(`splitSeed must be an integer ≥ 0, got ${splitSeed}`);
  if (o.timeLimitSec !== undefined && !(o.timeLimitSec > 0)) throw new Error(`--time-limit must be more than 0 minutes, got ${o.timeLimitSec / 60}`);
  const imageSize = o.imageSize ?? (o.data.toLowerCase().endsWith('.npz') ? medmnistStem(o.data).size ?? 28 : 64);
  const dataset = await openDataset(o.data, {
    imageSize, split: ['train', 'val'], seed: splitSeed, skipBad: o.skipBad, onWarning: warn,
    balance: cfg.balance ? 'oversample' : 'none', ...(o.csv ? { csv: o.csv } : {}),
  });
  const trainSize = o.limit ? Math.min(o.limit, dataset.size('train')) : dataset.size('train');
  if (trainSize === 0) throw new Error(`${o.data}: the training split is empty; add images or use a CSV with a split column`);
  if (cfg.batchSize > trainSize) {
    warn(`batch size ${cfg.batchSize} is larger than the ${trainSize} training images; using ${trainSize}`);
    cfg = { ...cfg, batchSize: trainSize };
  }
  const net = createBaseline({ ...o.model, kind: o.arch, inChannels: dataset.channels, imageSize, numClasses: dataset.classNames.length }, cfg.seed);
  const config: BaselinePipelineConfig = {
    format: BASELINE_FORMAT, version: BASELINE_VERSION, model: net.config,
    // how other images must be fitted to look like the training data (an npz padded 28 → 32 keeps its 28² content)
    preprocess: { channels: dataset.channels, imageSize, contentSize: contentSize(dataset, o.data, imageSize), fit: dataset.kind === 'npz' ? 'crop' : 'pad', dicomWindow: 'voi' },
    classNames: dataset.classNames, train: cfg as unknown as Record<string, unknown>,
    data: { path: portablePath(o.data), kind: dataset.kind, limit: o.limit ?? null, splitSeed, ...(o.csv && dataset.kind === 'csv' ? { csv: o.csv } : {}) },
  };
  const pipeline = new BaselinePipeline({ net, config });
  const adam = new Adam(net.params.vars, cfg.optimizer);
  const rng = new Rng(cfg.seed);
  const stepsPerEpoch = Math.max(1, Math.floor(trainSize / cfg.batchSize));
  const totalSteps = cfg.epochs * stepsPerEpoch;
  const ckptDir = path.join(o.out, 'checkpoint'), bestDir = path.join(o.out, 'best'), metricsFile = path.join(o.out, 'metrics.jsonl');
  let step = 0, elapsedBefore = 0, best: BaselineValidation['best'] | null = null;
  let source: TrainBatches;
  try {
    if (o.resume) {
      const ck = loadCheckpoint(ckptDir);
      const saved = ck.config as unknown as BaselinePipelineConfig;
      if (saved.format !== BASELINE_FORMAT) throw new Error(`checkpoint ${ck.dir} is not a baseline's; use a new --out`);
      if (JSON.stringify(saved.model) !== JSON.stringify(net.config)) {
        const a = saved.model as unknown as Record<string, unknown>, b = net.config as unknown as Record<string, unknown>;
        const fields = Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
        throw new Error(`checkpoint ${ck.dir} was made with another network (${fields.map((k) => `${k}: ${JSON.stringify(a[k])} there, ${JSON.stringify(b[k])} now`).join('; ')}); resume with the same --arch, --image-size and --dropout, or a new --out`);
      }
      if (JSON.stringify(saved.data?.limit ?? null) !== JSON.stringify(o.limit ?? null)) throw new Error(`checkpoint ${ck.dir} was trained with --limit ${saved.data?.limit ?? 'none'}; resume with the same --limit`);
      if ((saved.data?.splitSeed ?? 0) !== splitSeed) throw new Error(`checkpoint ${ck.dir} was trained on the split drawn with split seed ${saved.data?.splitSeed ?? 0}; resume with the same split seed`);
      if (ck.state.dataFingerprint !== dataset.fingerprint) throw new Error(`checkpoint ${ck.dir} was trained on other data; resume with the same --data`);
      // epochs and log cadence may change on resume; the optimizer may change with a warning; the rest must match for an exact resume
      const a = { ...(saved.train ?? {}) } as Record<string, unknown>, b = { ...cfg } as Record<string, unknown>;
      const diff = Object.keys({ ...a, ...b }).filter((k) => !['epochs', 'logEvery', 'optimizer'].includes(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
      if (diff.length) throw new Error(`checkpoint ${ck.dir} was trained with other settings (${diff.join(', ')}); resume with the same options, or start a new --out`);
      if (JSON.stringify(a.optimizer) !== JSON.stringify(b.optimizer)) warn(`resuming ${ck.dir} with other optimizer settings; the run will not match an uninterrupted one`);
      if (!ck.optimizer) throw new Error(`checkpoint ${ck.dir} has no optimizer state, so training cannot resume exactly`);
      const r = ck.state.resume as unknown as ResumeState;
      loadBaselineWeights(net, ck.model, path.join(ck.dir, 'model.safetensors'));
      adam.loadState(ck.optimizer, ck.state.step, path.join(ck.dir, 'optimizer.safetensors'));
      rng.setState(r.rng);
      step = ck.state.step; elapsedBefore = r.elapsedSec ?? 0; best = r.best ?? null;
      source = batchesFor(dataset, cfg.batchSize, cfg.seed, o.limit, r.data);
      if (fs.existsSync(metricsFile)) {
        const keep = (l: string) => { try { return (JSON.parse(l) as { step: number }).step <= step; } catch { return false; } };
        writeFileAtomic(metricsFile, fs.readFileSync(metricsFile, 'utf8').split('\n').filter((l) => l && keep(l)).map((l) => l + '\n').join(''));
      }
    } else {
      if (fs.existsSync(path.join(ckptDir, 'state.json')) || fs.existsSync(path.join(`${path.resolve(ckptDir)}.old`, 'state.json'))) {
        throw new Error(`${o.out} already holds a checkpoint; pass --resume to continue it, or choose another --out`);
      }
      // a run that died before its first checkpoint leaves best/ or a log that a new run must not mix with
      for (const f of [bestDir, metricsFile]) if (fs.existsSync(f)) throw new Error(`${o.out} holds ${path.basename(f)} from an earlier run but no checkpoint; remove it or choose another --out`);
      source = batchesFor(dataset, cfg.batchSize, cfg.seed, o.limit, undefined);
    }
    o.onReady?.({ dataset, net, train: cfg, startStep: step, totalSteps, stepsPerEpoch, trainSize });
    fs.mkdirSync(o.out, { recursive: true });

    const val = dataset.splits.includes('val') && dataset.size('val') > 0 && cfg.valEvery > 0 ? stackSplit(dataset.split('val'), {}) : null;
    const runStart = performance.now();
    const elapsed = () => elapsedBefore + (performance.now() - runStart) / 1000;
    const info = () => ({ trainingSeconds: elapsed(), arch: o.arch, parameters: net.parameterCount() });
    const save = () => saveCheckpoint(ckptDir, {
      config: config as unknown as Record<string, unknown>, model: pipeline.namedArrays(), optimizer: adam.state(),
      state: { step, classNames: dataset.classNames, dataFingerprint: dataset.fingerprint, resume: { rng: rng.getState(), data: source.position(), elapsedSec: elapsed(), best } as unknown as Record<string, unknown>, info: info() },
    });
    const validate = () => {
      const K = dataset.classNames.length;
      const logits = pipeline.logits(val!.images, val!.count);
      const probs = tf.tidy(() => tf.softmax(tf.tensor2d(logits, [val!.count, K])).arraySync() as number[][]);
      const pred = probs.map((p) => p.indexOf(Math.max(...p)));
      const labels = Array.from(val!.labels);
      const bal = balancedAccuracy(labels, pred, K);
      const auc = K === 2 ? auroc(labels, probs.map((p) => p[1]!), 1) : NaN;
      const loss = -probs.reduce((a, p, i) => a + Math.log(Math.max(p[labels[i]!]!, 1e-12)), 0) / val!.count;
      // balanced accuracy (a hair of AUROC breaks ties): PneumoniaMNIST's val and test class mixes differ (method.md §11)
      const score = bal + (Number.isFinite(auc) ? 1e-3 * auc : 0);
      // a validation at the time limit falls inside an epoch: its epoch is fractional
      const epoch = Math.round((100 * step) / stepsPerEpoch) / 100;
      if (!best || score > best.score) {
        best = { step, epoch, score };
        saveCheckpoint(bestDir, {
          config: config as unknown as Record<string, unknown>, model: pipeline.namedArrays(),
          state: { step, classNames: dataset.classNames, dataFingerprint: dataset.fingerprint, resume: {}, info: { ...info(), validation: { balancedAccuracy: bal, auroc: auc, loss, epoch } } },
        });
      }
      const v: BaselineValidation = { step, epoch, score, balancedAccuracy: bal, accuracy: accuracy(labels, pred), macroF1: macroF1(labels, pred, K), auroc: auc, loss, best };
      fs.appendFileSync(metricsFile, JSON.stringify({ step, validation: v }) + '\n');
      o.onValidation?.(v);
    };

    const [h, w, c] = [imageSize, imageSize, dataset.channels];
    const K = dataset.classNames.length;
    let lastLoss = NaN, windowStart = performance.now(), windowImages = 0;
    let timeUp = o.timeLimitSec !== undefined && elapsedBefore >= o.timeLimitSec;
    const vars = net.params.list();
    while (step < totalSteps && !timeUp) {
      if (o.signal?.aborted) {
        if (step > 0) save();
        o.signal.throwIfAborted();
      }
      const b = await source.next();
      const n = b.labels.length;
      const images = augmentBatch(b.images, [n, h, w, c], cfg.augment, rng);
      const dropSeed = rng.uint32();
      const { value, grads } = tf.tidy(() => tf.variableGrads(() => {
        const logits = net.apply(tf.tensor4d(images, [n, h, w, c]), { training: true, dropout: true, seed: dropSeed });
        return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(b.labels, 'int32'), K), logits) as tf.Scalar;
      }, vars));
      const loss = value.dataSync()[0]!;
      value.dispose();
      if (!Number.isFinite(loss)) {
        tf.dispose(Object.values(grads) as Tensor[]);
        net.updateBuffers();
        throw new Error(`loss became ${loss} at step ${step + 1}: training stopped; the last checkpoint in ${ckptDir} is kept. Lower --lr or check the data for NaN/Inf.`);
      }
      const named: Record<string, Tensor> = {};
      for (const [name, v] of net.params.vars) named[name] = grads[v.name]!;
      const r = adam.apply(named);
      tf.dispose(Object.values(grads) as Tensor[]);
      net.updateBuffers();
      step = adam.step;
      lastLoss = loss;
      windowImages += n;
      timeUp = o.timeLimitSec !== undefined && elapsed() >= o.timeLimitSec;
      const last = step === totalSteps || timeUp, epochEnd = step % stepsPerEpoch === 0;
      if (step % cfg.logEvery === 0 || last) {
        const now = performance.now();
        const m: BaselineStepMetrics = { step, epoch: step / stepsPerEpoch, loss, lr: r.lr, gradNorm: r.gradNorm, imgPerSec: (windowImages * 1000) / (now - windowStart), elapsedSec: elapsed() };
        fs.appendFileSync(metricsFile, JSON.stringify(m) + '\n');
        o.onLog?.(m);
        windowStart = now; windowImages = 0;
      }
      if (val && ((epochEnd && (step / stepsPerEpoch) % cfg.valEvery === 0) || last)) validate();
      if (epochEnd || last) save();
    }
    if (!val && step > 0) {
      // no validation split: the last weights are the model
      saveCheckpoint(bestDir, { config: config as unknown as Record<string, unknown>, model: pipeline.namedArrays(), state: { step, classNames: dataset.classNames, dataFingerprint: dataset.fingerprint, resume: {}, info: { ...info(), validation: null } } });
    }
    return { outDir: o.out, steps: step, lastLoss, timeUp, best };
  } finally {
    adam.dispose();
    net.dispose();
  }
}
