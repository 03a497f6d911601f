// The training loop (method.md §1, §4): v-prediction on Haar-wavelet inputs, shifted-cosine
// log-SNR, min-SNR-γ weighting, class dropout to the null class, Adam with warm-up and clipping,
// EMA, gradient accumulation, metrics.jsonl, checkpoints and exact resume.
import fs from 'node:fs';
import path from 'node:path';
import { tf, withPrecision, type Tensor } from '../runtime/index.ts';
import { writeFileAtomic } from '../util/index.ts';
import type { Denoiser } from '../models/index.ts';
import {
  Rng, addNoise, diffusionLoss, logSnrTensor, sampleTimes, vTarget,
  type RngState, type ScheduleConfig,
} from '../diffusion/index.ts';
import { pipelineConfigJson, type DiffusionPipeline } from '../pipeline/index.ts';
import { Adam } from './optim.ts';
import { Ema } from './ema.ts';
import { loadCheckpoint, saveCheckpoint } from '../pipeline/index.ts';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from './config.ts';
import { mirrorSome, shiftSome } from '../data/index.ts';

export interface TrainBatch { images: Float32Array; labels: Int32Array }

/** What one step draws for its batch: augmented images, times, noise and (dropped-out) labels. */
interface StepDraws { images: Float32Array; t: Float32Array; eps: Float32Array; y: Int32Array }

/** A resumable stream of training batches (NHWC in [−1, 1], at the model's pixel size). */
export interface TrainBatches {
  next(): Promise<TrainBatch>;
  /** JSON-safe position before the next batch, stored in checkpoints. */
  position(): unknown;
}

export interface TrainerOptions {
  /** The model being trained: denoiser, preprocessing (pixels → model space), schedule, classes; saved as config.json. */
  pipeline: DiffusionPipeline;
  config: TrainConfig;
  dataFingerprint: string;
  outDir: string;
  /** Opens the batch stream at a saved position (undefined = the start). */
  openSource: (position?: unknown) => TrainBatches;
  onLog?: (m: StepMetrics) => void;
  /** Periodic validation: scores the raw and the EMA weights; the best goes to outDir/best. */
  validation?: { every: number; evaluate: (weights: 'raw' | 'ema') => Promise<ValidationMetrics> };
  onValidation?: (v: ValidationRecord) => void;
  /** Where warnings go (e.g. resuming with other optimizer settings); default: nowhere. */
  onWarning?: (message: string) => void;
  /** Checked before every step: when aborted, the trainer checkpoints the last finished step and throws the reason. */
  signal?: AbortSignal;
  /** Stop after the first step that ends past this many seconds of training (resumed runs count their earlier time), validating and checkpointing there. */
  timeLimitSec?: number;
}

export interface ValidationMetrics { score: number; [metric: string]: number }
export interface ValidationRecord { step: number; raw: ValidationMetrics; ema: ValidationMetrics; best: { step: number; weights: 'raw' | 'ema'; score: number } }

export interface StepMetrics { step: number; loss: number; lr: number; gradNorm: number; imgPerSec: number; elapsedSec: number }

export class NonFiniteLossError extends Error {}

export class Trainer {
  readonly model: Denoiser;
  readonly cfg: TrainConfig;
  readonly schedule: ScheduleConfig;
  readonly adam: Adam;
  readonly ema: Ema;
  readonly rng: Rng;
  step = 0;
  private source: TrainBatches;
  private elapsedBefore = 0;
  private best: ValidationRecord['best'] | null = null;
  private readonly ckptDir: string;

  private readonly imageShape: [number, number, number];
  private readonly classNames: string[];
  /** config.json of every checkpoint: the pipeline's config with these training settings. */
  private readonly savedConfig: Record<string, unknown>;

  constructor(private readonly o: TrainerOptions) {
    const p = o.pipeline;
    this.model = p.denoiser;
    this.cfg = o.config;
    this.imageShape = [p.imageSize, p.imageSize, p.channels];
    this.classNames = p.classNames;
    if (o.config.haarScale !== p.preprocessing.wavelet.scale) throw new Error(`train config haarScale '${o.config.haarScale}' differs from the pipeline's wavelet scale '${p.preprocessing.wavelet.scale}'`);
    this.savedConfig = pipelineConfigJson({ ...p.config, train: o.config as unknown as Record<string, unknown> });
    this.schedule = p.schedule;
    this.adam = new Adam(this.model.params.vars, o.config.optimizer);
    this.ema = new Ema(this.model.params.vars, o.config.ema);
    this.rng = new Rng(o.config.seed);
    this.source = o.openSource(undefined);
    this.ckptDir = path.join(o.outDir, 'checkpoint');
  }

