// Kernels the tfjs wasm backend (4.22) lacks but training needs, written with tfjs ops so that the
// pure-wasm path (no native addon) can train:
//   - Conv2DBackpropFilter: every conv weight gradient. Transposed im2col from plain slices of the padded
//     input (split into stride phases), then one NON-transposed matMul with dy (wasm's transposed matmul is slow).
//   - UnsortedSegmentSum: the gradient of tf.gather (embedding tables), as a one-hot matMul.
//   - _FusedMatMul / FusedConv2D: wrappers around wasm's own kernels, which are wrong or throw for some
//     cases tfjs passes (checked with tfjs-backend-wasm 4.22: a batched _FusedMatMul adds the bias to the
//     first batch only; FusedConv2D rejects a bias that is not exactly [outChannels]). Those cases are
//     computed with matMul/conv2d + add + activation ops; the rest still go to wasm's kernel.
//   - Conv2DBackpropInput: wraps wasm's (correct but ~1.6 GFLOP/s) kernel with a forward conv of the dilated dy.
// A kernelFunc may run tfjs ops: the engine stops taping while a kernel runs, and a returned Tensor
// (rank set) is used as the kernel's output as is. Each kernel computes inside tf.tidy and returns the
// one tensor it keeps. Registered only where the wasm backend has no kernel of that name, so they never
// replace wasm's or the native ones (registerNativeKernels keeps them as its fallback for NCHW etc.).
import { tf } from './tf.ts';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Shape4 = [number, number, number, number];

/** The kernel's input as a Tensor (inputs are Tensors when called through ops; wrap a bare TensorInfo). */
function asTensor(t: tf.TensorInfo): tf.Tensor {
  return t instanceof tf.Tensor ? t : tf.engine().makeTensorFromTensorInfo(t);
}

/** Bytes of im2col scratch per chunk; larger inputs are processed in batch chunks and summed. */
const COL_CHUNK_BYTES = 256 * 1024 * 1024;

