// The oneDNN addon (native/build/Release/meddiff_native.node) and the kernel overrides that put it
// under the tfjs wasm backend: convolutions and matmuls are computed in place on the wasm heap.
//
// Pitfall handled here: the wasm heap's ArrayBuffer is replaced when the heap grows, so every
// kernel allocates its output (backend.makeOutput) FIRST, then reads backend.wasm.HEAPU8 and the
// tensors' byte offsets, then calls the addon (which never calls back into JS).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { tf } from './tf.ts';
import { NATIVE_KERNEL_MARK } from './wasm_kernels.ts';

const require = createRequire(import.meta.url);

/** Where `npm run build:native` puts the addon. */
export const NATIVE_ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/meddiff_native.node', import.meta.url));

/**
 * The addon file to load: MEDDIFF_NATIVE_ADDON=<path to a .node> (developer option: test or bench an addon built
 * in another folder while processes of this checkout keep the one in native/build loaded), else NATIVE_ADDON_PATH.
 */
export function nativeAddonPath(): string {
  return process.env.MEDDIFF_NATIVE_ADDON || NATIVE_ADDON_PATH;
}

/** Inference precision of the native forward conv / matmul kernels ('bf16' needs AVX512_BF16; backward stays fp32). */
export type Precision = 'fp32' | 'bf16';
export const PRECISIONS: readonly Precision[] = ['fp32', 'bf16'];
/** What a caller may ask for: a precision, or 'auto' (bf16 where the native backend and the CPU have it, else fp32). */
export type PrecisionChoice = Precision | 'auto';
export const PRECISION_CHOICES: readonly PrecisionChoice[] = ['auto', ...PRECISIONS];

export interface NativeAddon {
  /** Library facts: onednn, isa, cpuRuntime, ompMaxThreads, ompNumProcs, napi, bf16 ('yes' when the CPU has bf16 dot products). */
  version(): Record<string, string>;
  /** omp_set_num_threads(n) (clears the primitive cache when it changes); returns the thread count now in use. */
  setThreads(n: number): number;
  getThreads(): number;
  /**
   * Inference precision of forward conv/matmul ('fp32' default); returns the mode now active. 'bf16' throws
   * where the CPU has no bf16 ISA (version().bf16 === 'no'). Backward kernels always run fp32.
   */
  setPrecision(mode: Precision): Precision;
  getPrecision(): Precision;
  /**
   * kind 0: forward, offsets [x, filter, y, bias?, prelu?]; kind 1: backward-data, [dy, filter, dx];
   * kind 2: backward-filter, [x, dy, dw]. geom: N,IH,IW,Ci,KH,KW,Co,OH,OW,sh,sw,dh,dw,pt,pl,pb,pr.
   * epilogue (forward only): [act, alpha, 4, hasBias, biasDims x4, hasPrelu, preluDims x4].
   */
  conv2d(kind: 0 | 1 | 2, heap: Uint8Array | ArrayBuffer, geom: Float64Array, offsets: Float64Array, epilogue?: Float64Array): void;
  /**
   * Batched matmul on stored (row-major) shapes of equal rank with broadcast batch dims; offsets [a, b, out, bias?, prelu?].
   * epilogue: [act, alpha, rank, hasBias, biasDims x rank, hasPrelu, preluDims x rank].
   */
  matmul(heap: Uint8Array | ArrayBuffer, aShape: Float64Array, bShape: Float64Array, transposeA: boolean, transposeB: boolean,
    offsets: Float64Array, epilogue?: Float64Array): void;
  /** Best-of-reps GFLOP/s of dnnl_sgemm on n x n x n (one warm-up). */
  benchSgemm(n: number, reps: number): number;
  /** impl_info_str() of the primitive run last (e.g. 'brgconv:avx512_core', 'jit:avx2'). */
  lastImpl(): string;
  clearCache(): void;
  cacheSize(): number;
}

export interface NativeLoad { addon: NativeAddon | null; error?: string; }

/** Kernels registerNativeKernels overrides on the 'wasm' backend. */
export const NATIVE_KERNELS = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'FusedConv2D', 'BatchMatMul', '_FusedMatMul'] as const;
export type NativeKernelName = typeof NATIVE_KERNELS[number];

