// The compute worker: owns the runtime (native or wasm kernels) and the loaded pipelines, runs one
// job at a time, and reports progress. classify() is synchronous between model calls, so
// cancellation arrives through shared memory the event loop writes, not through messages.
import { parentPort, workerData } from 'node:worker_threads';
import { initRuntime } from '../runtime/index.ts';
import { loadPipeline, type DiffusionPipeline } from '../pipeline/index.ts';
import { decodeImageBytes } from '../data/index.ts';
import { classifyPixels, classifySettings, describeResult, multiscaleScores, type ClassifyOptions } from '../classify/index.ts';
import { encodePng, explain, toUint8, EXPLAIN_QUALITY } from '../explain/index.ts';
import { CANCELLED, TIMED_OUT, type ClassifyFields, type ExplainFields, type JobMessage, type LoadedModel, type ServedModel, type WorkerInit, type WorkerMessage } from './protocol.ts';
import { classifyResult, explainResult } from './results.ts';

const port = parentPort;
if (!port) throw new Error('src/server/worker.ts runs as a worker thread (new Worker), not on its own');
const post = (m: WorkerMessage) => port.postMessage(m);

/** Classify defaults of the server: the model's calibrated N, stopping once the vote is decided (the decision never changes). */
const SERVER_DEFAULTS = { n: 51, earlyStop: 'decided' as const };

class JobFailure extends Error {
  constructor(readonly kind: 'input' | 'cancelled' | 'timeout', message: string) { super(message); }
}

/** An AbortSignal whose state lives in a SharedArrayBuffer, so a busy thread still sees it. */
function sharedSignal(buf: SharedArrayBuffer): AbortSignal {
  const flag = new Int32Array(buf);
  const reason = () => {
    const v = Atomics.load(flag, 0);
    return v === TIMED_OUT ? new JobFailure('timeout', 'the job ran past the server\'s time limit') : v === CANCELLED ? new JobFailure('cancelled', 'the client went away') : undefined;
  };
  return {
    get aborted() { return Atomics.load(flag, 0) !== 0; },
    get reason() { return reason(); },
    throwIfAborted() { const r = reason(); if (r) throw r; },
  } as unknown as AbortSignal;
}

const pipelines = new Map<string, DiffusionPipeline>();

function classifyOptions(p: DiffusionPipeline, f: ClassifyFields, signal: AbortSignal, warnings: string[]): ClassifyOptions {
  return {
    n: f.n ?? p.calibration?.fittedOn.n ?? SERVER_DEFAULTS.n, earlyStop: f.earlyStop ?? SERVER_DEFAULTS.earlyStop,
    ...(f.mirror !== undefined ? { mirror: f.mirror } : {}), ...(f.seed !== undefined ? { seed: f.seed } : {}),
    logger: { warn: (m: string) => warnings.push(m) }, signal,
  };
}

function describe(id: string, dir: string, p: DiffusionPipeline): LoadedModel {
  const s = classifySettings(p, classifyOptions(p, {}, new AbortController().signal, []));
  const cal = p.calibration, pre = p.preprocessing;
  return {
    id, dir, classNames: [...p.classNames], imageSize: pre.imageSize, contentSize: pre.contentSize ?? pre.imageSize, channels: pre.channels as 1 | 3, fit: pre.fit,
    defaults: { n: s.config.n, earlyStop: s.config.earlyStop, tRange: [...s.config.tRange] as [number, number], mirror: s.config.mirror },
    calibration: cal ? {
      // K > 2 offsets have no positive class or threshold: '' and 0, with the kind saying which
      kind: cal.kind, positiveClass: cal.kind === 'vote-share-threshold' ? p.classNames[cal.positive]! : '', threshold: cal.kind === 'vote-share-threshold' ? cal.threshold : 0,
      fittedOn: { split: cal.fittedOn.split, images: cal.fittedOn.images, n: cal.fittedOn.n }, oodThreshold: s.ood?.threshold ?? null,
    } : null,
  };
}

let maxPixels: number | undefined;

async function preprocess(p: DiffusionPipeline, job: JobMessage): Promise<Float32Array> {
  try {
    return await p.preprocess(await decodeImageBytes(job.bytes, job.name, { window: p.preprocessing.dicomWindow, maxPixels }), job.name);
  } catch (e) {
    throw new JobFailure('input', (e as Error).message);
  }
}

