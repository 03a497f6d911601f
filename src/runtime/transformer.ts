// Fused kernels of a DiT block, each with its gradient, as custom kernels on the wasm backend (like
// the fused GroupNorm in fused.ts): LayerNorm with DiT's adaptive modulation (adaLN), GELU (tanh
// approximation) and the gated residual x + gate·h. As composite tfjs ops they were the elementwise
// part of a DiT step: the GELU alone is nine ops forward, each Mul's gradient copied its other
// operand, and the gate's gradient sums over the token axis, which wasm's Sum does by transposing.
// Fused: one pass each way, saving only what the gradient reads. bench:unet --composite measures it.
// Native code when the addon has it, plain JS loops otherwise; composite ops on other backends.
import { tf, type Tensor } from './tf.ts';
import { heapView, offset, type HeapBackend } from './fused.ts';

export const LAYERNORM_KERNEL = 'MeddiffLayerNorm';
export const LAYERNORM_GRAD_KERNEL = 'MeddiffLayerNormGrad';
export const GELU_KERNEL = 'MeddiffGelu';
export const GELU_GRAD_KERNEL = 'MeddiffGeluGrad';
export const GATED_ADD_KERNEL = 'MeddiffGatedAdd';
export const GATED_ADD_GRAD_KERNEL = 'MeddiffGatedAddGrad';

/** Native implementation hooks (same math, multi-threaded); absent → the JS loops below. */
export interface TransformerAddon {
  /** dims [R, D, rowsPerSample, eps, modulated]; offsets [x, shift, scale, y, stats] */
  layerNormForward?(heap: ArrayBuffer, dims: Float64Array, offsets: Float64Array): void;
  /** dims [R, D, rowsPerSample, modulated]; offsets [dy, x, scale, stats, dx, dshift, dscale] */
  layerNormBackward?(heap: ArrayBuffer, dims: Float64Array, offsets: Float64Array): void;
  /** dims [n]; offsets [x, y] */
  geluForward?(heap: ArrayBuffer, dims: Float64Array, offsets: Float64Array): void;
  /** dims [n]; offsets [dy, x, dx] */
  geluBackward?(heap: ArrayBuffer, dims: Float64Array, offsets: Float64Array): void;
  /** dims [R, D, rowsPerSample]; offsets [x, gate, h, y] */
  gatedAddForward?(heap: ArrayBuffer, dims: Float64Array, offsets: Float64Array): void;
  /** dims [R, D, rowsPerSample]; offsets [dy, gate, h, dgate, dh] */
  gatedAddBackward?(heap: ArrayBuffer, dims: Float64Array, offsets: Float64Array): void;
}

const GELU_K = Math.sqrt(2 / Math.PI), GELU_C = 0.044715;

/**
 * x: R rows of D → y = x̂·(1 + scale[b]) + shift[b] (b = row / rowsPerSample; x̂ alone when SH, SC
 * are null), stats [R, 2] = (mean, 1/σ). Two passes over each row: mean, then centred variance.
 */
export function layerNormForwardJs(X: Float32Array, SH: Float32Array | null, SC: Float32Array | null, Y: Float32Array, S: Float32Array,
  R: number, D: number, rowsPerSample: number, eps: number): void {
  for (let r = 0; r < R; r++) {
    const o = r * D;
    let sum = 0;
    for (let d = 0; d < D; d++) sum += X[o + d]!;
    const mean = sum / D;
    let sq = 0;
    for (let d = 0; d < D; d++) { const c = X[o + d]! - mean; sq += c * c; }
    const rstd = 1 / Math.sqrt(sq / D + eps);
    S[2 * r] = mean; S[2 * r + 1] = rstd;
    if (SH && SC) {
      const m = Math.floor(r / rowsPerSample) * D;
      for (let d = 0; d < D; d++) Y[o + d] = (X[o + d]! - mean) * rstd * (1 + SC[m + d]!) + SH[m + d]!;
    } else {
      for (let d = 0; d < D; d++) Y[o + d] = (X[o + d]! - mean) * rstd;
    }
  }
}