/** Calls per kernel: computed natively vs delegated to the kernel that was registered before (wasm or fallback). */
export const nativeStats: Record<string, { native: number; fallback: number; lastFallback?: string }> = {};

function shortReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const first = msg.split('\n')[0]!.trim();
  const so = /([\w.+-]+\.so(?:\.\d+)*): cannot open shared object file/.exec(first);
  if (so) return `${so[1]} not found (apt-get install libdnnl2)`;
  return first.length > 160 ? first.slice(0, 157) + '...' : first;
}

let loaded: NativeLoad | null = null;

/** Loads the addon; never throws. MEDDIFF_NATIVE=0 forces it off. */
export function loadNativeAddon(): NativeLoad {
  if (process.env.MEDDIFF_NATIVE === '0') return { addon: null, error: 'disabled by MEDDIFF_NATIVE=0' };
  if (loaded) return loaded;
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    return { addon: null, error: file === NATIVE_ADDON_PATH ? "native/build/Release/meddiff_native.node not built (run 'npm run build:native')"
      : `MEDDIFF_NATIVE_ADDON=${file} does not exist (unset it to use native/build)` };
  }
  try {
    const addon = require(file) as NativeAddon;
    if (typeof addon.conv2d !== 'function' || typeof addon.matmul !== 'function') {
      return { addon: null, error: 'meddiff_native.node is stale (missing conv2d/matmul); rebuild with npm run build:native' };
    }
    addon.version();
    loaded = { addon };
    return loaded;
  } catch (e) {
    return { addon: null, error: shortReason(e) };
  }
}

// ------------------------------------------------------------------------------------------------
// Kernel plumbing

/** The parts of tfjs-backend-wasm's BackendWasm used here. */
interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number | null } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}
type KernelArgs = Parameters<tf.KernelFunc>[0];
type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

const ACT_CODES: Record<string, number> = { linear: 0, relu: 1, relu6: 2, prelu: 3, leakyrelu: 4, sigmoid: 5, elu: 6 };

/** Thrown by a native kernel for a case it does not handle; the previous kernel is used instead. */
class Unsupported extends Error {}

const originals = new Map<string, tf.KernelConfig | null>();

