// A bounded job queue in front of one compute worker: one job at a time, at most `capacity`
// waiting (then QueueFullError → 429), a per-job time limit, cancellation when the client goes
// away (through shared memory, since the worker computes synchronously), and a fresh worker
// when one dies.
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../util/index.ts';
import type { ExplainProgress, QueueState } from './api-types.ts';
import { CANCELLED, TIMED_OUT, type ExplainFields, type JobKind, type JobMessage, type LoadedModel, type WorkerInit, type WorkerMessage } from './protocol.ts';

/** An error the API answers with its own status code (4xx for the client's mistakes, 503 when the server is busy). */
export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string, readonly headers: Record<string, string> = {}) { super(message); }
}

export interface JobRequest { kind: JobKind; model: string; name: string; bytes: Uint8Array; fields: ExplainFields }
export interface JobHooks {
  signal?: AbortSignal;
  onProgress?: (p: ExplainProgress) => void;
}

interface Pending {
  id: number; req: JobRequest; hooks: JobHooks; cancel: SharedArrayBuffer;
  resolve: (v: { result: unknown; seconds: number }) => void; reject: (e: Error) => void;
  timer: NodeJS.Timeout; started: boolean; cleanup: () => void;
}

export interface PoolOptions extends WorkerInit {
  /** Jobs that may wait while one runs (default 8). */
  capacity?: number;
  /** Seconds a job may take from submission to answer (default 120). */
  timeoutSeconds?: number;
  /**
   * Seconds past the time limit a running job gets to notice it (it checks between model calls)
   * before the worker is terminated and replaced (default 60: one model call on pure wasm can take
   * ~20 s): code that never checks (a codec
   * spinning on a corrupt file) cannot hold the queue.
   */
  killGraceSeconds?: number;
  onLog?: (level: 'info' | 'warn' | 'error', msg: string) => void;
}

/** Why the event loop stopped a job (CANCELLED, TIMED_OUT), or 0. */
function flagOf(job: { cancel: SharedArrayBuffer }): number {
  return Atomics.load(new Int32Array(job.cancel), 0);
}

/** The compute worker: dist/server/worker.js when compiled; from source (tsx, tests) worker.ts. */
function newWorker(workerData: WorkerInit): Worker {
  return startModuleWorker(import.meta.url, 'worker', workerData);
}

export class ComputePool {
  readonly capacity: number;
  readonly timeoutMs: number;
  private readonly killGraceMs: number;
  private worker: Worker | null = null;
  /** The current worker has loaded the models (a replacement has not, at first). */
  private workerReady = false;
  /** Why no worker can run jobs (a replacement failed to start); null while all is well. */
  failure: string | null = null;
  private waiting: Pending[] = [];
  private running: Pending | null = null;
  private nextId = 1;
  private closing = false;
  private readyPromise: Promise<LoadedModel[]>;
  private models: LoadedModel[] = [];
  /** Jobs finished by the worker, by how they ended (client-gone and timed-out ones stopped mid-job included). */
  readonly counts = { done: 0, input: 0, cancelled: 0, timeout: 0, internal: 0, dropped: 0 };
  /** Recent job durations, for Retry-After. */
  private recent: number[] = [];
  info: { backend: string; threads: number } = { backend: 'starting', threads: 0 };
  /** Gallery thumbnails per model id, from the first start-up. */
  galleries: Extract<WorkerMessage, { type: 'ready' }>['galleries'] = {};

  constructor(private readonly o: PoolOptions) {
    this.capacity = o.capacity ?? 8;
    this.timeoutMs = (o.timeoutSeconds ?? 120) * 1000;
    this.killGraceMs = (o.killGraceSeconds ?? 60) * 1000;
    this.readyPromise = this.spawn();
  }

  /** The loaded models (rejects with the worker's error when a model folder cannot be loaded). */
  ready(): Promise<LoadedModel[]> { return this.readyPromise; }