function conv2DBackpropFilter({ inputs, attrs }: KernelArgs): tf.TensorInfo {
  const a = (attrs ?? {}) as Record<string, unknown>;
  const filterShape = a.filterShape as Shape4;
  const dataFormat = (a.dataFormat ?? 'NHWC') as 'NHWC' | 'NCHW';
  return tf.tidy(() => {
    let x = asTensor(inputs.x!) as tf.Tensor4D;
    let dy = asTensor(inputs.dy!) as tf.Tensor4D;
    if (dataFormat === 'NCHW') {
      x = tf.transpose(x, [0, 2, 3, 1]);
      dy = tf.transpose(dy, [0, 2, 3, 1]);
    }
    if (x.dtype !== 'float32') x = tf.cast(x, 'float32');
    if (dy.dtype !== 'float32') dy = tf.cast(dy, 'float32');
    const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, a.strides as [number, number], 1,
      a.pad as 'same', a.dimRoundingMode as 'floor' | undefined, false, 'channelsLast');
    const [N, H, W, Ci] = x.shape;
    const [KH, KW, , Co] = filterShape;
    const { outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info; // dilations are 1 here
    const { top, left } = info.padInfo;
    if (dy.shape[1] !== OH || dy.shape[2] !== OW || dy.shape[3] !== Co) {
      throw new Error(`Conv2DBackpropFilter: dy shape ${dy.shape} does not match the output shape ${info.outShape}`);
    }
    // Stride phases: padded row r = sh*q + p. Tap kh reads rows kh + sh*i (i < OH), i.e. phase kh % sh and
    // q = floor(kh / sh) + i; the same for columns. Viewing the padded input as [n, Hq, sh, Wq*sw*Ci], every tap is
    // two plain slices (wasm copies contiguous runs; its strided slice and rank-5 transpose are ~50x slower).
    const Hq = Math.floor((KH - 1) / sh) + OH, Wq = Math.floor((KW - 1) / sw) + OW;
    const Hp = Hq * sh, Wp = Wq * sw;
    const rowBytes = 2 * OH * OW * KH * KW * Ci * 4;
    const chunk = Math.max(1, Math.min(N, Math.floor(COL_CHUNK_BYTES / Math.max(1, rowBytes))));
    let acc: tf.Tensor2D | null = null;
    for (let n0 = 0; n0 < N; n0 += chunk) {
      const n = Math.min(chunk, N - n0);
      const part = tf.tidy(() => {
        const xs = n === N ? x : tf.slice(x, [n0, 0, 0, 0], [n, H, W, Ci]);
        const dys = n === N ? dy : tf.slice(dy, [n0, 0, 0, 0], [n, OH, OW, Co]);
        const padB = Math.max(0, Hp - H - top), padR = Math.max(0, Wp - W - left);
        let xp = top || left || padB || padR ? tf.pad(xs, [[0, 0], [top, padB], [left, padR], [0, 0]]) : xs;
        if (xp.shape[1] !== Hp || xp.shape[2] !== Wp) xp = tf.slice(xp, [0, 0, 0, 0], [n, Hp, Wp, Ci]);
        // [n, Hq, sh, Wp*Ci]: row phase ph of phase-row q is x4[:, q, ph]; within a row, column phase pw of
        // phase-column q is [q, pw*Ci .. pw*Ci+Ci) of the [Wq, sw*Ci] view.
        const x4 = tf.reshape(xp, [n, Hq, sh, Wp * Ci]);
        const M = n * OH * OW;
        const colsT: tf.Tensor2D[] = [];
        for (let kh = 0; kh < KH; kh++) {
          const ph = kh % sh, qh = (kh - ph) / sh;
          const rows = tf.reshape(tf.slice(x4, [0, qh, ph, 0], [n, OH, 1, Wp * Ci]), [n * OH, Wq, sw * Ci]);
          for (let kw = 0; kw < KW; kw++) {
            const pw = kw % sw, qw = (kw - pw) / sw;
            const tap = tf.slice(rows, [0, qw, pw * Ci], [n * OH, OW, Ci]);
            colsT.push(tf.transpose(tf.reshape(tap, [M, Ci]))); // [Ci, M]
          }
        }
        const colT = colsT.length === 1 ? colsT[0]! : tf.concat(colsT, 0); // [KH*KW*Ci, M]
        return tf.matMul(colT, tf.reshape(dys, [M, Co])) as tf.Tensor2D; // [KH*KW*Ci, Co]
      });
      if (acc) {
        const s: tf.Tensor2D = tf.add(acc, part);
        acc.dispose();
        part.dispose();
        acc = s;
      } else acc = part;
    }
    return tf.reshape(acc!, filterShape);
  });
}

function unsortedSegmentSum({ inputs, attrs }: KernelArgs): tf.TensorInfo {
  const numSegments = Number((attrs ?? {}).numSegments);
  return tf.tidy(() => {
    const x = asTensor(inputs.x!);
    const ids = asTensor(inputs.segmentIds!);
    const S = ids.size;
    const outShape = [numSegments, ...x.shape.slice(ids.rank)];
    const inner = outShape.slice(1).reduce((p, d) => p * d, 1);
    if (S === 0 || inner === 0) return tf.zeros(outShape, x.dtype);
    // oneHot already transposed: [numSegments, S]; out-of-range ids (negative or >= numSegments) match no row.
    const onehotT = tf.cast(tf.equal(tf.reshape(tf.range(0, numSegments, 1, 'int32'), [numSegments, 1]),
      tf.reshape(tf.cast(ids, 'int32'), [1, S])), 'float32');
    const xf = tf.reshape(x.dtype === 'float32' ? x : tf.cast(x, 'float32'), [S, inner]);
    const out = tf.reshape(tf.matMul(onehotT, xf), outShape);
    return x.dtype === 'float32' ? out : tf.cast(tf.round(out), x.dtype);
  });
}

const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'prelu', 'sigmoid'];