function offsetOf(be: WasmBackendLike, t: tf.TensorInfo, what: string): number {
  const d = be.dataIdMap.get(t.dataId);
  if (!d || d.memoryOffset == null) throw new Unsupported(`${what}: no wasm memory`);
  return d.memoryOffset >>> 0;
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Left-pads `shape` with 1s to `rank`; null unless it broadcasts to `out` (each dim 1 or equal). */
function broadcastDims(shape: readonly number[], out: readonly number[]): number[] | null {
  if (shape.length > out.length) {
    // leading dims must be 1
    if (shape.slice(0, shape.length - out.length).some((d) => d !== 1)) return null;
    shape = shape.slice(shape.length - out.length);
  }
  const d = [...new Array<number>(out.length - shape.length).fill(1), ...shape];
  return d.every((v, i) => v === 1 || v === out[i]) ? d : null;
}

/** [act, alpha, rank, hasBias, biasDims..., hasPrelu, preluDims...] or undefined for linear without bias. */
function epilogue(outShape: readonly number[], activation: string | undefined, alpha: number | undefined,
  bias: tf.TensorInfo | undefined, prelu: tf.TensorInfo | undefined): Float64Array | undefined {
  const act = activation ?? 'linear';
  const code = ACT_CODES[act];
  if (code === undefined) {
    throw new Error(`meddiff native: activation '${act}' is not supported (supported: ${Object.keys(ACT_CODES).join(', ')})`);
  }
  if (code === 0 && !bias) return undefined;
  const e: number[] = [code, alpha ?? 0.2, outShape.length];
  if (bias) {
    if (bias.dtype !== 'float32') throw new Unsupported('bias dtype');
    const d = broadcastDims(bias.shape, outShape);
    if (!d) throw new Unsupported(`bias shape ${bias.shape} does not broadcast to ${outShape}`);
    e.push(1, ...d);
  } else e.push(0);
  if (code === ACT_CODES.prelu) {
    if (!prelu) throw new Error('meddiff native: prelu activation without preluActivationWeights');
    if (prelu.dtype !== 'float32') throw new Unsupported('prelu dtype');
    const d = broadcastDims(prelu.shape, outShape);
    if (!d) throw new Unsupported(`prelu weights shape ${prelu.shape} does not broadcast to ${outShape}`);
    e.push(1, ...d);
  } else e.push(0);
  return new Float64Array(e);
}

/** Geometry for the addon; throws Unsupported when oneDNN cannot express it (the previous kernel is used). */
function convGeom(info: Conv2DInfo): Float64Array {
  const { batchSize, inHeight, inWidth, inChannels, filterHeight, filterWidth, outChannels, outHeight, outWidth,
    strideHeight, strideWidth, dilationHeight, dilationWidth, padInfo } = info;
  const { top, left } = padInfo;
  let { bottom, right } = padInfo;
  const effH = (filterHeight - 1) * dilationHeight + 1;
  const effW = (filterWidth - 1) * dilationWidth + 1;
  // oneDNN requires OH == floor((IH + pt + pb - effKH) / sh) + 1; tf's padding (e.g. with a 'ceil' rounding mode)
  // may disagree, so derive the bottom/right padding from the output size when needed.
  if (Math.floor((inHeight + top + bottom - effH) / strideHeight) + 1 !== outHeight) bottom = (outHeight - 1) * strideHeight + effH - inHeight - top;
  if (Math.floor((inWidth + left + right - effW) / strideWidth) + 1 !== outWidth) right = (outWidth - 1) * strideWidth + effW - inWidth - left;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) throw new Unsupported('negative padding');
  if ([batchSize, inHeight, inWidth, inChannels, outChannels, outHeight, outWidth].some((v) => v < 1)) throw new Unsupported('empty tensor');
  return new Float64Array([batchSize, inHeight, inWidth, inChannels, filterHeight, filterWidth, outChannels, outHeight, outWidth,
    strideHeight, strideWidth, dilationHeight, dilationWidth, top, left, bottom, right]);
}

function checkNHWC(dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') throw new Unsupported(`dataFormat ${String(dataFormat)} (only NHWC is native)`);
}

function f32(...ts: Array<tf.TensorInfo | undefined>): void {
  for (const t of ts) if (t && t.dtype !== 'float32') throw new Unsupported(`dtype ${t.dtype}`);
}

/**
 * Runs `compute` (see runNative); on Unsupported, or on an error from the addon (its output already freed),
 * delegates to the kernel registered before (wasm's own or a wasm_kernels.ts fallback) and counts it in nativeStats.
 */
function withFallback(name: string, compute: (args: KernelArgs, be: WasmBackendLike) => tf.TensorInfo): tf.KernelFunc {
  const stats = (nativeStats[name] ??= { native: 0, fallback: 0 });
  const fn = (args: KernelArgs) => {
    const be = args.backend as WasmBackendLike;
    let why: string;
    try {
      const out = compute(args, be);
      stats.native++;
      return out;
    } catch (e) {
      why = e instanceof Error ? e.message : String(e);
      if (!(e instanceof Unsupported) && !/^(oneDNN|meddiff_native):/.test(why)) throw e;
    }
    const orig = originals.get(name);
    if (!orig) throw new Error(`meddiff native ${name}: unsupported case (${why}) and no wasm kernel to fall back to`);
    stats.fallback++;
    stats.lastFallback = why;
    return orig.kernelFunc(args);
  };
  Object.defineProperty(fn, NATIVE_KERNEL_MARK, { value: true });
  return fn;
}

/**
 * Resolves the inputs' byte offsets (this may move data in from another backend, which allocates), then
 * allocates the output, then reads HEAPU8 (the heap may have grown), then runs `call`. Frees the output if
 * the call throws. Missing optional inputs get offset 0.
 */