/** dy → dx (and dshift, dscale summed over each sample's rows when modulated). */
export function layerNormBackwardJs(DY: Float32Array, X: Float32Array, SC: Float32Array | null, S: Float32Array, DX: Float32Array,
  DSH: Float32Array | null, DSC: Float32Array | null, R: number, D: number, rowsPerSample: number): void {
  const g = new Float32Array(D), xh = new Float32Array(D);
  if (DSH && DSC) { DSH.fill(0); DSC.fill(0); }
  for (let r = 0; r < R; r++) {
    const o = r * D, mean = S[2 * r]!, rstd = S[2 * r + 1]!;
    const m = Math.floor(r / rowsPerSample) * D;
    let a1 = 0, a2 = 0;
    for (let d = 0; d < D; d++) {
      const dy = DY[o + d]!, xhat = (X[o + d]! - mean) * rstd;
      const gd = SC ? dy * (1 + SC[m + d]!) : dy;
      if (DSH && DSC) { DSH[m + d]! += dy; DSC[m + d]! += dy * xhat; }
      g[d] = gd; xh[d] = xhat; a1 += gd; a2 += gd * xhat;
    }
    a1 /= D; a2 /= D;
    for (let d = 0; d < D; d++) DX[o + d] = rstd * (g[d]! - a1 - xh[d]! * a2);
  }
}

/** tanh as the native kernel computes it (Eigen's odd 13/6 rational, clamped at ±9): the same numbers on both paths, and faster than Math.tanh. */
export function tanhApprox(u: number): number {
  const x = Math.min(Math.max(u, -9), 9), x2 = x * x;
  const p = ((((((-2.76076847742355e-16 * x2 + 2.00018790482477e-13) * x2 - 8.60467152213735e-11) * x2 + 5.12229709037114e-08) * x2
    + 1.48572235717979e-05) * x2 + 6.37261928875436e-04) * x2 + 4.89352455891786e-03) * x;
  const q = ((1.19825839466702e-06 * x2 + 1.18534705686654e-04) * x2 + 2.26843463243900e-03) * x2 + 4.89352518554385e-03;
  return p / q;
}

export function geluForwardJs(X: Float32Array, Y: Float32Array): void {
  for (let i = 0; i < X.length; i++) {
    const x = X[i]!;
    Y[i] = 0.5 * x * (1 + tanhApprox(GELU_K * (x + GELU_C * x * x * x)));
  }
}

export function geluBackwardJs(DY: Float32Array, X: Float32Array, DX: Float32Array): void {
  for (let i = 0; i < X.length; i++) {
    const x = X[i]!, t = tanhApprox(GELU_K * (x + GELU_C * x * x * x));
    DX[i] = DY[i]! * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_K * (1 + 3 * GELU_C * x * x));
  }
}

/** y = x + gate[b]·h (DiT's gated residual; b = row / rowsPerSample). */
export function gatedAddForwardJs(X: Float32Array, G: Float32Array, H: Float32Array, Y: Float32Array, R: number, D: number, rowsPerSample: number): void {
  for (let r = 0; r < R; r++) {
    const o = r * D, m = Math.floor(r / rowsPerSample) * D;
    for (let d = 0; d < D; d++) Y[o + d] = X[o + d]! + G[m + d]! * H[o + d]!;
  }
}

/** dy → dgate (Σ over each sample's rows of dy·h) and dh = dy·gate; dx is dy itself. */
export function gatedAddBackwardJs(DY: Float32Array, G: Float32Array, H: Float32Array, DG: Float32Array, DH: Float32Array, R: number, D: number, rowsPerSample: number): void {
  DG.fill(0);
  for (let r = 0; r < R; r++) {
    const o = r * D, m = Math.floor(r / rowsPerSample) * D;
    for (let d = 0; d < D; d++) { const dy = DY[o + d]!; DG[m + d]! += dy * H[o + d]!; DH[o + d] = dy * G[m + d]!; }
  }
}

let registeredFor: string | null = null;
let fusedEnabled = true;

/** For benchmarks (bench:unet --composite): false sends adaLayerNorm and gelu to the composite ops. */
export function useFusedTransformerKernels(on: boolean): void { fusedEnabled = on; }

