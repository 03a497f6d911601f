/**
 * Compressed DICOM frames through maintained npm codecs, loaded lazily (the first time such a
 * frame is met, so start-up and uncompressed files never pay for them):
 *   - JPEG baseline/extended 8-bit: @cornerstonejs/codec-libjpeg-turbo-8bit (WebAssembly)
 *   - JPEG-LS:                      @cornerstonejs/codec-charls (WebAssembly)
 *   - JPEG 2000:                    @cornerstonejs/codec-openjpeg (WebAssembly)
 *   - High-Throughput JPEG 2000:    @cornerstonejs/codec-openjph (WebAssembly)
 *   - JPEG lossless (process 14):   jpeg-lossless-decoder-js (plain JS)
 * The Emscripten builds are CommonJS factories; they run in Node (fs reads the .wasm next to the
 * .js), no browser APIs. Decode-only builds are used where the package has one: they are about half
 * the size (OpenJPH ships one build).
 */
import { createRequire } from 'node:module';

/** One decoded frame as the codec returned it (copied out of WebAssembly memory). */
export interface CodecFrame {
  /** ≤ 8 bits: one byte per sample; 9–16 bits: Uint16 (two's complement when `signed`). */
  samples: Uint8Array | Uint16Array;
  width: number;
  height: number;
  components: number;
  bitsPerSample: number;
  /** Colour sample order: 'pixel' (RGBRGB…), 'line' (R row, G row, B row, …) or 'plane' (RRR…GGG…BBB…). */
  layout: 'pixel' | 'line' | 'plane';
}

/** Thrown for a codestream the codec refused; dicom.ts adds the file name and what to do. */
export class CodecError extends Error {}
/** The codec's npm package is missing (an install without it): not the file's fault. */
export class CodecMissingError extends CodecError {}

const require = createRequire(import.meta.url);

