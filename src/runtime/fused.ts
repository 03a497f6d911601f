// Fused GroupNorm (+ optional SiLU) with its gradient, as two custom kernels on the wasm backend.
// Written as composite tfjs ops, GroupNorm costs about a dozen broadcasting passes forward and
// more backward (wasm's broadcasting binary ops are not vectorised), and it dominated the UNet's
// step once convolutions went native. Here it is two passes forward and three backward, computed
// in place on the wasm heap: by the native addon when it has the kernel, otherwise in plain JS.
import { tf, type Tensor } from './tf.ts';

export const GROUPNORM_KERNEL = 'MeddiffGroupNorm';
export const GROUPNORM_GRAD_KERNEL = 'MeddiffGroupNormGrad';

export interface HeapBackend {
  wasm: { HEAPF32: Float32Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number | null } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/** Native implementation hooks (same math, multi-threaded); absent → the JS loops below. */
export interface GroupNormAddon {
  groupNormForward?(heap: ArrayBuffer, dims: Float64Array, offsets: Float64Array): void;
  groupNormBackward?(heap: ArrayBuffer, dims: Float64Array, offsets: Float64Array): void;
}

export function offset(be: HeapBackend, t: tf.TensorInfo, kernel = GROUPNORM_KERNEL): number {
  const off = be.dataIdMap.get(t.dataId)?.memoryOffset;
  if (off == null) throw new Error(`${kernel}: tensor has no wasm memory`);
  return off >>> 0;
}

/** A view of a tensor's data on the heap; take views only after every allocation of the kernel. */
export function heapView(be: HeapBackend, t: tf.TensorInfo): Float32Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const at = offset(be, t) / 4;
  return be.wasm.HEAPF32.subarray(at, at + n);
}

function dims(x: tf.TensorInfo, groups: number) {
  const C = x.shape[x.shape.length - 1]!;
  const N = x.shape[0]!;
  const P = x.shape.reduce((a, b) => a * b, 1) / (N * C);
  return { N, P, C, G: groups, cpg: C / groups };
}

/** x [N, …, C] → y (same shape), stats [N, G, 2] = (mean, 1/σ). */
export function groupNormForwardJs(X: Float32Array, gamma: Float32Array, beta: Float32Array, Y: Float32Array, S: Float32Array,
  N: number, P: number, C: number, G: number, eps: number, silu: boolean): void {
  const cpg = C / G, M = P * cpg;
  const sum = new Float64Array(G), sq = new Float64Array(G), a = new Float32Array(C), b = new Float32Array(C);
  for (let n = 0; n < N; n++) {
    sum.fill(0); sq.fill(0);
    const base = n * P * C;
    for (let p = 0; p < P; p++) {
      const row = base + p * C;
      for (let g = 0; g < G; g++) {
        let s = 0, q = 0;
        for (let c = g * cpg, e = c + cpg; c < e; c++) { const v = X[row + c]!; s += v; q += v * v; }
        sum[g]! += s; sq[g]! += q;
      }
    }
    for (let g = 0; g < G; g++) {
      const mean = sum[g]! / M;
      const rstd = 1 / Math.sqrt(Math.max(0, sq[g]! / M - mean * mean) + eps);
      S[(n * G + g) * 2] = mean; S[(n * G + g) * 2 + 1] = rstd;
      for (let c = g * cpg; c < (g + 1) * cpg; c++) { a[c] = rstd * gamma[c]!; b[c] = beta[c]! - mean * a[c]!; }
    }
    for (let i = base, e = base + P * C, c = 0; i < e; i++) {
      const h = X[i]! * a[c]! + b[c]!;
      Y[i] = silu ? h / (1 + Math.exp(-h)) : h;
      if (++c === C) c = 0;
    }
  }
}