/** Register the four kernels on the wasm backend (native code when the addon has it). */
export function registerTransformerKernels(addon: TransformerAddon | null): string[] {
  const nat = {
    lnF: addon?.layerNormForward?.bind(addon), lnB: addon?.layerNormBackward?.bind(addon),
    gF: addon?.geluForward?.bind(addon), gB: addon?.geluBackward?.bind(addon),
    aF: addon?.gatedAddForward?.bind(addon), aB: addon?.gatedAddBackward?.bind(addon),
  };
  const reg = (kernelName: string, kernelFunc: tf.KernelFunc) => {
    if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  };
  const heap = (be: HeapBackend) => be.wasm.HEAPF32.buffer as ArrayBuffer;
  reg(LAYERNORM_KERNEL, ({ inputs, backend, attrs }) => {
    const be = backend as unknown as HeapBackend;
    const { x, shift, scale } = inputs as Record<string, tf.TensorInfo | undefined>;
    const { eps } = attrs as unknown as { eps: number };
    const D = x!.shape[x!.shape.length - 1]!, R = x!.shape.reduce((a, b) => a * b, 1) / D;
    const mod = Boolean(shift && scale), perSample = mod ? R / shift!.shape[0]! : 1;
    // inputs resolved, then outputs allocated (the heap may grow), then the heap read
    const inOffs = [x!, ...(mod ? [shift!, scale!] : [])].map((t) => offset(be, t, LAYERNORM_KERNEL));
    const y = be.makeOutput([...x!.shape], 'float32');
    const stats = be.makeOutput([R, 2], 'float32');
    if (nat.lnF) {
      const offs = Float64Array.of(inOffs[0]!, inOffs[1] ?? 0, inOffs[2] ?? 0, offset(be, y), offset(be, stats));
      nat.lnF(heap(be), Float64Array.of(R, D, perSample, eps, mod ? 1 : 0), offs);
    } else {
      layerNormForwardJs(heapView(be, x!), mod ? heapView(be, shift!) : null, mod ? heapView(be, scale!) : null, heapView(be, y), heapView(be, stats), R, D, perSample, eps);
    }
    return [y, stats];
  });
  reg(LAYERNORM_GRAD_KERNEL, ({ inputs, backend }) => {
    const be = backend as unknown as HeapBackend;
    const { dy, x, scale, stats } = inputs as Record<string, tf.TensorInfo | undefined>;
    const D = x!.shape[x!.shape.length - 1]!, R = x!.shape.reduce((a, b) => a * b, 1) / D;
    const mod = Boolean(scale), B = mod ? scale!.shape[0]! : 0;
    const inOffs = [dy!, x!, stats!, ...(mod ? [scale!] : [])].map((t) => offset(be, t, LAYERNORM_GRAD_KERNEL));
    const dx = be.makeOutput([...x!.shape], 'float32');
    const dsh = mod ? be.makeOutput([B, D], 'float32') : null, dsc = mod ? be.makeOutput([B, D], 'float32') : null;
    if (nat.lnB) {
      const offs = Float64Array.of(inOffs[0]!, inOffs[1]!, inOffs[3] ?? 0, inOffs[2]!, offset(be, dx), dsh ? offset(be, dsh) : 0, dsc ? offset(be, dsc) : 0);
      nat.lnB(heap(be), Float64Array.of(R, D, mod ? R / B : 1, mod ? 1 : 0), offs);
    } else {
      layerNormBackwardJs(heapView(be, dy!), heapView(be, x!), mod ? heapView(be, scale!) : null, heapView(be, stats!), heapView(be, dx),
        dsh && heapView(be, dsh), dsc && heapView(be, dsc), R, D, mod ? R / B : 1);
    }
    return mod ? [dx, dsh!, dsc!] : [dx];
  });
  reg(GELU_KERNEL, ({ inputs, backend }) => {
    const be = backend as unknown as HeapBackend;
    const x = (inputs as Record<string, tf.TensorInfo>).x!;
    const xo = offset(be, x, GELU_KERNEL);
    const y = be.makeOutput([...x.shape], 'float32');
    if (nat.gF) nat.gF(heap(be), Float64Array.of(x.shape.reduce((a, b) => a * b, 1)), Float64Array.of(xo, offset(be, y)));
    else geluForwardJs(heapView(be, x), heapView(be, y));
    return y;
  });
  reg(GELU_GRAD_KERNEL, ({ inputs, backend }) => {
    const be = backend as unknown as HeapBackend;
    const { dy, x } = inputs as Record<string, tf.TensorInfo>;
    const offs = [dy!, x!].map((t) => offset(be, t, GELU_GRAD_KERNEL));
    const dx = be.makeOutput([...x!.shape], 'float32');
    if (nat.gB) nat.gB(heap(be), Float64Array.of(x!.shape.reduce((a, b) => a * b, 1)), Float64Array.of(offs[0]!, offs[1]!, offset(be, dx)));
    else geluBackwardJs(heapView(be, dy!), heapView(be, x!), heapView(be, dx));
    return dx;
  });
  const gaDims = (h: tf.TensorInfo, g: tf.TensorInfo) => {
    const D = h.shape[h.shape.length - 1]!, R = h.shape.reduce((a, b) => a * b, 1) / D;
    return { R, D, per: R / g.shape[0]! };
  };
  reg(GATED_ADD_KERNEL, ({ inputs, backend }) => {
    const be = backend as unknown as HeapBackend;
    const { x, gate, h } = inputs as Record<string, tf.TensorInfo>;
    const { R, D, per } = gaDims(h!, gate!);
    const offs = [x!, gate!, h!].map((t) => offset(be, t, GATED_ADD_KERNEL));
    const y = be.makeOutput([...x!.shape], 'float32');
    if (nat.aF) nat.aF(heap(be), Float64Array.of(R, D, per), Float64Array.of(...offs, offset(be, y)));
    else gatedAddForwardJs(heapView(be, x!), heapView(be, gate!), heapView(be, h!), heapView(be, y), R, D, per);
    return y;
  });
  reg(GATED_ADD_GRAD_KERNEL, ({ inputs, backend }) => {
    const be = backend as unknown as HeapBackend;
    const { dy, gate, h } = inputs as Record<string, tf.TensorInfo>;
    const { R, D, per } = gaDims(h!, gate!);
    const offs = [dy!, gate!, h!].map((t) => offset(be, t, GATED_ADD_GRAD_KERNEL));
    const dg = be.makeOutput([...gate!.shape], 'float32'), dh = be.makeOutput([...h!.shape], 'float32');
    if (nat.aB) nat.aB(heap(be), Float64Array.of(R, D, per), Float64Array.of(...offs, offset(be, dg), offset(be, dh)));
    else gatedAddBackwardJs(heapView(be, dy!), heapView(be, gate!), heapView(be, h!), heapView(be, dg), heapView(be, dh), R, D, per);
    return [dg, dh];
  });
  registeredFor = 'wasm';
  const tag = (native: unknown) => (native ? ' (native)' : ' (js)');
  return [LAYERNORM_KERNEL + tag(nat.lnF), LAYERNORM_GRAD_KERNEL + tag(nat.lnB), GELU_KERNEL + tag(nat.gF), GELU_GRAD_KERNEL + tag(nat.gB),
    GATED_ADD_KERNEL + tag(nat.aF), GATED_ADD_GRAD_KERNEL + tag(nat.aB)];
}