async function runJob(job: JobMessage): Promise<unknown> {
  const p = pipelines.get(job.model);
  if (!p) throw new Error(`model '${job.model}' is not loaded in the worker`);
  const signal = sharedSignal(job.cancel), warnings: string[] = [];
  const pixels = await preprocess(p, job);
  signal.throwIfAborted();
  const t0 = performance.now();
  if (job.kind === 'classify') {
    const { results } = classifyPixels(p, pixels, 1, classifyOptions(p, job.fields, signal, warnings));
    return { ...classifyResult(results[0]!, p.classNames, (performance.now() - t0) / 1000), ...(warnings.length ? { warnings } : {}) };
  }
  const f = job.fields as ExplainFields;
  const copt = classifyOptions(p, f, signal, warnings);
  const progress = (phase: 'classify' | 'counterfactuals' | 'check' | 'images', step: number, steps: number) => post({ type: 'progress', id: job.id, progress: { phase, step, steps } });
  progress('classify', 0, 1);
  const [e] = await explain(p, pixels, {
    classify: copt, target: f.target, explain: { ...(f.t !== undefined ? { tExplain: f.t } : {}), ...(f.quality ? EXPLAIN_QUALITY[f.quality] : {}) },
    signal,
    onStep: (step, steps) => {
      signal.throwIfAborted();
      progress(step >= steps ? 'check' : 'counterfactuals', step, steps);
    },
  });
  progress('images', 0, 1);
  const settings = classifySettings(p, { ...copt, logger: undefined });
  // a multiscale OOD calibration needs its own 10 forward passes on the input (the explanation's pairs don't give it)
  const fit = settings.ood?.score === 'multiscale' ? settings.ood : null;
  const ms = fit ? multiscaleScores(p, e!.input, 1, fit, { signal })[0] : undefined;
  const r = await explainResult(e!, describeResult(p, e!.prediction, settings, ms), p.classNames, (performance.now() - t0) / 1000);
  return { ...r, ...(warnings.length ? { warnings } : {}) };
}

/** The gallery's images as the model sees them (its preprocessing), one PNG each. */
async function thumbnails(p: DiffusionPipeline, g: NonNullable<ServedModel['gallery']>): Promise<Record<string, Uint8Array>> {
  const s = await p.loadSplit(g.data, g.split);
  const want = new Set(g.ids), px = p.pixelsPerImage, out: Record<string, Uint8Array> = {};
  for (const [k, id] of s.ids.entries()) {
    if (!want.has(id)) continue;
    out[id] = await encodePng(toUint8(s.images.subarray(k * px, (k + 1) * px), p.imageSize, p.imageSize, p.channels));
  }
  return out;
}

async function init(o: WorkerInit): Promise<void> {
  maxPixels = o.maxPixels;
  try {
    const rt = await initRuntime({ backend: o.backend as 'auto' | undefined, threads: o.threads, log: false });
    const models: LoadedModel[] = [];
    const galleries: Extract<WorkerMessage, { type: 'ready' }>['galleries'] = {};
    for (const m of o.models) {
      const p = loadPipeline(m.dir);
      pipelines.set(m.id, p);
      models.push(describe(m.id, m.dir, p));
      // warm up (kernels compiled, buffers sized) so the first request is as fast as the rest
      classifyPixels(p, new Float32Array(p.pixelsPerImage), 1, { n: 2, earlyStop: 'off', calibration: false });
      // a gallery that cannot be rendered leaves the model served without one
      if (m.gallery) galleries[m.id] = await thumbnails(p, m.gallery).then((t) => ({ thumbnails: t }), (e: Error) => ({ error: e.message }));
    }
    post({ type: 'ready', models, backend: rt.backend, threads: rt.threads, galleries });
  } catch (e) {
    post({ type: 'init-error', message: (e as Error).message });
  }
}

// one job at a time: the server never sends another before 'done' or 'failed'
port.on('message', async (job: JobMessage) => {
  if (job.type !== 'job') return;
  post({ type: 'started', id: job.id });
  const t0 = performance.now();
  try {
    const result = await runJob(job);
    post({ type: 'done', id: job.id, result, seconds: (performance.now() - t0) / 1000 });
  } catch (e) {
    const kind = e instanceof JobFailure ? e.kind : 'internal';
    post({ type: 'failed', id: job.id, kind, message: kind === 'internal' ? `${(e as Error).message}` : (e as Error).message });
  }
});

await init(workerData as WorkerInit);