function runNative(be: WasmBackendLike, outShape: number[], inputs: Array<tf.TensorInfo | undefined>,
  call: (heap: Uint8Array, offsets: Float64Array) => void): tf.TensorInfo {
  const offs = inputs.map((t, i) => (t ? offsetOf(be, t, `input ${i}`) : 0));
  const out = be.makeOutput(outShape, 'float32');
  try {
    // inputs first, then the output: [in0, in1, out, in2, in3...] is what the addon expects
    const ordered = new Float64Array([offs[0]!, offs[1]!, offsetOf(be, out, 'out'), ...offs.slice(2)]);
    call(be.wasm.HEAPU8, ordered);
  } catch (e) {
    be.disposeData(out.dataId, true);
    throw e;
  }
  return out;
}

function conv2dKernel(addon: NativeAddon, fused: boolean) {
  return (args: KernelArgs, be: WasmBackendLike): tf.TensorInfo => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const a = (args.attrs ?? {}) as Record<string, unknown>;
    if (!x || !filter) throw new Error('Conv2D: missing x or filter');
    checkNHWC(a.dataFormat);
    f32(x, filter, bias, preluActivationWeights);
    if (x.shape.length !== 4 || filter.shape.length !== 4) throw new Unsupported('rank');
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
      a.strides as [number, number], (a.dilations ?? 1) as [number, number], a.pad as 'same', a.dimRoundingMode as 'floor' | undefined,
      false, 'channelsLast');
    if (info.inChannels !== filter.shape[2]) throw new Unsupported('channel mismatch');
    const geom = convGeom(info);
    const epi = fused ? epilogue(info.outShape, a.activation as string | undefined, a.leakyreluAlpha as number | undefined,
      bias, a.activation === 'prelu' ? preluActivationWeights : undefined) : undefined;
    const extra = [epi && bias ? bias : undefined, epi && a.activation === 'prelu' ? preluActivationWeights : undefined];
    return runNative(be, info.outShape, [x, filter, ...extra], (heap, offs) => addon.conv2d(0, heap, geom, offs, epi));
  };
}

/**
 * Gradients under bf16 forward would be the gradients of a different (rounded) network: bf16 is an
 * inference setting, so the backward kernels refuse it instead of silently mixing precisions.
 */
function refuseBf16Backward(addon: NativeAddon, kernel: string): void {
  if (typeof addon.getPrecision === 'function' && addon.getPrecision() === 'bf16') {
    throw new Error(`meddiff native ${kernel}: precision bf16 is for inference only (gradients need fp32 forward passes); ` +
      "the trainers switch to fp32 themselves; a gradient computed by hand needs setPrecision('fp32') or withPrecision('fp32', fn)");
  }
}

function conv2dBackpropInputKernel(addon: NativeAddon) {
  return (args: KernelArgs, be: WasmBackendLike): tf.TensorInfo => {
    refuseBf16Backward(addon, 'Conv2DBackpropInput');
    const { dy, filter } = args.inputs as Record<string, tf.TensorInfo>;
    const a = (args.attrs ?? {}) as Record<string, unknown>;
    checkNHWC(a.dataFormat);
    f32(dy, filter);
    const inputShape = a.inputShape as [number, number, number, number];
    if (inputShape.length !== 4 || dy.shape.length !== 4 || filter.shape.length !== 4) throw new Unsupported('rank');
    const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], a.strides as [number, number],
      1, a.pad as 'same', a.dimRoundingMode as 'floor' | undefined, false, 'channelsLast');
    if (info.outShape.some((d, i) => d !== dy.shape[i])) throw new Unsupported(`dy shape ${dy.shape} != ${info.outShape}`);
    const geom = convGeom(info);
    return runNative(be, [...inputShape], [dy, filter], (heap, offs) => addon.conv2d(1, heap, geom, offs));
  };
}

function conv2dBackpropFilterKernel(addon: NativeAddon) {
  return (args: KernelArgs, be: WasmBackendLike): tf.TensorInfo => {
    refuseBf16Backward(addon, 'Conv2DBackpropFilter');
    const { x, dy } = args.inputs as Record<string, tf.TensorInfo>;
    const a = (args.attrs ?? {}) as Record<string, unknown>;
    checkNHWC(a.dataFormat);
    f32(x, dy);
    const filterShape = a.filterShape as [number, number, number, number];
    if (filterShape.length !== 4 || dy.shape.length !== 4 || x.shape.length !== 4) throw new Unsupported('rank');
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, a.strides as [number, number],
      1, a.pad as 'same', a.dimRoundingMode as 'floor' | undefined, false, 'channelsLast');
    if (info.outShape.some((d, i) => d !== dy.shape[i])) throw new Unsupported(`dy shape ${dy.shape} != ${info.outShape}`);
    const geom = convGeom(info);
    return runNative(be, [...filterShape], [x, dy], (heap, offs) => addon.conv2d(2, heap, geom, offs));
  };
}

