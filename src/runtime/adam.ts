// The Adam + EMA update of one parameter as a single native pass (native/src/optim.cc), where the
// addon has it. src/train/optim.ts falls back to its composite tfjs ops elsewhere (pure wasm, cpu):
// both give bit-identical results (test/train/fused-adam.test.ts).
import { tf, type Tensor } from './tf.ts';
import { offset, type HeapBackend } from './fused.ts';

export const ADAM_KERNEL = 'MeddiffAdamStep';

export interface AdamAddon {
  /** dims [n, useScale, useDecay]; scalars (float32 values) see AdamScalars; offsets [p, g, m, v, ema, pOut, mOut, vOut, emaOut] */
  adamStep?(heap: ArrayBuffer, dims: Float64Array, scalars: Float64Array, offsets: Float64Array): void;
}

/** What one update uses; every value is rounded to float32 first, as tfjs does with a number operand. */
export interface AdamScalars {
  /** Gradient clipping factor (1: none). */
  scale: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  /** 1 - beta2^t */
  bc2: number;
  eps: number;
  /** lr / (1 - beta1^t) */
  stepSize: number;
  /** EMA of the weights in the same pass: none, copy the new weights, or blend with decay d. */
  ema: { mode: 'none' } | { mode: 'copy' } | { mode: 'blend'; decay: number };
}

let enabled = false;
let wanted = process.env.MEDDIFF_FUSED_ADAM !== '0';

/** Whether adamStepFused runs (the native backend, with an addon that has adamStep, and not switched off). */
export function fusedAdamAvailable(): boolean { return enabled && wanted && tf.getBackend() === 'wasm'; }

/** For tests and A/B benchmarks: false sends Adam to its composite ops (env MEDDIFF_FUSED_ADAM=0 at start). */
export function useFusedAdam(on: boolean): void { wanted = on; }

/** Register the kernel when the addon has it; returns the names registered (for `meddiff info`). */
export function registerAdamKernel(addon: AdamAddon | null): string[] {
  enabled = false;
  if (tf.getKernel(ADAM_KERNEL, 'wasm')) tf.unregisterKernel(ADAM_KERNEL, 'wasm');
  const step = addon?.adamStep?.bind(addon);
  if (!step) return [];
  tf.registerKernel({
    kernelName: ADAM_KERNEL, backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as HeapBackend;
      const { p, g, m, v, ema } = inputs as Record<string, tf.TensorInfo | undefined>;
      const a = attrs as unknown as { dims: number[]; scalars: number[] };
      const shape = [...p!.shape];
      const outs = [be.makeOutput(shape, 'float32'), be.makeOutput(shape, 'float32'), be.makeOutput(shape, 'float32')];
      if (ema) outs.push(be.makeOutput(shape, 'float32'));
      const offs = Float64Array.of(offset(be, p!, ADAM_KERNEL), offset(be, g!, ADAM_KERNEL), offset(be, m!, ADAM_KERNEL), offset(be, v!, ADAM_KERNEL),
        ema ? offset(be, ema, ADAM_KERNEL) : 0, ...outs.map((o) => offset(be, o, ADAM_KERNEL)), ...(ema ? [] : [0]));
      step(be.wasm.HEAPF32.buffer as ArrayBuffer, Float64Array.from(a.dims), Float64Array.from(a.scalars), offs);
      return outs;
    },
  });
  enabled = true;
  return [`${ADAM_KERNEL} (native)`];
}

/**
 * New values of the parameter, its two moments and (when s.ema is not 'none') its EMA, in one pass.
 * `ema` must be given exactly when s.ema.mode is not 'none'.
 */
export function adamStepFused(p: Tensor, g: Tensor, m: Tensor, v: Tensor, ema: Tensor | null, s: AdamScalars): { p: Tensor; m: Tensor; v: Tensor; ema: Tensor | null } {
  const f = Math.fround;
  const mode = s.ema.mode === 'none' ? 0 : s.ema.mode === 'copy' ? 1 : 2;
  if ((mode === 0) !== (ema === null)) throw new Error('adamStepFused: pass the EMA tensor exactly when an EMA update is asked');
  const d = s.ema.mode === 'blend' ? s.ema.decay : 0;
  const scalars = [f(s.scale), f(s.weightDecay), f(s.beta1), f(1 - s.beta1), f(s.beta2), f(1 - s.beta2), f(s.bc2), f(s.eps), f(s.stepSize), mode, f(d), f(1 - d)];
  const dims = [p.size, s.scale !== 1 ? 1 : 0, s.weightDecay ? 1 : 0];
  const inputs = { p, g, m, v, ...(ema ? { ema } : {}) } as unknown as tf.NamedTensorMap;
  const out = tf.engine().runKernel(ADAM_KERNEL, inputs, { dims, scalars } as unknown as tf.NamedAttrMap) as Tensor[];
  return { p: out[0]!, m: out[1]!, v: out[2]!, ema: out[3] ?? null };
}