  state(): QueueState {
    return { running: this.running ? 1 : 0, waiting: this.waiting.length, capacity: this.capacity, ready: this.workerReady };
  }

  private spawn(): Promise<LoadedModel[]> {
    const init: WorkerInit = { models: this.o.models, backend: this.o.backend, threads: this.o.threads, maxPixels: this.o.maxPixels };
    const w = newWorker(init);
    this.worker = w;
    this.workerReady = false;
    return new Promise((resolve, reject) => {
      let up = false;
      w.on('message', (m: WorkerMessage) => {
        if (m.type === 'ready') {
          up = true;
          this.workerReady = true;
          this.failure = null;
          this.models = m.models;
          this.info = { backend: m.backend, threads: m.threads };
          this.galleries = m.galleries;
          resolve(m.models);
          this.pump();
        } else if (m.type === 'init-error') {
          reject(new Error(m.message));
          void w.terminate();
        } else this.onMessage(m);
      });
      w.on('error', (e) => {
        if (!up) reject(e);
        this.o.onLog?.('error', `compute worker failed: ${e.message}`);
      });
      w.on('exit', (code) => {
        if (this.worker !== w) return;
        this.worker = null;
        const r = this.running;
        this.running = null;
        if (r) {
          // a worker replaced because its job ignored a time limit or cancellation ends that job as such
          const flag = flagOf(r);
          this.counts[flag === TIMED_OUT ? 'timeout' : flag === CANCELLED ? 'cancelled' : 'internal']++;
          this.finish(r, flag ? this.stopError(flag) : new HttpError(500, `the compute worker stopped (exit code ${code}) while running this job`));
        }
        if (!up) reject(new Error(`the compute worker exited with code ${code} before loading the models`));
        // a worker that dies after start-up is replaced; jobs waiting run on the new one
        if (up && !this.closing) {
          this.o.onLog?.('warn', `compute worker exited (code ${code}); starting a new one`);
          this.readyPromise = this.spawn();
          this.readyPromise.catch((e) => {
            this.failure = `the compute worker could not be restarted: ${(e as Error).message}`;
            this.o.onLog?.('error', this.failure);
            for (const j of this.waiting.splice(0)) this.finish(j, new HttpError(503, this.failure));
          });
        }
      });
    });
  }

  /** Seconds a client should wait before retrying when the queue is full. */
  retryAfterSeconds(): number {
    const avg = this.recent.length ? this.recent.reduce((a, b) => a + b, 0) / this.recent.length : 2;
    return Math.max(1, Math.ceil(avg * (this.waiting.length + 1)));
  }

  /** Why a new job would be refused now (429 full, 503 closing or broken), or null: checked before an upload is read. */
  refusal(): HttpError | null {
    if (this.closing) return new HttpError(503, 'the server is shutting down', { 'retry-after': '5' });
    if (this.failure) return new HttpError(503, this.failure);
    const idle = !this.running && this.workerReady && this.waiting.length === 0;
    if (this.waiting.length >= this.capacity && !idle) {
      return new HttpError(429, `the server is busy (${this.waiting.length} jobs waiting); retry in ${this.retryAfterSeconds()} s`, { 'retry-after': String(this.retryAfterSeconds()) });
    }
    return null;
  }

  /** The answer for a job stopped on purpose: past its time limit (503), or its client gone (499). */
  private stopError(why: number): HttpError {
    return why === TIMED_OUT
      ? new HttpError(503, `the job took longer than the server's limit of ${this.timeoutMs / 1000} s; try again when the server is less busy`, { 'retry-after': String(this.retryAfterSeconds()) })
      : new HttpError(499, 'the client went away');
  }

