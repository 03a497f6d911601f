import os from 'node:os';
import { tf } from './tf.ts';
import { loadNativeAddon, registerNativeKernels, PRECISION_CHOICES, type NativeAddon, type Precision, type PrecisionChoice } from './native.ts';
import { registerWasmFallbackKernels } from './wasm_kernels.ts';
import { registerFusedKernels, registerColumnSum, registerZeroCopyIdentity, type GroupNormAddon } from './fused.ts';
import { registerTransformerKernels, type TransformerAddon } from './transformer.ts';
import { registerAdamKernel, type AdamAddon } from './adam.ts';

export { tf } from './tf.ts';
export type { Tensor, Variable } from './tf.ts';

export type BackendName = 'native' | 'wasm' | 'cpu';
export const BACKENDS: readonly BackendName[] = ['native', 'wasm', 'cpu'];
export { PRECISIONS, PRECISION_CHOICES, type Precision, type PrecisionChoice } from './native.ts';
/**
 * 'auto': bf16 inference where the native backend runs on a CPU with AVX512_BF16, fp32 elsewhere. bf16
 * passed the agreement check on the whole PneumoniaMNIST test split (624/624 decisions, accuracy
 * unchanged; docs/performance.md, "bf16 inference"). Training always runs fp32 (withPrecision).
 */
export const DEFAULT_PRECISION: PrecisionChoice = 'auto';

export interface RuntimeOptions {
  /** 'auto' (default) picks the fastest that works: native, then wasm. */
  backend?: BackendName | 'auto';
  /** Threads for the native kernels; default MEDDIFF_THREADS or all cores. */
  threads?: number;
  /**
   * Inference precision of the native conv/matmul kernels (env MEDDIFF_PRECISION): 'auto' (default: bf16 where
   * the native backend runs on a CPU with AVX512_BF16, else fp32), 'fp32', or 'bf16' (refused without the native
   * backend or the CPU support). bf16 is for inference only: the trainers run fp32 whatever is set here.
   */
  precision?: PrecisionChoice;
  /** The one-line notice saying which backend is active and why: true prints it to stderr (the CLI does), a function receives it; default: silent. */
  log?: boolean | ((line: string) => void);
}

export interface RuntimeInfo {
  backend: BackendName;
  /** The tfjs backend underneath ('wasm' for both native and wasm). */
  tfBackend: string;
  threads: number;
  /** Inference precision of the native conv/matmul kernels now active (always 'fp32' on wasm/cpu). */
  precision: Precision;
  /** Why: 'requested', or 'auto: …' saying what decided it. */
  precisionReason: string;
  reason: string;
  simd: boolean;
  nativeKernels: string[];
  fallbackKernels: string[];
  libraries: Record<string, string>;
  nativeError?: string;
}

let current: RuntimeInfo | null = null;
let nativeAddon: NativeAddon | null = null;

function parseBackend(v: string | undefined, source: string): BackendName | 'auto' | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'auto' || (BACKENDS as readonly string[]).includes(v)) return v as BackendName | 'auto';
  throw new Error(`${source}: unknown backend '${v}'; allowed: auto, ${BACKENDS.join(', ')}`);
}