function matmulKernel(addon: NativeAddon, fused: boolean) {
  return (args: KernelArgs, be: WasmBackendLike): tf.TensorInfo => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const at = (args.attrs ?? {}) as Record<string, unknown>;
    if (!a || !b) throw new Error('BatchMatMul: missing a or b');
    f32(a, b, bias, preluActivationWeights);
    const ta = Boolean(at.transposeA), tb = Boolean(at.transposeB);
    if (a.shape.length < 2 || b.shape.length < 2) throw new Unsupported('rank < 2');
    const R = Math.max(a.shape.length, b.shape.length);
    const aS = [...new Array<number>(R - a.shape.length).fill(1), ...a.shape];
    const bS = [...new Array<number>(R - b.shape.length).fill(1), ...b.shape];
    const batch: number[] = [];
    for (let i = 0; i < R - 2; i++) {
      if (aS[i] !== bS[i] && aS[i] !== 1 && bS[i] !== 1) {
        throw new Error(`Error in matMul: batch dims of shapes ${a.shape} and ${b.shape} do not broadcast`);
      }
      batch.push(Math.max(aS[i]!, bS[i]!));
    }
    const M = ta ? aS[R - 1]! : aS[R - 2]!, K = ta ? aS[R - 2]! : aS[R - 1]!;
    const K2 = tb ? bS[R - 1]! : bS[R - 2]!, N = tb ? bS[R - 2]! : bS[R - 1]!;
    if (K !== K2) {
      throw new Error(`Error in matMul: inner shapes (${K}) and (${K2}) of Tensors with shapes ${a.shape} and ${b.shape} and ` +
        `transposeA=${ta} and transposeB=${tb} must match.`);
    }
    const outShape = [...batch, M, N];
    if (size(aS) === 0 || size(bS) === 0) throw new Unsupported('empty tensor');
    const epi = fused ? epilogue(outShape, at.activation as string | undefined, at.leakyreluAlpha as number | undefined,
      bias, at.activation === 'prelu' ? preluActivationWeights : undefined) : undefined;
    const extra = [epi && bias ? bias : undefined, epi && at.activation === 'prelu' ? preluActivationWeights : undefined];
    const aShape = new Float64Array(aS), bShape = new Float64Array(bS);
    return runNative(be, outShape, [a, b, ...extra], (heap, offs) => addon.matmul(heap, aShape, bShape, ta, tb, offs, epi));
  };
}

/**
 * Sets the addon's thread count and registers the native kernels over the wasm backend's (the kernel
 * registered before, wasm's own or a fallback from wasm_kernels.ts, is kept for cases the addon does not
 * handle: NCHW, non-float32, empty tensors). Returns the names registered.
 */
export function registerNativeKernels(addon: NativeAddon, opts: { threads: number }): string[] {
  addon.setThreads(Math.max(1, Math.floor(opts.threads)));
  const impls: Record<NativeKernelName, (args: KernelArgs, be: WasmBackendLike) => tf.TensorInfo> = {
    Conv2D: conv2dKernel(addon, false),
    FusedConv2D: conv2dKernel(addon, true),
    Conv2DBackpropInput: conv2dBackpropInputKernel(addon),
    Conv2DBackpropFilter: conv2dBackpropFilterKernel(addon),
    BatchMatMul: matmulKernel(addon, false),
    _FusedMatMul: matmulKernel(addon, true),
  };
  const names: string[] = [];
  for (const name of NATIVE_KERNELS) {
    if (!originals.has(name)) originals.set(name, tf.getKernel(name, 'wasm') ?? null);
    if (tf.getKernel(name, 'wasm')) tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: withFallback(name, impls[name]) });
    names.push(name);
  }
  return names;
}