/** bias + activation with ops (any broadcastable bias / prelu weights). */
function biasActivation(y: tf.Tensor, bias: tf.Tensor | null, activation: string, prelu: tf.Tensor | null, alpha: number): tf.Tensor {
  if (bias) y = tf.add(y, bias);
  switch (activation) {
    case 'linear': return y;
    case 'relu': return tf.relu(y);
    case 'relu6': return tf.relu6(y);
    case 'elu': return tf.elu(y);
    case 'leakyrelu': return tf.leakyRelu(y, alpha);
    case 'sigmoid': return tf.sigmoid(y);
    case 'prelu':
      if (!prelu) throw new Error('prelu activation needs preluActivationWeights');
      return tf.add(tf.relu(y), tf.mul(prelu, tf.minimum(y, 0)));
    default: throw new Error(`activation '${activation}' is not supported (supported: ${ACTIVATIONS.join(', ')})`);
  }
}

const isChannelVector = (t: tf.TensorInfo | undefined, n: number) => !t || (t.shape.length === 1 && t.shape[0] === n);

const wrapped = new Map<string, tf.KernelConfig>();

function fusedMatMul(args: KernelArgs): tf.TensorInfo {
  const { a, b, bias, preluActivationWeights: prelu } = args.inputs;
  const at = (args.attrs ?? {}) as Record<string, unknown>;
  const ta = Boolean(at.transposeA), tb = Boolean(at.transposeB);
  const activation = String(at.activation ?? 'linear');
  const N = tb ? b!.shape[b!.shape.length - 2]! : b!.shape[b!.shape.length - 1]!;
  const batch = Math.max(a!.shape.slice(0, -2).reduce((p, d) => p * d, 1), b!.shape.slice(0, -2).reduce((p, d) => p * d, 1));
  const orig = wrapped.get('_FusedMatMul');
  if (orig && batch === 1 && isChannelVector(bias, N) && (activation !== 'prelu' || isChannelVector(prelu, N))) return orig.kernelFunc(args) as tf.TensorInfo;
  return tf.tidy(() => biasActivation(tf.matMul(asTensor(a!), asTensor(b!), ta, tb), bias ? asTensor(bias) : null, activation,
    prelu ? asTensor(prelu) : null, Number(at.leakyreluAlpha ?? 0.2)));
}

function fusedConv2D(args: KernelArgs): tf.TensorInfo {
  const { x, filter, bias, preluActivationWeights: prelu } = args.inputs;
  const at = (args.attrs ?? {}) as Record<string, unknown>;
  const activation = String(at.activation ?? 'linear');
  const Co = filter!.shape[3]!;
  const orig = wrapped.get('FusedConv2D');
  if (orig && (at.dataFormat ?? 'NHWC') === 'NHWC' && isChannelVector(bias, Co) && (activation !== 'prelu' || isChannelVector(prelu, Co))) {
    return orig.kernelFunc(args) as tf.TensorInfo;
  }
  return tf.tidy(() => {
    const y = tf.conv2d(asTensor(x!) as tf.Tensor4D, asTensor(filter!) as tf.Tensor4D, at.strides as [number, number], at.pad as 'same',
      (at.dataFormat ?? 'NHWC') as 'NHWC', (at.dilations ?? 1) as [number, number], at.dimRoundingMode as 'floor' | undefined);
    return biasActivation(y, bias ? asTensor(bias) : null, activation, prelu ? asTensor(prelu) : null, Number(at.leakyreluAlpha ?? 0.2));
  });
}

/**
 * Conv2DBackpropInput through wasm's (XNNPACK) forward conv, ~10x faster than wasm's own kernel:
 * dx = conv2d(dy dilated by the stride, filter reversed in space with in/out channels swapped, padding K-1-pad).
 * Cases where that padding would be negative (explicit pads >= the kernel size) or NCHW go to wasm's kernel.
 */