/** dy, x, stats → dx, dγ, dβ (dh through SiLU recomputed from x). */
export function groupNormBackwardJs(DY: Float32Array, X: Float32Array, gamma: Float32Array, beta: Float32Array, S: Float32Array,
  DX: Float32Array, DG: Float32Array, DB: Float32Array, N: number, P: number, C: number, G: number, silu: boolean): void {
  const cpg = C / G, M = P * cpg;
  const dg = new Float64Array(C), db = new Float64Array(C), s1 = new Float64Array(G), s2 = new Float64Array(G);
  const mean = new Float32Array(C), rstd = new Float32Array(C), a = new Float32Array(C), b = new Float32Array(C);
  const dh = new Float32Array(P * C);
  for (let n = 0; n < N; n++) {
    s1.fill(0); s2.fill(0);
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / cpg);
      mean[c] = S[(n * G + g) * 2]!; rstd[c] = S[(n * G + g) * 2 + 1]!;
      a[c] = rstd[c]! * gamma[c]!; b[c] = beta[c]! - mean[c]! * a[c]!;
    }
    const base = n * P * C;
    for (let i = 0, c = 0; i < P * C; i++) {
      const x = X[base + i]!;
      let d = DY[base + i]!;
      if (silu) {
        const h = x * a[c]! + b[c]!;
        const s = 1 / (1 + Math.exp(-h));
        d *= s * (1 + h * (1 - s));
      }
      dh[i] = d;
      const xhat = (x - mean[c]!) * rstd[c]!;
      dg[c]! += d * xhat; db[c]! += d;
      const g = (c / cpg) | 0;
      const dxh = d * gamma[c]!;
      s1[g]! += dxh; s2[g]! += dxh * xhat;
      if (++c === C) c = 0;
    }
    for (let i = 0, c = 0; i < P * C; i++) {
      const g = (c / cpg) | 0;
      const xhat = (X[base + i]! - mean[c]!) * rstd[c]!;
      DX[base + i] = rstd[c]! * (dh[i]! * gamma[c]! - (s1[g]! + xhat * s2[g]!) / M);
      if (++c === C) c = 0;
    }
  }
  for (let c = 0; c < C; c++) { DG[c] = dg[c]!; DB[c] = db[c]!; }
}

let registeredFor: string | null = null;

/** Register the two kernels on the wasm backend (native code when the addon has it). */
export function registerFusedKernels(addon: GroupNormAddon | null): string[] {
  const fwdNative = addon?.groupNormForward?.bind(addon), bwdNative = addon?.groupNormBackward?.bind(addon);
  const reg = (kernelName: string, kernelFunc: tf.KernelFunc) => {
    if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  };
  reg(GROUPNORM_KERNEL, ({ inputs, backend, attrs }) => {
    const be = backend as unknown as HeapBackend;
    const { x, gamma, beta } = inputs as Record<string, tf.TensorInfo>;
    const { groups, eps, silu } = attrs as unknown as { groups: number; eps: number; silu: boolean };
    const { N, P, C, G } = dims(x!, groups);
    // Order matters: inputs resolved, then outputs allocated (may grow the heap), then the heap read.
    const inOffs = [x!, gamma!, beta!].map((t) => offset(be, t));
    const y = be.makeOutput([...x!.shape], 'float32');
    const stats = be.makeOutput([N, G, 2], 'float32');
    if (fwdNative) {
      const offs = Float64Array.of(...inOffs, offset(be, y), offset(be, stats));
      fwdNative(be.wasm.HEAPF32.buffer as ArrayBuffer, Float64Array.of(N, P, C, G, eps, silu ? 1 : 0), offs);
    } else {
      groupNormForwardJs(heapView(be, x!), heapView(be, gamma!), heapView(be, beta!), heapView(be, y), heapView(be, stats), N, P, C, G, eps, silu);
    }
    return [y, stats];
  });
  reg(GROUPNORM_GRAD_KERNEL, ({ inputs, backend, attrs }) => {
    const be = backend as unknown as HeapBackend;
    const { dy, x, gamma, beta, stats } = inputs as Record<string, tf.TensorInfo>;
    const { groups, silu } = attrs as unknown as { groups: number; silu: boolean };
    const { N, P, C, G } = dims(x!, groups);
    const inOffs = [dy!, x!, gamma!, beta!, stats!].map((t) => offset(be, t));
    const dx = be.makeOutput([...x!.shape], 'float32');
    const dg = be.makeOutput([C], 'float32');
    const db = be.makeOutput([C], 'float32');
    if (bwdNative) {
      const offs = Float64Array.of(...inOffs, offset(be, dx), offset(be, dg), offset(be, db));
      bwdNative(be.wasm.HEAPF32.buffer as ArrayBuffer, Float64Array.of(N, P, C, G, silu ? 1 : 0), offs);
    } else {
      groupNormBackwardJs(heapView(be, dy!), heapView(be, x!), heapView(be, gamma!), heapView(be, beta!), heapView(be, stats!), heapView(be, dx), heapView(be, dg), heapView(be, db), N, P, C, G, silu);
    }
    return [dx, dg, db];
  });
  registeredFor = 'wasm';
  return [GROUPNORM_KERNEL + (fwdNative ? ' (native)' : ' (js)'), GROUPNORM_GRAD_KERNEL + (bwdNative ? ' (native)' : ' (js)')];
}