/** The composite reference (tfjs-cpu, and any backend without the kernels). */
export function adaLayerNormComposite(x: Tensor, shift: Tensor | null, scale: Tensor | null, eps: number): Tensor {
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, -1, true);
    const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    if (!shift || !scale) return xhat;
    const b = x.shape[0]!, d = x.shape[x.rank - 1]!;
    const bshape = [b, ...new Array<number>(x.rank - 2).fill(1), d];
    return tf.add(tf.mul(xhat, tf.add(tf.reshape(scale, bshape), 1)), tf.reshape(shift, bshape));
  });
}

export function geluComposite(x: Tensor): Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(x, tf.square(x)), GELU_C)), GELU_K);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/**
 * LayerNorm over the last axis of x ([B, …, D]) without an affine of its own, then DiT's
 * modulation y = LN(x)·(1 + scale) + shift with shift, scale [B, D] (one row per sample), or
 * LN(x) alone when they are null.
 */
export function adaLayerNorm(x: Tensor, shift: Tensor | null, scale: Tensor | null, eps = 1e-6): Tensor {
  if (!fusedEnabled || registeredFor !== tf.getBackend()) return adaLayerNormComposite(x, shift, scale, eps);
  const attrs = { eps } as unknown as tf.NamedAttrMap;
  if (!shift || !scale) {
    const op = tf.customGrad((...args: unknown[]) => {
      const xx = args[0] as Tensor, save = args[1] as (ts: Tensor[]) => void;
      const [y, stats] = tf.engine().runKernel(LAYERNORM_KERNEL, { x: xx }, attrs) as Tensor[];
      save([xx, stats!]);
      return { value: y!, gradFunc: (dy: Tensor, [sx, ss]: Tensor[]) => tf.engine().runKernel(LAYERNORM_GRAD_KERNEL, { dy, x: sx!, stats: ss! }, {}) as Tensor[] };
    });
    return (op as unknown as (a: Tensor) => Tensor)(x);
  }
  if (shift.rank !== 2 || scale.rank !== 2 || shift.shape[0] !== x.shape[0] || scale.shape[0] !== x.shape[0]) {
    throw new Error(`adaLayerNorm: shift and scale must be [B, D] with B = ${x.shape[0]}, got [${shift.shape}] and [${scale.shape}]`);
  }
  const op = tf.customGrad((...args: unknown[]) => {
    const [xx, sh, sc] = args as Tensor[];
    const save = args[3] as (ts: Tensor[]) => void;
    const [y, stats] = tf.engine().runKernel(LAYERNORM_KERNEL, { x: xx!, shift: sh!, scale: sc! }, attrs) as Tensor[];
    save([xx!, sc!, stats!]);
    return {
      value: y!,
      gradFunc: (dy: Tensor, [sx, ssc, ss]: Tensor[]) => tf.engine().runKernel(LAYERNORM_GRAD_KERNEL, { dy, x: sx!, scale: ssc!, stats: ss! }, {}) as Tensor[],
    };
  });
  return (op as unknown as (a: Tensor, b: Tensor, c: Tensor) => Tensor)(x, shift, scale);
}