  /** Queue a job; resolves with the worker's result, rejects with an HttpError. */
  run(req: JobRequest, hooks: JobHooks = {}): Promise<{ result: unknown; seconds: number }> {
    if (!this.models.some((m) => m.id === req.model) && this.models.length) return Promise.reject(new HttpError(404, `unknown model '${req.model}'`));
    const no = this.refusal();
    if (no) return Promise.reject(no);
    if (hooks.signal?.aborted) return Promise.reject(this.stopError(CANCELLED));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const cancel = new SharedArrayBuffer(4);
      const job: Pending = {
        id, req, hooks, cancel, resolve, reject, started: false, cleanup: () => {},
        timer: setTimeout(() => this.abort(job, TIMED_OUT), this.timeoutMs),
      };
      const onAbort = () => this.abort(job, CANCELLED);
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      job.cleanup = () => { clearTimeout(job.timer); hooks.signal?.removeEventListener('abort', onAbort); };
      this.waiting.push(job);
      this.reportPositions();
      this.pump();
    });
  }

  private reportPositions(): void {
    this.waiting.forEach((j, k) => j.hooks.onProgress?.({ phase: 'queued', step: 0, steps: 1, position: k + (this.running ? 1 : 0) }));
  }

  private abort(job: Pending, why: number): void {
    const err = this.stopError(why);
    if (!job.started) {
      const k = this.waiting.indexOf(job);
      if (k >= 0) this.waiting.splice(k, 1);
      this.counts.dropped++;
      this.finish(job, err);
      this.reportPositions();
      return;
    }
    // the worker sees the flag at its next check and answers 'failed'; one that never checks is replaced
    Atomics.store(new Int32Array(job.cancel), 0, why);
    const w = this.worker;
    const kill = setTimeout(() => {
      if (this.running !== job || this.worker !== w || !w) return;
      this.o.onLog?.('warn', `job ${job.id} ignored its ${why === TIMED_OUT ? 'time limit' : 'cancellation'} for ${this.killGraceMs / 1000} s; replacing the compute worker`);
      void w.terminate();
    }, this.killGraceMs);
    kill.unref();
  }

  private pump(): void {
    if (this.running || !this.worker || !this.workerReady) return;
    const job = this.waiting.shift();
    if (!job) return;
    this.running = job;
    job.started = true;
    const msg: JobMessage = { type: 'job', id: job.id, kind: job.req.kind, model: job.req.model, name: job.req.name, bytes: job.req.bytes, fields: job.req.fields, cancel: job.cancel };
    this.worker.postMessage(msg);
    this.reportPositions();
  }

  private onMessage(m: WorkerMessage): void {
    const job = this.running;
    if (!job || !('id' in m) || m.id !== job.id) return;
    if (m.type === 'progress') job.hooks.onProgress?.(m.progress);
    else if (m.type === 'done') {
      this.recent = [...this.recent.slice(-19), m.seconds];
      this.counts.done++;
      this.running = null;
      this.finish(job, null, { result: m.result, seconds: m.seconds });
      this.pump();
    } else if (m.type === 'failed') {
      this.running = null;
      this.counts[m.kind]++;
      const err = m.kind === 'input' ? new HttpError(400, m.message)
        : m.kind === 'timeout' || flagOf(job) === TIMED_OUT ? this.stopError(TIMED_OUT)
          : m.kind === 'cancelled' ? this.stopError(CANCELLED)
            : new HttpError(500, `internal error: ${m.message}`);
      this.finish(job, err);
      this.pump();
    }
  }

  private finish(job: Pending, err: Error | null, value?: { result: unknown; seconds: number }): void {
    job.cleanup();
    if (err) job.reject(err);
    else job.resolve(value!);
  }

  /** Stop taking jobs, let the running and waiting ones finish (up to `graceMs`), then stop the worker. */
  async close(graceMs = 30_000): Promise<void> {
    this.closing = true;
    const deadline = Date.now() + graceMs;
    while ((this.running || this.waiting.length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const j of this.waiting.splice(0)) this.finish(j, new HttpError(503, 'the server is shutting down', { 'retry-after': '5' }));
    const w = this.worker;
    this.worker = null;
    if (this.running) { this.finish(this.running, new HttpError(503, 'the server is shutting down')); this.running = null; }
    await w?.terminate();
  }
}