function parseThreads(v: string | number | undefined, source: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${source}: threads must be a positive integer, got '${v}'`);
  return n;
}

/** Validates a precision; the error names the source (option or env variable) and the allowed values. */
export function parsePrecision(v: string | undefined, source: string): PrecisionChoice | undefined {
  if (v === undefined || v === '') return undefined;
  if ((PRECISION_CHOICES as readonly string[]).includes(v)) return v as PrecisionChoice;
  throw new Error(`${source}: unknown precision '${v}'; allowed: ${PRECISION_CHOICES.join(', ')}`);
}

/** What 'auto' means on the active runtime, and why. */
function resolveAuto(rt: RuntimeInfo): { precision: Precision; reason: string } {
  if (rt.backend !== 'native') return { precision: 'fp32', reason: `auto: fp32 on the ${rt.backend} backend` };
  if (typeof nativeAddon?.setPrecision !== 'function') return { precision: 'fp32', reason: 'auto: fp32 (the native addon predates bf16; npm run build:native)' };
  if (rt.libraries.bf16 !== 'yes') return { precision: 'fp32', reason: 'auto: fp32 (this CPU has no AVX512_BF16)' };
  return { precision: 'bf16', reason: 'auto: bf16 (AVX512_BF16; fp32 with --precision fp32)' };
}

/**
 * Switches the native kernels' inference precision (primitives are cached per precision, so switching back
 * and forth is cheap and fp32 results stay bit-identical). Refuses bf16 on wasm/cpu and on CPUs without bf16.
 */
export function setPrecision(choice: PrecisionChoice): RuntimeInfo {
  parsePrecision(choice, 'precision');
  if (!current) throw new Error('setPrecision: call initRuntime first');
  let { precision, reason } = choice === 'auto' ? resolveAuto(current) : { precision: choice, reason: 'requested' };
  if (precision === 'bf16') {
    if (current.backend !== 'native') {
      throw new Error(`precision bf16 is only supported by the native backend (oneDNN); the active backend is '${current.backend}'` +
        `${current.nativeError ? ` (${current.nativeError})` : ''}. Use precision fp32, or --backend native`);
    }
    if (typeof nativeAddon?.setPrecision !== 'function') {
      throw new Error("precision bf16: the native addon predates it (no setPrecision); rebuild it with 'npm run build:native'");
    }
  }
  if (current.backend === 'native' && typeof nativeAddon?.setPrecision === 'function') {
    try { nativeAddon.setPrecision(precision); } catch (e) {
      // The addon may still refuse bf16 (e.g. DNNL_MAX_CPU_ISA below AVX512_BF16): 'auto' then means fp32.
      if (choice !== 'auto') throw e;
      precision = 'fp32';
      reason = `auto: fp32 (bf16 refused: ${(e as Error).message.split('.')[0]})`;
      nativeAddon.setPrecision(precision);
    }
  }
  current.precision = precision;  // in place: callers holding the RuntimeInfo see the switch
  current.precisionReason = reason;
  return current;
}

/**
 * Run `fn` at one precision and restore the previous one after (also when it throws; for a promise,
 * when it settles). The trainers run under withPrecision('fp32', …): gradients need fp32 forward passes.
 */
export function withPrecision<T>(precision: Precision, fn: () => T): T {
  if (!current || current.precision === precision) return fn();
  const rt = current, before = { precision: rt.precision, reason: rt.precisionReason };
  const restore = () => { setPrecision(before.precision); rt.precisionReason = before.reason; };
  setPrecision(precision);
  let out: T;
  try { out = fn(); } catch (e) { restore(); throw e; }
  if (out instanceof Promise) return out.finally(restore) as T;
  restore();
  return out;
}

/** The active runtime, or null before initRuntime. */
export function runtimeInfo(): RuntimeInfo | null { return current; }

/** The loaded native addon (null on the wasm/cpu paths). */
export function getNativeAddon(): NativeAddon | null { return current?.backend === 'native' ? nativeAddon : null; }

/**
 * Select and initialise the tfjs backend. Idempotent for the same choice; a different choice
 * in the same process is refused because kernel overrides are process-global.
 */
export async function initRuntime(opts: RuntimeOptions = {}): Promise<RuntimeInfo> {
  const requested = opts.backend ?? parseBackend(process.env.MEDDIFF_BACKEND, 'MEDDIFF_BACKEND') ?? 'auto';
  parseBackend(requested, '--backend');
  const threads = parseThreads(opts.threads, 'threads') ?? parseThreads(process.env.MEDDIFF_THREADS, 'MEDDIFF_THREADS')
    ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  const asked = opts.precision ?? parsePrecision(process.env.MEDDIFF_PRECISION, 'MEDDIFF_PRECISION');
  parsePrecision(asked, '--precision');
  if (current) {
    // Only an explicit option switches here: the environment was read at the first call, and a later
    // call must not undo an earlier setPrecision (or a trainer's fp32).
    if (requested === 'auto' || requested === current.backend) return opts.precision === undefined || opts.precision === current.precision ? current : setPrecision(opts.precision);
    throw new Error(`runtime already initialised with backend '${current.backend}'; cannot switch to '${requested}' in the same process`);
  }
  let backend: BackendName;
  let reason: string;
  let nativeError: string | undefined;
  let nativeKernels: string[] = [];
  let fallbackKernels: string[] = [];
  let libraries: Record<string, string> = {};
  if (requested === 'cpu') {
    await tf.setBackend('cpu');
    backend = 'cpu';
    reason = 'requested (reference only: slow)';
  } else {
    await tf.setBackend('wasm');
    await tf.ready();
    fallbackKernels = registerWasmFallbackKernels();
    if (requested === 'wasm') {
      backend = 'wasm';
      reason = 'requested';
    } else {
      const load = loadNativeAddon();
      if (load.addon) {
        nativeAddon = load.addon;
        nativeKernels = registerNativeKernels(load.addon, { threads });
        libraries = load.addon.version();
        backend = 'native';
        reason = requested === 'native' ? 'requested' : 'native addon loaded';
      } else {
        nativeError = load.error;
        if (requested === 'native') throw new Error(`backend 'native' requested but the addon is unavailable: ${load.error}. Run 'npm run build:native' (needs g++ and libdnnl-dev) or use --backend wasm`);
        backend = 'wasm';
        reason = `native addon unavailable (${load.error}); using pure wasm`;
      }
    }
  }
  // MEDDIFF_SHARE_IDENTITY=0 keeps wasm's copying Identity/Cast (for A/B measurements)
  if (backend !== 'cpu') fallbackKernels.push(...registerColumnSum(), ...(process.env.MEDDIFF_SHARE_IDENTITY === '0' ? [] : registerZeroCopyIdentity()));
  if (backend !== 'cpu') fallbackKernels.push(...registerFusedKernels(backend === 'native' ? (nativeAddon as unknown as GroupNormAddon) : null));
  if (backend !== 'cpu') fallbackKernels.push(...registerTransformerKernels(backend === 'native' ? (nativeAddon as unknown as TransformerAddon) : null));
  if (backend !== 'cpu') fallbackKernels.push(...registerAdamKernel(backend === 'native' ? (nativeAddon as unknown as AdamAddon) : null));
  const simd = backend !== 'cpu' && Boolean(tf.env().getBool('WASM_HAS_SIMD_SUPPORT'));
  current = {
    backend, tfBackend: tf.getBackend(), threads: backend === 'native' ? threads : 1, precision: 'fp32', precisionReason: 'default', reason, simd,
    nativeKernels, fallbackKernels, libraries, nativeError,
  };
  setPrecision(asked ?? DEFAULT_PRECISION);
  const log = opts.log ?? false;
  if (log) {
    const line = `meddiff: backend ${backend} (${reason}), ${current.threads} thread${current.threads > 1 ? 's' : ''}` +
      (current.precision !== 'fp32' ? `, precision ${current.precision}` : '');
    if (typeof log === 'function') log(line); else process.stderr.write(line + '\n');
  }
  return current;
}

export { groupNorm } from './fused.ts';
export { adaLayerNorm, gatedAdd, gelu } from './transformer.ts';
export { adamStepFused, fusedAdamAvailable, useFusedAdam, type AdamScalars } from './adam.ts';
export { tensorHeapCapBytes, WASM_HEAP_PLAN_BYTES } from './memory.ts';