interface FrameInfo { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean }
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getInterleaveMode?(): number;
  delete(): void;
}
type WasmModule = Record<string, new () => WasmDecoder>;
type Factory = (opts: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<WasmModule>;

interface Loaded { module: WasmModule; log: string[] }
const cache = new Map<string, Promise<Loaded>>();

/** Instantiate an Emscripten codec once; its console output is kept for error messages instead of printed. */
function load(pkg: string, entry: string): Promise<Loaded> {
  let p = cache.get(pkg);
  if (!p) {
    p = (async () => {
      let factory: Factory;
      try {
        const m = require(`${pkg}/${entry}`) as Factory | { default: Factory };
        factory = typeof m === 'function' ? m : m.default;
      } catch (e) {
        throw new CodecMissingError(`the codec package ${pkg} is not installed (${(e as Error).message.split('\n')[0]}); ` +
          `run npm install (it is a dependency of meddiff)`);
      }
      const log: string[] = [];
      const keep = (s: string) => { log.push(s); if (log.length > 20) log.shift(); };
      return { module: await factory({ print: keep, printErr: keep }), log };
    })();
    p.catch(() => cache.delete(pkg));
    cache.set(pkg, p);
  }
  return p;
}

async function runWasm(pkg: string, entry: string, cls: string, name: string, data: Uint8Array, planarFromInterleave: boolean): Promise<CodecFrame> {
  try {
    return await runWasmOnce(pkg, entry, cls, name, data, planarFromInterleave);
  } catch (e) {
    // A trap anywhere (construction, buffers, delete — not only decode) can leave the instance's memory
    // broken: drop it, so the next frame gets a fresh one (found by the fuzzer: after one trap, every
    // later frame of that codec failed with "memory access out of bounds").
    if (e instanceof WebAssembly.RuntimeError) {
      cache.delete(pkg);
      throw new CodecError(`${name} decoder failed: ${e.message} (corrupt or truncated codestream)`);
    }
    throw e;
  }
}

async function runWasmOnce(pkg: string, entry: string, cls: string, name: string, data: Uint8Array, planarFromInterleave: boolean): Promise<CodecFrame> {
  const { module, log } = await load(pkg, entry);
  log.length = 0;
  const decoder = new module[cls]();
  try {
    decoder.getEncodedBuffer(data.length).set(data);
    try { decoder.decode(); } catch (e) {
      // Emscripten builds without exception support throw the C++ exception as a bare number.
      // A trap (RuntimeError) can leave the instance unusable, so the next call starts a fresh one.
      if (e instanceof WebAssembly.RuntimeError) cache.delete(pkg);
      const why = log.filter((l) => /error|warn/i.test(l)).join('; ') || (typeof e === 'number' ? 'corrupt or truncated codestream' : String((e as Error)?.message ?? e));
      throw new CodecError(`${name} decoder failed: ${why}`);
    }
    const fi = decoder.getFrameInfo();
    const out = decoder.getDecodedBuffer();
    if (!fi.width || !fi.height || !fi.componentCount || out.length === 0) {
      const why = log.filter((l) => /error/i.test(l)).join('; ') || 'no image decoded';
      throw new CodecError(`${name} decoder failed: ${why}`);
    }
    const bytes = out.slice(); // copy out of WebAssembly memory before delete()
    const bits = fi.bitsPerSample;
    const samples = bits > 8 ? new Uint16Array(bytes.buffer, 0, bytes.length >> 1) : bytes;
    // CharLS returns the stream's interleave mode: 0 none (planes), 1 line, 2 sample.
    let layout: CodecFrame['layout'] = 'pixel';
    if (planarFromInterleave && fi.componentCount > 1) {
      const mode = decoder.getInterleaveMode?.() ?? 2;
      layout = mode === 0 ? 'plane' : mode === 1 ? 'line' : 'pixel';
    }
    return { samples, width: fi.width, height: fi.height, components: fi.componentCount, bitsPerSample: bits, layout };
  } finally {
    decoder.delete();
  }
}

/** The codecs decodeCodec dispatches to (the sandbox's worker runs them by this name). */
export type CodecKind = 'jpeg' | 'jpeg-ls' | 'jpeg2000' | 'htj2k' | 'jpeg-lossless';

/** The WebAssembly builds: package, entry, decoder class, name in errors, and whether the layout comes from the stream. */
const WASM: Record<Exclude<CodecKind, 'jpeg-lossless'>, { pkg: string; entry: string; cls: string; name: string; interleave: boolean }> = {
  // JPEG baseline / extended (8-bit), colour converted to RGB by libjpeg-turbo
  jpeg: { pkg: '@cornerstonejs/codec-libjpeg-turbo-8bit', entry: 'decodewasmjs', cls: 'JPEGDecoder', name: 'JPEG (libjpeg-turbo)', interleave: false },
  // JPEG-LS lossless and near-lossless (CharLS)
  'jpeg-ls': { pkg: '@cornerstonejs/codec-charls', entry: 'decodewasmjs', cls: 'JpegLSDecoder', name: 'JPEG-LS (CharLS)', interleave: true },
  // JPEG 2000 (OpenJPEG); the inverse multi-component transform (YBR_RCT/ICT) is applied by the codec
  jpeg2000: { pkg: '@cornerstonejs/codec-openjpeg', entry: 'decodewasmjs', cls: 'J2KDecoder', name: 'JPEG 2000 (OpenJPEG)', interleave: false },
  // HTJ2K (ITU-T T.814, JPEG 2000 Part 15) through OpenJPH; the colour transform is undone by the codec
  htj2k: { pkg: '@cornerstonejs/codec-openjph', entry: 'wasmjs', cls: 'HTJ2KDecoder', name: 'HTJ2K (OpenJPH)', interleave: false },
};

const wasmDecode = (kind: keyof typeof WASM, data: Uint8Array): Promise<CodecFrame> => {
  const c = WASM[kind];
  return runWasm(c.pkg, c.entry, c.cls, c.name, data, c.interleave);
};

export const decodeJpegBaseline = (data: Uint8Array): Promise<CodecFrame> => wasmDecode('jpeg', data);
export const decodeJpegLs = (data: Uint8Array): Promise<CodecFrame> => wasmDecode('jpeg-ls', data);
export const decodeJpeg2000 = (data: Uint8Array): Promise<CodecFrame> => wasmDecode('jpeg2000', data);
export const decodeHtj2k = (data: Uint8Array): Promise<CodecFrame> => wasmDecode('htj2k', data);

/** Decode one frame with the codec named `kind` (JPEG lossless needs the bytes per sample). */
export async function decodeCodec(kind: CodecKind, data: Uint8Array, bytesPerSample: 1 | 2 = 2): Promise<CodecFrame> {
  return kind === 'jpeg-lossless' ? decodeJpegLossless(data, bytesPerSample) : wasmDecode(kind, data);
}

/** Load a codec's module ahead of its first frame (the sandbox's time limit then counts decoding only). */
export async function prepareCodec(kind: CodecKind): Promise<void> {
  if (kind === 'jpeg-lossless') { losslessModule(); return; }
  await load(WASM[kind].pkg, WASM[kind].entry);
}

interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes: number): Uint8Array | Uint16Array;
  frame: { dimX: number; dimY: number; precision: number };
  numComp: number;
  stream?: { index: number };
}
let lossless: { Decoder: new () => LosslessDecoder } | undefined;

/** JPEG lossless, non-hierarchical (process 14, any predictor), 2–16 bits. */
function losslessModule(): { Decoder: new () => LosslessDecoder } {
  if (!lossless) {
    try { lossless = require('jpeg-lossless-decoder-js') as { Decoder: new () => LosslessDecoder }; } catch (e) {
      throw new CodecMissingError(`the codec package jpeg-lossless-decoder-js is not installed (${(e as Error).message.split('\n')[0]}); run npm install (it is a dependency of meddiff)`);
    }
  }
  return lossless;
}

export function decodeJpegLossless(data: Uint8Array, bytesPerSample: 1 | 2): CodecFrame {
  const d = new (losslessModule().Decoder)();
  let out: Uint8Array | Uint16Array;
  try {
    out = d.decode(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength, bytesPerSample);
  } catch (e) {
    throw new CodecError(`JPEG lossless decoder failed: ${(e as Error)?.message ?? String(e)}`);
  }
  // The decoder reads zeros past the end instead of failing: a read position beyond the data means truncation.
  if ((d.stream?.index ?? 0) > data.byteLength) throw new CodecError('JPEG lossless decoder failed: the codestream ends before the image does (truncated)');
  const width = d.frame?.dimX ?? 0, height = d.frame?.dimY ?? 0, components = d.numComp ?? 0;
  if (!width || !height || !components || !out) throw new CodecError('JPEG lossless decoder failed: no image decoded');
  return { samples: out, width, height, components, bitsPerSample: d.frame.precision, layout: 'pixel' };
}