  /** Continue from outDir/checkpoint: refuses a checkpoint made for another model or data. */
  resume(): void {
    const ck = loadCheckpoint(this.ckptDir);
    const saved = JSON.stringify((ck.config as { model?: unknown }).model);
    if (saved !== JSON.stringify(this.model.config)) throw new Error(`checkpoint ${ck.dir} was made with another model config; use a new --out or the same --config`);
    if (ck.state.dataFingerprint !== this.o.dataFingerprint) throw new Error(`checkpoint ${ck.dir} was trained on other data (fingerprint ${ck.state.dataFingerprint}, now ${this.o.dataFingerprint}); resume with the same --data`);
    if (JSON.stringify(ck.state.classNames) !== JSON.stringify(this.classNames)) throw new Error(`checkpoint ${ck.dir} has classes ${ck.state.classNames.join(', ')}, the data has ${this.classNames.join(', ')}`);
    // Exact resume needs the same training settings (steps, logging and checkpoint cadence may change).
    // Optimizer settings (lr, warm-up, clipping) may change on purpose when resuming: warn, don't refuse.
    // microBatch too: the draws are per batch (drawStep), so it changes only float summation order
    const free = new Set(['steps', 'checkpointEvery', 'logEvery', 'optimizer', 'microBatch']);
    const optA = JSON.stringify((ck.config as { train?: { optimizer?: unknown } }).train?.optimizer);
    const optB = JSON.stringify((this.savedConfig as { train?: { optimizer?: unknown } }).train?.optimizer);
    if (optA !== optB) this.o.onWarning?.(`resuming ${ck.dir} with other optimizer settings (${optA} → ${optB}); the run will not match an uninterrupted one`);
    const strip = (t: unknown) => JSON.stringify(Object.entries((t ?? {}) as Record<string, unknown>).filter(([k]) => !free.has(k)));
    // settings added since the checkpoint was written take their defaults
    const savedTrain = { ...DEFAULT_TRAIN_CONFIG, ...((ck.config as { train?: object }).train ?? {}) }, nowTrain = (this.savedConfig as { train?: unknown }).train;
    if (strip(savedTrain) !== strip(nowTrain)) {
      const a = (savedTrain ?? {}) as Record<string, unknown>, b = (nowTrain ?? {}) as Record<string, unknown>;
      const diff = Object.keys({ ...a, ...b }).filter((k) => !free.has(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
      throw new Error(`checkpoint ${ck.dir} was trained with other settings (${diff.join(', ')}); resume with the same options, or start a new --out`);
    }
    const savedLimit = (ck.config as { data?: { limit?: unknown } }).data?.limit, nowLimit = (this.savedConfig as { data?: { limit?: unknown } }).data?.limit;
    if (JSON.stringify(savedLimit ?? null) !== JSON.stringify(nowLimit ?? null)) throw new Error(`checkpoint ${ck.dir} was trained with --limit ${savedLimit ?? 'none'}; resume with the same --limit`);
    if (!ck.ema || !ck.optimizer) throw new Error(`checkpoint ${ck.dir} has no EMA or optimizer state, so training cannot resume exactly`);
    const r = ck.state.resume as { rng: RngState; data: unknown; emaUpdates: number; elapsedSec: number; best?: ValidationRecord['best'] };
    this.best = r.best ?? null;
    this.model.params.loadNamedArrays(ck.model, path.join(ck.dir, 'model.safetensors'));
    this.ema.load(ck.ema, r.emaUpdates, path.join(ck.dir, 'ema.safetensors'));
    this.adam.loadState(ck.optimizer, ck.state.step, path.join(ck.dir, 'optimizer.safetensors'));
    this.rng.setState(r.rng);
    this.step = ck.state.step;
    this.elapsedBefore = r.elapsedSec ?? 0;
    this.source = this.o.openSource(r.data);
    // Drop metrics logged after the checkpoint by the interrupted run, so the log has no repeats.
    const metricsFile = path.join(this.o.outDir, 'metrics.jsonl');
    if (fs.existsSync(metricsFile)) {
      const parsesBefore = (l: string) => { try { return (JSON.parse(l) as StepMetrics).step <= this.step; } catch { return false; } }; // a killed run may leave half a line
      const kept = fs.readFileSync(metricsFile, 'utf8').split('\n').filter((l) => l && parsesBefore(l));
      writeFileAtomic(metricsFile, kept.map((l) => l + '\n').join(''));
    }
  }

  /**
   * The random draws of one optimizer step, made for the whole batch before it is cut into
   * micro-batches, so a run's numbers do not depend on the micro-batch (only the order of the
   * gradient sums does). With one micro-batch this is the order the trainer always drew in.
   */
  private drawStep(batch: TrainBatch): StepDraws {
    const n = this.cfg.batchSize;
    const [h, w, c] = this.imageShape;
    const mc = this.model.config;
    const t = sampleTimes(n, this.rng, { stratified: this.cfg.stratifiedTimes });
    const eps = this.rng.normals(n * mc.imageSize * mc.imageSize * mc.inChannels);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) y[i] = this.rng.float() < this.cfg.condDropout ? this.model.nullClass : batch.labels[i]!;
    let images = batch.images;
    // Drawn only when on, so runs without flips keep their random stream (and resume exactly).
    if (this.cfg.hflip) images = mirrorSome(images, [n, h, w, c], Array.from({ length: n }, () => this.rng.float() < 0.5));
    if (this.cfg.shift > 0) {
      const s = this.cfg.shift, draw = () => Math.min(s, Math.floor(this.rng.float() * (2 * s + 1)) - s);
      images = shiftSome(images, [n, h, w, c], Array.from({ length: n }, () => [draw(), draw()] as [number, number]));
    }
    return { images, t, eps, y };
  }

  /** Loss of examples [from, from + n) of the step and its gradients (scaled by `weight`). */
  private microStep(d: StepDraws, from: number, n: number, weight: number): { loss: number; grads: Tensor[] } {
    const [h, w, c] = this.imageShape;
    const mc = this.model.config;
    const noiseSize = mc.imageSize * mc.imageSize * mc.inChannels;
    const images = d.images.subarray(from * h * w * c, (from + n) * h * w * c);
    const t = d.t.subarray(from, from + n), eps = d.eps.subarray(from * noiseSize, (from + n) * noiseSize), y = d.y.subarray(from, from + n);
    const vars = this.model.params.list();
    const { value, grads } = tf.tidy(() => {
      const x0 = this.o.pipeline.toModelSpace(tf.tensor4d(images, [n, h, w, c]));
      const noise = tf.tensor4d(eps, x0.shape);
      const lam = logSnrTensor(tf.tensor1d(t), this.schedule) as tf.Tensor1D;
      const z = addNoise(x0, noise, lam);
      const target = vTarget(x0, noise, lam);
      const classes = tf.tensor1d(y, 'int32');
      return tf.variableGrads(() => tf.mul(diffusionLoss(this.model.apply(z, lam, classes), target, lam, { minSnrGamma: this.cfg.minSnrGamma }), weight) as tf.Scalar, vars);
    });
    const loss = value.dataSync()[0]! / weight;
    value.dispose();
    return { loss, grads: vars.map((v) => grads[v.name]!) };
  }

  /** One optimizer step on one batch (accumulating micro-batches); fp32 whatever the inference precision. */
  trainStep(batch: TrainBatch): { loss: number; gradNorm: number; lr: number } {
    return withPrecision('fp32', () => this.fp32Step(batch));
  }

  private fp32Step(batch: TrainBatch): { loss: number; gradNorm: number; lr: number } {
    const { batchSize, microBatch } = this.cfg;
    const draws = this.drawStep(batch);
    let acc: Tensor[] | null = null;
    let loss = 0;
    for (let s = 0; s < batchSize; s += microBatch) {
      const r = this.microStep(draws, s, microBatch, microBatch / batchSize);
      loss += (r.loss * microBatch) / batchSize;
      if (!acc) acc = r.grads;
      else {
        const prev: Tensor[] = acc;
        acc = prev.map((g, i) => tf.add(g, r.grads[i]!));
        tf.dispose([...prev, ...r.grads]);
      }
    }
    const names = [...this.model.params.vars.keys()];
    const named: Record<string, Tensor> = {};
    names.forEach((n, i) => { named[n] = acc![i]!; });
    if (!Number.isFinite(loss)) {
      tf.dispose(acc!);
      throw new NonFiniteLossError(`loss became ${loss} at step ${this.step + 1}`);
    }
    const { gradNorm, lr } = this.adam.apply(named, this.ema);
    tf.dispose(acc!);
    if (!Number.isFinite(gradNorm)) throw new NonFiniteLossError(`gradient norm became ${gradNorm} at step ${this.step}`);
    this.step = this.adam.step;
    return { loss, gradNorm, lr };
  }

  save(): void {
    const elapsedSec = this.elapsedBefore + (performance.now() - this.runStart) / 1000;
    saveCheckpoint(this.ckptDir, {
      config: this.savedConfig,
      model: this.model.params.toNamedArrays(),
      ema: this.ema.toNamedArrays(),
      optimizer: this.adam.state(),
      state: {
        step: this.step, classNames: this.classNames, dataFingerprint: this.o.dataFingerprint,
        resume: { rng: this.rng.getState(), data: this.source.position(), emaUpdates: this.ema.updates, elapsedSec, best: this.best },
      },
    });
  }

  private runStart = performance.now();

  /**
   * Train until config.steps (or the time limit); checkpoints every checkpointEvery steps and at the end.
   * All of it at fp32, validation included, so a run gives the same numbers on every CPU kind's default.
   */
  run(): Promise<{ steps: number; lastLoss: number; timeUp: boolean }> {
    return withPrecision('fp32', () => this.runFp32());
  }

  private async runFp32(): Promise<{ steps: number; lastLoss: number; timeUp: boolean }> {
    this.runStart = performance.now();
    fs.mkdirSync(this.o.outDir, { recursive: true });
    const metricsFile = path.join(this.o.outDir, 'metrics.jsonl');
    let lastLoss = NaN;
    let windowStart = performance.now(), windowImages = 0;
    const limit = this.o.timeLimitSec;
    let timeUp = limit !== undefined && this.elapsedBefore >= limit;
    while (this.step < this.cfg.steps && !timeUp) {
      if (this.o.signal?.aborted) {
        // keep what was trained: a resumable checkpoint at the last finished step
        if (this.step > 0) this.save();
        this.o.signal.throwIfAborted();
      }
      const batch = await this.source.next();
      let r: { loss: number; gradNorm: number; lr: number };
      try {
        r = this.trainStep(batch);
      } catch (e) {
        if (e instanceof NonFiniteLossError) {
          const last = fs.existsSync(path.join(this.ckptDir, 'state.json')) ? `the last good checkpoint (${this.ckptDir}) is kept` : 'no checkpoint was written yet';
          throw new Error(`${e.message}: training stopped; ${last}. Lower --lr, raise --warmup or check the data for NaN/Inf.`);
        }
        throw e;
      }
      lastLoss = r.loss;
      windowImages += this.cfg.batchSize;
      timeUp = limit !== undefined && this.elapsedBefore + (performance.now() - this.runStart) / 1000 >= limit;
      const last = this.step === this.cfg.steps || timeUp;
      if (this.step % this.cfg.logEvery === 0 || last) {
        const now = performance.now();
        const m: StepMetrics = {
          step: this.step, loss: r.loss, lr: r.lr, gradNorm: r.gradNorm,
          imgPerSec: (windowImages * 1000) / (now - windowStart),
          elapsedSec: this.elapsedBefore + (now - this.runStart) / 1000,
        };
        fs.appendFileSync(metricsFile, JSON.stringify(m) + '\n');
        this.o.onLog?.(m);
        windowStart = now;
        windowImages = 0;
      }
      const v = this.o.validation;
      if (v && (this.step % v.every === 0 || last)) await this.validate(metricsFile);
      if (this.step % this.cfg.checkpointEvery === 0 || last) this.save();
    }
    return { steps: this.step, lastLoss, timeUp };
  }

  /** Evaluate raw and EMA weights; the better one is saved to outDir/best if it beats the best so far. */
  private async validate(metricsFile: string): Promise<void> {
    const v = this.o.validation!;
    const raw = await v.evaluate('raw');
    const params = this.model.params;
    const saved = params.toNamedArrays();
    params.loadNamedArrays(this.ema.toNamedArrays(), 'EMA weights');
    let ema: ValidationMetrics;
    try {
      ema = await v.evaluate('ema');
    } finally {
      params.loadNamedArrays(saved, 'raw weights');
    }
    const weights = ema.score >= raw.score ? 'ema' : 'raw';
    const score = Math.max(ema.score, raw.score);
    if (!this.best || score > this.best.score) {
      this.best = { step: this.step, weights, score };
      saveCheckpoint(path.join(this.o.outDir, 'best'), {
        config: this.savedConfig,
        model: weights === 'ema' ? this.ema.toNamedArrays() : saved,
        state: {
          step: this.step, classNames: this.classNames, dataFingerprint: this.o.dataFingerprint,
          resume: {}, info: { selectedWeights: weights, validation: weights === 'ema' ? ema : raw },
        },
      });
    }
    const rec: ValidationRecord = { step: this.step, raw, ema, best: this.best };
    fs.appendFileSync(metricsFile, JSON.stringify({ step: this.step, validation: rec }) + '\n');
    this.o.onValidation?.(rec);
  }

  dispose(): void {
    this.adam.dispose();
    this.ema.dispose();
  }
}