/** GELU with the tanh approximation (DiT's MLP activation: PyTorch's GELU(approximate='tanh')). */
export function gelu(x: Tensor): Tensor {
  if (!fusedEnabled || registeredFor !== tf.getBackend()) return geluComposite(x);
  const op = tf.customGrad((...args: unknown[]) => {
    const xx = args[0] as Tensor, save = args[1] as (ts: Tensor[]) => void;
    const y = tf.engine().runKernel(GELU_KERNEL, { x: xx }, {}) as Tensor;
    save([xx]);
    return { value: y, gradFunc: (dy: Tensor, [sx]: Tensor[]) => tf.engine().runKernel(GELU_GRAD_KERNEL, { dy, x: sx! }, {}) as Tensor };
  });
  return (op as unknown as (a: Tensor) => Tensor)(x);
}

export function gatedAddComposite(x: Tensor, gate: Tensor, h: Tensor): Tensor {
  return tf.tidy(() => {
    const b = h.shape[0]!, d = h.shape[h.rank - 1]!;
    return tf.add(x, tf.mul(tf.reshape(gate, [b, ...new Array<number>(h.rank - 2).fill(1), d]), h));
  });
}

/**
 * DiT's gated residual x + gate·h, x and h [B, …, D], gate [B, D] (one row per sample). Fused, its
 * gradient sums dy·h over each sample's tokens in one pass; as ops that sum runs over a middle
 * axis, which wasm's Sum does by transposing first.
 */
export function gatedAdd(x: Tensor, gate: Tensor, h: Tensor): Tensor {
  if (!fusedEnabled || registeredFor !== tf.getBackend()) return gatedAddComposite(x, gate, h);
  if (gate.rank !== 2 || gate.shape[0] !== h.shape[0] || gate.shape[1] !== h.shape[h.rank - 1] || x.shape.join() !== h.shape.join()) {
    throw new Error(`gatedAdd: x and h must have one shape [B, …, D] and gate [B, D], got [${x.shape}], [${gate.shape}], [${h.shape}]`);
  }
  const op = tf.customGrad((...args: unknown[]) => {
    const [xx, gg, hh] = args as Tensor[];
    const save = args[3] as (ts: Tensor[]) => void;
    const y = tf.engine().runKernel(GATED_ADD_KERNEL, { x: xx!, gate: gg!, h: hh! }, {}) as Tensor;
    save([gg!, hh!]);
    return {
      value: y,
      gradFunc: (dy: Tensor, [sg, sh]: Tensor[]) => {
        const [dg, dh] = tf.engine().runKernel(GATED_ADD_GRAD_KERNEL, { dy, gate: sg!, h: sh! }, {}) as Tensor[];
        return [tf.reshape(dy, dy.shape), dg!, dh!];
      },
    };
  });
  return (op as unknown as (a: Tensor, b: Tensor, c: Tensor) => Tensor)(x, gate, h);
}