function groupNormComposite(x: Tensor, gamma: Tensor, beta: Tensor, groups: number, eps: number, silu: boolean): Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const c = shape[shape.length - 1]!;
    const g = tf.reshape(x, [shape[0]!, -1, groups, c / groups]);
    const { mean, variance } = tf.moments(g, [1, 3], true);
    const normed = tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, eps)));
    const h = tf.add(tf.mul(tf.reshape(normed, shape), gamma), beta);
    return silu ? tf.mul(h, tf.sigmoid(h)) : h;
  });
}

/**
 * GroupNorm over the last axis of x ([N, …, C]) in `groups` groups, then optionally SiLU.
 * Uses the fused kernels on the wasm backend, composite ops elsewhere (the cpu reference).
 */
export function groupNorm(x: Tensor, gamma: Tensor, beta: Tensor, groups: number, eps = 1e-5, silu = false): Tensor {
  if (registeredFor !== tf.getBackend()) return groupNormComposite(x, gamma, beta, groups, eps, silu);
  const attrs = { groups, eps, silu } as unknown as tf.NamedAttrMap;
  const op = tf.customGrad((...args: unknown[]) => {
    const [xx, gg, bb] = args as Tensor[];
    const save = args[3] as (ts: Tensor[]) => void;
    const [y, stats] = tf.engine().runKernel(GROUPNORM_KERNEL, { x: xx!, gamma: gg!, beta: bb! }, attrs) as Tensor[];
    save([xx!, gg!, bb!, stats!]);
    return {
      value: y!,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sx, sg, sb, ss] = saved;
        return tf.engine().runKernel(GROUPNORM_GRAD_KERNEL, { dy, x: sx!, gamma: sg!, beta: sb!, stats: ss! }, { groups, silu } as unknown as tf.NamedAttrMap) as Tensor[];
      },
    };
  });
  return (op as unknown as (a: Tensor, b: Tensor, c: Tensor) => Tensor)(x, gamma, beta);
}

/**
 * wasm's Sum transposes the input first whenever the reduced axes are not the innermost ones, which
 * made bias gradients (a sum over N, H, W of an NHWC tensor) one of the costliest ops of a training
 * step. The column-sum case is done here in one pass; every other case goes to the original kernel.
 */
export function registerColumnSum(): string[] {
  const original = tf.getKernel('Sum', 'wasm');
  if (!original) return [];
  tf.unregisterKernel('Sum', 'wasm');
  tf.registerKernel({
    kernelName: 'Sum', backendName: 'wasm',
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const x = (inputs as Record<string, tf.TensorInfo>).x!;
      const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
      const rank = x.shape.length;
      const axes = [...new Set((Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
      const columnSum = x.dtype === 'float32' && rank >= 2 && axes.length === rank - 1 && axes.every((a, i) => a === i);
      if (!columnSum) return original.kernelFunc(args);
      const be = backend as unknown as HeapBackend;
      const C = x.shape[rank - 1]!;
      const R = x.shape.reduce((a, b) => a * b, 1) / C;
      const out = be.makeOutput(keepDims ? [...new Array<number>(rank - 1).fill(1), C] : [C], 'float32');
      const X = heapView(be, x), Y = heapView(be, out);
      const acc = new Float64Array(C);
      for (let r = 0; r < R; r++) {
        const row = r * C;
        for (let c = 0; c < C; c++) acc[c]! += X[row + c]!;
      }
      Y.set(acc);
      return out;
    },
  });
  return ['Sum (column sums)'];
}

/**
 * tfjs saves every tensor a gradient needs through engine.clone, i.e. the Identity kernel, and
 * wasm's Identity is a copy (cpu's shares the data). So each saved input of a conv, matmul,
 * GroupNorm or Mul was duplicated on the heap: a DiT-S/2 block at batch 64 held ~1 GB, most of it
 * copies. wasm's Cast copies even to the same dtype (every Mul gradient casts its other operand).
 * Tensors are immutable and wasm counts references per data id (its Reshape already shares), so
 * both share the data here; other casts and strings go to the original kernels.
 */
export function registerZeroCopyIdentity(): string[] {
  const names: string[] = [];
  for (const [name, same] of [['Identity', () => true], ['Cast', (x: tf.TensorInfo, a: unknown) => (a as { dtype: string }).dtype === x.dtype]] as const) {
    const original = tf.getKernel(name, 'wasm');
    if (!original) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({
      kernelName: name, backendName: 'wasm',
      kernelFunc: (args) => {
        const x = (args.inputs as Record<string, tf.TensorInfo>).x!;
        if (x.dtype === 'string' || !same(x, args.attrs)) return original.kernelFunc(args);
        (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
        return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
      },
    });
    names.push(`${name} (shared, no copy)`);
  }
  return names;
}
