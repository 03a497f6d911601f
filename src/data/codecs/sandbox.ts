/**
 * The third-party codecs (external.ts) run in a worker thread with a time limit. A damaged codestream
 * can send a codec into an endless loop — the fuzzer found one in OpenJPH (a mutated HTJ2K stream) —
 * and a loop inside WebAssembly cannot be interrupted from the thread running it: in-process, one bad
 * file would hang the whole batch (or the server). On timeout the worker is terminated, the frame gets
 * a CodecError, and the next frame starts a fresh worker. One worker, one frame at a time; it does not
 * keep the process alive while idle.
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../util/index.ts';
import { CodecError, CodecMissingError, type CodecFrame, type CodecKind } from './external.ts';

export type SandboxCodec = CodecKind;
export interface SandboxRequest { id: number; codec: SandboxCodec; data: Uint8Array; bytesPerSample?: 1 | 2 }
export type SandboxReply = { id: number; started: true; frame?: undefined; error?: undefined }
  | { id: number; frame: CodecFrame; started?: undefined; error?: undefined }
  | { id: number; error: { kind: 'missing' | 'codec' | 'other'; message: string }; started?: undefined; frame?: undefined };

/** Worker start-up plus loading a codec: generous, as a cold start on a loaded machine compiles WebAssembly. */
const START_LIMIT_MS = 120_000;

/**
 * Time a frame may take: 10 s plus 4 s per megapixel (WebAssembly decoders on a slow, shared core
 * take ~0.5 s per megapixel). MEDDIFF_CODEC_TIMEOUT_MS sets a fixed limit instead (the fuzzers use 1 s).
 */
export function codecTimeoutMs(pixels: number): number {
  const env = Number(process.env.MEDDIFF_CODEC_TIMEOUT_MS);
  return env > 0 ? env : 10_000 + 4_000 * (pixels / 1e6);
}

let worker: Worker | null = null;
let nextId = 1;
let tail: Promise<unknown> = Promise.resolve();
/** Workers started and frames decoded so far (tests: nothing starts for uncompressed or RLE files). */
export const sandboxStats = { workersStarted: 0, frames: 0, timeouts: 0 };

function ensureWorker(): Worker {
  if (worker) return worker;
  const w = startModuleWorker(import.meta.url, 'sandbox-worker');
  sandboxStats.workersStarted++;
  w.unref();
  w.on('exit', () => { if (worker === w) worker = null; });
  w.on('error', () => { if (worker === w) worker = null; });
  worker = w;
  return w;
}

function runOne(codec: SandboxCodec, data: Uint8Array, pixels: number, bytesPerSample?: 1 | 2): Promise<CodecFrame> {
  const limit = codecTimeoutMs(pixels);
  return new Promise<CodecFrame>((resolve, reject) => {
    const w = ensureWorker();
    const id = nextId++;
    let timer: NodeJS.Timeout;
    const done = () => { clearTimeout(timer); w.off('message', onMessage); w.off('exit', onExit); w.unref(); };
    const stop = (why: string) => {
      done();
      sandboxStats.timeouts++;
      if (worker === w) worker = null;
      void w.terminate();
      ensureWorker(); // start the replacement now: the next frame (often right behind) waits less
      reject(new CodecError(why));
    };
    const onMessage = (m: SandboxReply) => {
      if (m.id !== id) return;
      if (m.started) {
        // the codec is loaded: from here the frame's own limit runs
        clearTimeout(timer);
        timer = setTimeout(() => stop(`the ${codec} decoder did not finish within ${(limit / 1000).toFixed(1)} s (a damaged codestream can make a codec loop); stopped`), limit);
        return;
      }
      done();
      sandboxStats.frames++;
      if (m.frame) return resolve(m.frame);
      if (m.error.kind === 'missing') return reject(new CodecMissingError(m.error.message));
      // Anything else thrown inside a third-party codec is that codestream's failure; after an
      // unexpected one the worker is replaced, in case the codec's state is broken.
      if (m.error.kind === 'other') { if (worker === w) worker = null; void w.terminate(); }
      reject(new CodecError(m.error.kind === 'codec' ? m.error.message : `the ${codec} decoder failed: ${m.error.message}`));
    };
    const onExit = (code: number) => { done(); reject(new CodecError(`the ${codec} decoder's worker stopped (exit code ${code})`)); };
    timer = setTimeout(() => stop(`the codec worker did not start the ${codec} decoder within ${START_LIMIT_MS / 1000} s`), START_LIMIT_MS);
    w.ref(); // keep the process alive while a frame is being decoded
    w.on('message', onMessage);
    w.once('exit', onExit);
    // A copy goes over (transferred): the caller's bytes may be a view into the whole file, or into
    // Node's shared Buffer pool — and Buffer#slice makes a view, not a copy, so copy explicitly.
    const copy = new Uint8Array(data.byteLength);
    copy.set(data);
    const req: SandboxRequest = { id, codec, data: copy, bytesPerSample };
    w.postMessage(req, [req.data.buffer as ArrayBuffer]);
  });
}

/** Decode one frame in the sandbox; frames queue behind each other (the limit counts from each frame's start). */
export function decodeSandboxed(codec: SandboxCodec, data: Uint8Array, pixels: number, bytesPerSample?: 1 | 2): Promise<CodecFrame> {
  const p = tail.then(() => runOne(codec, data, pixels, bytesPerSample));
  tail = p.catch(() => undefined);
  return p;
}