function conv2DBackpropInput(args: KernelArgs): tf.TensorInfo {
  const { dy: dyInfo, filter: wInfo } = args.inputs;
  const at = (args.attrs ?? {}) as Record<string, unknown>;
  const inputShape = at.inputShape as Shape4;
  const orig = wrapped.get('Conv2DBackpropInput');
  const info = tf.backend_util.computeConv2DInfo(inputShape, wInfo!.shape as Shape4, at.strides as [number, number], 1,
    at.pad as 'same', at.dimRoundingMode as 'floor' | undefined, false, 'channelsLast');
  const [N, H, W, Ci] = inputShape;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw, outHeight: OH, outWidth: OW, outChannels: Co } = info;
  const { top, left } = info.padInfo;
  const Hd = (OH - 1) * sh + 1, Wd = (OW - 1) * sw + 1; // dilated dy
  const pt = KH - 1 - top, pl = KW - 1 - left;
  const pb = H - Hd - pt + KH - 1, pr = W - Wd - pl + KW - 1;
  if (orig && ((at.dataFormat ?? 'NHWC') !== 'NHWC' || pt < 0 || pl < 0 || pb < 0 || pr < 0 || wInfo!.dtype !== 'float32' ||
    dyInfo!.shape.some((d, i) => d !== info.outShape[i]))) {
    return orig.kernelFunc(args) as tf.TensorInfo;
  }
  return tf.tidy(() => {
    let dy: tf.Tensor = asTensor(dyInfo!);
    if (sh > 1) { // interleave rows with zeros: [N, OH, s, OW*Co] -> [N, OH*s, OW, Co], keep (OH-1)*s+1 rows
      const z = tf.zeros([N, OH, sh - 1, OW * Co]);
      dy = tf.slice(tf.reshape(tf.concat([tf.reshape(dy, [N, OH, 1, OW * Co]), z], 2), [N, OH * sh, OW, Co]), [0, 0, 0, 0], [N, Hd, OW, Co]);
    }
    if (sw > 1) { // same for columns
      const z = tf.zeros([N * Hd, OW, sw - 1, Co]);
      dy = tf.slice(tf.reshape(tf.concat([tf.reshape(dy, [N * Hd, OW, 1, Co]), z], 2), [N, Hd, OW * sw, Co]), [0, 0, 0, 0], [N, Hd, Wd, Co]);
    }
    const wT = tf.transpose(tf.reverse(asTensor(wInfo!), [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D; // [KH, KW, Co, Ci]
    const dx = tf.conv2d(dy as tf.Tensor4D, wT, 1, [[0, 0], [pt, pb], [pl, pr], [0, 0]]);
    if (dx.shape[3] !== Ci) throw new Error('Conv2DBackpropInput: channel mismatch');
    return dx;
  });
}

/** Kernel functions registered by registerNativeKernels carry this marker; wrappers never go on top of them. */
export const NATIVE_KERNEL_MARK = Symbol.for('meddiff.nativeKernel');
const WRAPPERS: Record<string, tf.KernelFunc> = {
  _FusedMatMul: fusedMatMul as tf.KernelFunc,
  FusedConv2D: fusedConv2D as tf.KernelFunc,
  Conv2DBackpropInput: conv2DBackpropInput as tf.KernelFunc,
};

/** The fallback kernel functions (exported for tests: callable directly with Tensor inputs on the wasm backend). */
export const FALLBACK_KERNEL_FUNCS = {
  Conv2DBackpropFilter: conv2DBackpropFilter as tf.KernelFunc,
  UnsortedSegmentSum: unsortedSegmentSum as tf.KernelFunc,
};
const FALLBACKS = Object.entries(FALLBACK_KERNEL_FUNCS);

/**
 * Registers the fallbacks the wasm backend lacks and the _FusedMatMul/FusedConv2D wrappers; returns the names
 * registered. Never replaces a native kernel (call it before registerNativeKernels, as initRuntime does).
 */
export function registerWasmFallbackKernels(): string[] {
  const names: string[] = [];
  for (const [kernelName, kernelFunc] of FALLBACKS) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
    names.push(kernelName);
  }
  for (const [kernelName, kernelFunc] of Object.entries(WRAPPERS)) {
    const k = tf.getKernel(kernelName, 'wasm');
    if (!k || k.kernelFunc === kernelFunc || (k.kernelFunc as unknown as Record<symbol, unknown>)[NATIVE_KERNEL_MARK]) continue;
    wrapped.set(kernelName, k);
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
    names.push(kernelName);
  }
  return names;
}
