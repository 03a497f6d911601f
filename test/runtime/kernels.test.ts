// Parity of the overridden kernels (native oneDNN, or wasm + the wasm fallbacks) against
// @tensorflow/tfjs-backend-cpu, forward and gradients; a finite-difference check on a tiny network;
// tensor-leak check of a training step; native fallback notice.
//
// Runs on the backend initRuntime() picks (MEDDIFF_BACKEND=wasm|native honoured):
//   node --import tsx --test test/runtime/kernels.test.ts
//   MEDDIFF_BACKEND=wasm node --import tsx --test test/runtime/kernels.test.ts
//
// Tolerances (relative: max |got - ref| / max |ref|, float32 everywhere):
//   forward conv / matmul             2e-5
//   gradients (dx, dW, dA, dB, dbias) 1e-4
//   fused activations (exp-based)     5e-5
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { initRuntime, tf } from '../../src/runtime/index.ts';
import { loadNativeAddon, nativeStats, NATIVE_KERNELS } from '../../src/runtime/native.ts';
import { FALLBACK_KERNEL_FUNCS } from '../../src/runtime/wasm_kernels.ts';
import { uniformRng as rng } from '../helpers.ts';

const TOL_FWD = 2e-5;
const TOL_GRAD = 1e-4;
const TOL_ACT = 5e-5;

const info = await initRuntime({ log: false });
const active = tf.getBackend();
await tf.setBackend('cpu');
await tf.setBackend(active);

// ------------------------------------------------------------------------------------------------
// helpers

let seed = 1;
function rand(shape: number[], scale = 1): { shape: number[]; data: Float32Array } {
  const r = rng(seed++);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (r() * 2 - 1) * scale;
  return { shape, data };
}
const T = (v: { shape: number[]; data: Float32Array }) => tf.tensor(v.data, v.shape, 'float32');

interface Out { shape: number[]; data: Float32Array }
/** Runs f on `backend` inside tidy; returns copies of the outputs. */
async function runOn(backend: string, f: () => tf.Tensor | tf.Tensor[]): Promise<Out[]> {
  await tf.setBackend(backend);
  try {
    return tf.tidy(() => {
      const r = f();
      return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) }));
    });
  } finally {
    await tf.setBackend(active);
  }
}

function relErr(got: Float32Array, want: Float32Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i]! - want[i]!));
    m = Math.max(m, Math.abs(want[i]!));
  }
  return m === 0 ? d : d / m;
}

/** Computes f on the active backend and on cpu and compares every output with `tols[i]` (or tols[last]). */
async function parity(label: string, f: () => tf.Tensor | tf.Tensor[], tols: number[]): Promise<void> {
  const got = await runOn(active, f);
  const want = await runOn('cpu', f);
  assert.equal(got.length, want.length, `${label}: output count`);
  for (let i = 0; i < want.length; i++) {
    assert.deepEqual(got[i]!.shape, want[i]!.shape, `${label}[${i}]: shape`);
    for (const v of got[i]!.data) assert.ok(Number.isFinite(v), `${label}[${i}]: non-finite output`);
    const e = relErr(got[i]!.data, want[i]!.data);
    const tol = tols[Math.min(i, tols.length - 1)]!;
    assert.ok(e <= tol, `${label}[${i}]: relative error ${e.toExponential(2)} > ${tol}`);
  }
}

// ------------------------------------------------------------------------------------------------
// convolutions

type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase { n: number; h: number; w: number; ci: number; co: number; kh: number; kw: number; s: number | [number, number]; pad: Pad }
const convCases: ConvCase[] = [
  { n: 1, h: 7, w: 9, ci: 3, co: 5, kh: 3, kw: 3, s: 1, pad: 'same' },
  { n: 3, h: 8, w: 8, ci: 4, co: 6, kh: 3, kw: 3, s: 2, pad: 'same' },
  { n: 2, h: 9, w: 7, ci: 5, co: 3, kh: 3, kw: 3, s: 2, pad: 'valid' },
  { n: 2, h: 5, w: 5, ci: 6, co: 4, kh: 1, kw: 1, s: 1, pad: 'valid' },
  { n: 1, h: 6, w: 7, ci: 3, co: 2, kh: 1, kw: 1, s: 2, pad: 'same' },
  { n: 2, h: 7, w: 7, ci: 3, co: 4, kh: 3, kw: 3, s: 1, pad: 1 },
  { n: 2, h: 11, w: 10, ci: 3, co: 5, kh: 3, kw: 3, s: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { n: 3, h: 9, w: 8, ci: 17, co: 19, kh: 2, kw: 3, s: [2, 1], pad: 'same' },
  { n: 2, h: 16, w: 16, ci: 16, co: 32, kh: 3, kw: 3, s: 1, pad: 'same' },
];
const convLabel = (c: ConvCase) => `${c.n}x${c.h}x${c.w}x${c.ci} k${c.kh}x${c.kw}->${c.co} s${c.s} ${JSON.stringify(c.pad)}`;

describe(`conv2d parity vs cpu (backend ${info.backend})`, () => {
  for (const c of convCases) {
    test(`forward + grads ${convLabel(c)}`, async () => {
      const x = rand([c.n, c.h, c.w, c.ci]);
      const w = rand([c.kh, c.kw, c.ci, c.co], 0.5);
      const probe = (yShape: number[]) => T(rand(yShape)); // fixed random dL/dy
      const info2 = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], w.shape as [number, number, number, number],
        c.s, 1, c.pad as 'same', undefined, false, 'channelsLast');
      const r = probe(info2.outShape);
      const rv = { shape: r.shape, data: r.dataSync() as Float32Array };
      r.dispose();
      await parity(`conv ${convLabel(c)}`, () => {
        const xt = T(x) as tf.Tensor4D, wt = T(w) as tf.Tensor4D, rt = T(rv);
        const y = tf.conv2d(xt, wt, c.s, c.pad);
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad), rt)))([xt, wt]);
        return [y, dx!, dw!];
      }, [TOL_FWD, TOL_GRAD]);
    });
  }

  test('inputs living on the cpu backend; an output that grows the wasm heap', async () => {
    // x is created on cpu, so the kernel's first dataIdMap lookup moves it (allocates) into the wasm heap;
    // the 32 MiB output usually grows the heap, which replaces HEAPU8's buffer.
    const x = rand([4, 128, 128, 8]), w = rand([1, 1, 8, 128]);
    await tf.setBackend('cpu');
    const xc = T(x) as tf.Tensor4D, wc = T(w) as tf.Tensor4D;
    const want = Float32Array.from(tf.conv2d(xc, wc, 1, 'valid').dataSync() as Float32Array);
    await tf.setBackend(active);
    const heapBefore = active === 'wasm' ? (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength : 0;
    const y = tf.conv2d(xc, wc, 1, 'valid');
    const got = y.dataSync() as Float32Array;
    const heapAfter = active === 'wasm' ? (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength : 0;
    const e = relErr(got, want);
    tf.dispose([xc, wc, y]);
    assert.ok(e <= TOL_FWD, `relative error ${e.toExponential(2)} (heap ${heapBefore} -> ${heapAfter} bytes)`);
  });

  test('forward with dilation 2', async () => {
    const x = rand([2, 9, 8, 3]), w = rand([3, 3, 3, 4]);
    await parity('conv dilation 2', () => tf.conv2d(T(x) as tf.Tensor4D, T(w) as tf.Tensor4D, 1, 'same', 'NHWC', 2), [TOL_FWD]);
  });

  test('direct Conv2DBackpropInput / Conv2DBackpropFilter ops', async () => {
    const x = rand([2, 9, 9, 4]), w = rand([3, 3, 4, 5]), dy = rand([2, 5, 5, 5]);
    await parity('conv2DBackprop*', () => [
      tf.conv2dTranspose(T(dy) as tf.Tensor4D, T(w) as tf.Tensor4D, [2, 9, 9, 4], 2, 'same'),
      tf.conv2dTranspose(T(dy) as tf.Tensor4D, T(w) as tf.Tensor4D, [2, 11, 11, 4], 2, 'valid'),
      tf.tidy(() => {
        // Conv2DBackpropFilter through the engine (the op is not exported by the umbrella package)
        return tf.engine().runKernel('Conv2DBackpropFilter', { x: T(x), dy: T(dy) },
          { strides: [2, 2], pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined as unknown as string, filterShape: [3, 3, 4, 5] }) as tf.Tensor;
      }),
    ], [TOL_FWD, TOL_FWD, TOL_GRAD]);
  });

  const acts = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'prelu', 'sigmoid'] as const;
  for (const act of acts) {
    test(`FusedConv2D bias + ${act}`, async () => {
      const x = rand([2, 7, 6, 5], 2), w = rand([3, 3, 5, 4]), b = rand([4]), p = rand([4]);
      await parity(`fused conv ${act}`, () => tf.fused.conv2d({
        x: T(x) as tf.Tensor4D, filter: T(w) as tf.Tensor4D, strides: 2, pad: 'same', bias: T(b), activation: act,
        preluActivationWeights: act === 'prelu' ? T(p) : undefined, leakyreluAlpha: act === 'leakyrelu' ? 0.13 : undefined,
      }), [TOL_ACT]);
    });
  }

  test('FusedConv2D broadcast bias shapes, rank-3 prelu weights, no bias', async () => {
    const x = rand([2, 6, 6, 3], 2), w = rand([3, 3, 3, 4]);
    const b1 = rand([1]), b3 = rand([6, 6, 4]), p3 = rand([6, 6, 4]), p1 = rand([1]);
    await parity('fused conv broadcast', () => {
      const xt = T(x) as tf.Tensor4D, wt = T(w) as tf.Tensor4D;
      return [
        tf.fused.conv2d({ x: xt, filter: wt, strides: 1, pad: 'same', bias: T(b1), activation: 'relu' }),
        tf.fused.conv2d({ x: xt, filter: wt, strides: 1, pad: 'same', bias: T(b3), activation: 'elu' }),
        tf.fused.conv2d({ x: xt, filter: wt, strides: 1, pad: 'same', activation: 'prelu', preluActivationWeights: T(p3) }),
        tf.fused.conv2d({ x: xt, filter: wt, strides: 1, pad: 'same', bias: T(b1), activation: 'prelu', preluActivationWeights: T(p1) }),
        tf.fused.conv2d({ x: xt, filter: wt, strides: 1, pad: 'valid', activation: 'sigmoid' }),
      ];
    }, [TOL_ACT]);
  });

  test('FusedConv2D gradients (bias, linear)', async () => {
    const x = rand([2, 7, 7, 3]), w = rand([3, 3, 3, 4]), b = rand([4]), r = rand([2, 4, 4, 4]);
    await parity('fused conv grads', () => {
      const rt = T(r);
      const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(tf.fused.conv2d({ x: xx as tf.Tensor4D, filter: ww as tf.Tensor4D, strides: 2, pad: 'same', bias: bb }), rt));
      return tf.grads(f)([T(x), T(w), T(b)]);
    }, [TOL_GRAD]);
  });
});

// ------------------------------------------------------------------------------------------------
// matmuls

// grad: false for batch-broadcast cases: tfjs 4.22's BatchMatMul gradient does not sum over broadcast batch
// dims (it fails with "gradient of input 'a' has shape ..." on every backend), so only the forward is compared.
interface MmCase { a: number[]; b: number[]; ta: boolean; tb: boolean; grad?: boolean }
const mmCases: MmCase[] = [];
for (const ta of [false, true]) for (const tb of [false, true]) {
  mmCases.push({ a: ta ? [7, 5] : [5, 7], b: tb ? [3, 7] : [7, 3], ta, tb });
  mmCases.push({ a: ta ? [4, 7, 5] : [4, 5, 7], b: tb ? [4, 3, 7] : [4, 7, 3], ta, tb });
  mmCases.push({ a: ta ? [1, 9, 6] : [1, 6, 9], b: tb ? [3, 2, 9] : [3, 9, 2], ta, tb, grad: false }); // a broadcast over batch
  mmCases.push({ a: ta ? [3, 9, 6] : [3, 6, 9], b: tb ? [1, 2, 9] : [1, 9, 2], ta, tb, grad: false }); // b broadcast over batch
}
mmCases.push({ a: [2, 3, 5, 4], b: [2, 3, 4, 6], ta: false, tb: false });
mmCases.push({ a: [2, 3, 5, 4], b: [4, 6], ta: false, tb: false, grad: false });
mmCases.push({ a: [6, 16, 8], b: [6, 16, 8], ta: false, tb: true }); // attention QK^T
mmCases.push({ a: [33, 65], b: [65, 17], ta: false, tb: false });
const mmLabel = (c: MmCase) => `[${c.a}]${c.ta ? 'T' : ''}·[${c.b}]${c.tb ? 'T' : ''}`;

describe(`matMul parity vs cpu (backend ${info.backend})`, () => {
  for (const c of mmCases) {
    test(`forward${c.grad === false ? '' : ' + grads'} ${mmLabel(c)}`, async () => {
      const a = rand(c.a), b = rand(c.b);
      await parity(`matMul ${mmLabel(c)}`, () => {
        const at = T(a), bt = T(b);
        const y = tf.matMul(at, bt, c.ta, c.tb);
        if (c.grad === false) return y;
        const r = tf.randomUniform(y.shape, -1, 1, 'float32', 7);
        const [da, db] = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z, c.ta, c.tb), r)))([at, bt]);
        return [y, da!, db!];
      }, [TOL_FWD, TOL_GRAD]);
    });
  }

  test('forward [2,1,5,4]·[1,3,6,4]T: per-dim batch broadcast vs explicitly tiled inputs', async () => {
    // the cpu kernel broadcasts the flattened batch only, so the reference tiles the inputs first
    const a = rand([2, 1, 5, 4]), b = rand([1, 3, 6, 4]);
    const got = await runOn(active, () => tf.matMul(T(a), T(b), false, true));
    const want = await runOn('cpu', () => tf.matMul(tf.tile(T(a), [1, 3, 1, 1]), tf.tile(T(b), [2, 1, 1, 1]), false, true));
    assert.deepEqual(got[0]!.shape, [2, 3, 5, 6]);
    const e = relErr(got[0]!.data, want[0]!.data);
    if (info.backend === 'native') assert.ok(e <= TOL_FWD, `relative error ${e.toExponential(2)}`);
  });

  const acts = ['linear', 'relu', 'relu6', 'elu', 'leakyrelu', 'prelu', 'sigmoid'] as const;
  for (const act of acts) {
    test(`_FusedMatMul bias + ${act} (all transposes)`, async () => {
      const outs: Array<() => tf.Tensor> = [];
      for (const ta of [false, true]) for (const tb of [false, true]) {
        const a = rand(ta ? [2, 6, 5] : [2, 5, 6], 2), b = rand(tb ? [2, 4, 6] : [2, 6, 4]), bias = rand([4]), p = rand([4]);
        outs.push(() => tf.fused.matMul({
          a: T(a), b: T(b), transposeA: ta, transposeB: tb, bias: T(bias), activation: act,
          preluActivationWeights: act === 'prelu' ? T(p) : undefined, leakyreluAlpha: act === 'leakyrelu' ? 0.07 : undefined,
        }));
      }
      await parity(`fused matMul ${act}`, () => outs.map((f) => f()), [TOL_ACT]);
    });
  }

  test('_FusedMatMul bias broadcast shapes, 2-D inputs, no bias, prelu [M,N]', async () => {
    const a = rand([5, 6], 2), b = rand([6, 4]), a3 = rand([3, 5, 6], 2);
    const b1 = rand([1]), bMN = rand([5, 4]), b3 = rand([3, 1, 4]), pMN = rand([5, 4]);
    await parity('fused matMul broadcast', () => [
      tf.fused.matMul({ a: T(a), b: T(b), bias: T(b1), activation: 'relu' }),
      tf.fused.matMul({ a: T(a), b: T(b), bias: T(bMN), activation: 'linear' }),
      tf.fused.matMul({ a: T(a3), b: T(b), bias: T(b3), activation: 'elu' }),
      tf.fused.matMul({ a: T(a3), b: T(b), activation: 'prelu', preluActivationWeights: T(pMN) }),
      tf.fused.matMul({ a: T(a), b: T(b), activation: 'sigmoid' }),
    ], [TOL_ACT]);
  });

  test('_FusedMatMul gradients (bias + linear, bias + relu)', async () => {
    const a = rand([3, 5, 6]), b = rand([3, 6, 4]), bias = rand([4]), r = rand([3, 5, 4]);
    await parity('fused matMul grads', () => {
      const rt = T(r);
      const lin = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        tf.sum(tf.mul(tf.fused.matMul({ a: x, b: y, bias: z, transposeB: false }), rt)))([T(a), T(b), T(bias)]);
      const relu = tf.grads((x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) =>
        tf.sum(tf.mul(tf.fused.matMul({ a: x, b: y, bias: z, activation: 'relu' }), rt)))([T(a), T(b), T(bias)]);
      return [...lin, ...relu];
    }, [TOL_GRAD]);
  });
});

// ------------------------------------------------------------------------------------------------
// wasm fallbacks (called directly, so they are checked on the native path too)

describe('wasm fallback kernels', () => {
  test('Conv2DBackpropFilter fallback (im2col + matMul)', async () => {
    for (const c of convCases) {
      const x = rand([c.n, c.h, c.w, c.ci]);
      const info2 = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], [c.kh, c.kw, c.ci, c.co],
        c.s, 1, c.pad as 'same', undefined, false, 'channelsLast');
      const dy = rand(info2.outShape);
      const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', filterShape: [c.kh, c.kw, c.ci, c.co] } as unknown as tf.NamedAttrMap;
      const got = await runOn('wasm', () => FALLBACK_KERNEL_FUNCS.Conv2DBackpropFilter({ inputs: { x: T(x), dy: T(dy) }, backend: tf.backend(), attrs }) as tf.Tensor);
      const want = await runOn('cpu', () => tf.engine().runKernel('Conv2DBackpropFilter', { x: T(x), dy: T(dy) }, attrs) as tf.Tensor);
      assert.deepEqual(got[0]!.shape, want[0]!.shape);
      const e = relErr(got[0]!.data, want[0]!.data);
      assert.ok(e <= TOL_GRAD, `fallback dW ${convLabel(c)}: relative error ${e.toExponential(2)} > ${TOL_GRAD}`);
    }
  });

  test('UnsortedSegmentSum: gather gradient (embedding table)', async () => {
    const table = rand([11, 6]);
    const idx = [3, 0, 10, 3, 7, 7, 7, 1];
    const v = rand([8, 2, 3]);
    await parity('gather grad', () => {
      const r = tf.randomUniform([8, 6], -1, 1, 'float32', 3);
      const [g] = tf.grads((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor1d(idx, 'int32')), r)))([T(table)]);
      return [g!, tf.unsortedSegmentSum(T(v), tf.tensor1d([2, 0, 4, 2, 9, 1, 0, 0], 'int32'), 5)];
    }, [TOL_FWD]);
  });
});

// ------------------------------------------------------------------------------------------------
// tiny network: finite differences and tensor leaks

function tinyNet(w1: tf.Tensor4D, w2: tf.Tensor4D, wd: tf.Tensor2D, x: tf.Tensor4D): tf.Scalar {
  const h = tf.conv2d(x, w1, 1, 'same') as tf.Tensor4D; // [2,6,6,8]
  const [n, H, W, C] = h.shape;
  const g = tf.reshape(h, [n, H, W, 2, C / 2]); // GroupNorm-ish, 2 groups
  const { mean, variance } = tf.moments(g, [1, 2, 4], true);
  const hn = tf.reshape(tf.div(tf.sub(g, mean), tf.sqrt(tf.add(variance, 1e-5))), [n, H, W, C]);
  const s = tf.mul(hn, tf.sigmoid(hn)) as tf.Tensor4D; // SiLU
  const h2 = tf.conv2d(s, w2, 2, 'same'); // [2,3,3,4]
  const flat = tf.reshape(h2, [n, -1]);
  const out = tf.matMul(flat, wd); // [2,3]
  return tf.mean(tf.square(tf.sub(out, 0.3)));
}

describe(`tiny network (backend ${info.backend})`, () => {
  test('finite-difference gradient check: conv -> GroupNorm -> SiLU -> conv(s2) -> matMul', () => {
    const x = T(rand([2, 6, 6, 3])) as tf.Tensor4D;
    const params = [T(rand([3, 3, 3, 8], 0.5)), T(rand([3, 3, 8, 4], 0.3)), T(rand([36, 3], 0.3))];
    const loss = (ps: tf.Tensor[]) => tinyNet(ps[0] as tf.Tensor4D, ps[1] as tf.Tensor4D, ps[2] as tf.Tensor2D, x);
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => loss([a, b, c]))(params);
    const r = rng(99);
    const eps = 1e-2;
    for (let p = 0; p < params.length; p++) {
      const base = params[p]!.dataSync() as Float32Array;
      const g = grads[p]!.dataSync() as Float32Array;
      for (let k = 0; k < 5; k++) {
        const i = Math.floor(r() * base.length);
        const f = (delta: number) => tf.tidy(() => {
          const d = Float32Array.from(base);
          d[i] = d[i]! + delta;
          const ps = params.map((t, j) => (j === p ? tf.tensor(d, t.shape) : t));
          return loss(ps).dataSync()[0]!;
        });
        const fd = (f(eps) - f(-eps)) / (2 * eps);
        const an = g[i]!;
        assert.ok(Math.abs(fd - an) <= 0.03 * Math.max(Math.abs(fd), Math.abs(an)) + 2e-4,
          `param ${p} index ${i}: finite difference ${fd} vs analytic ${an}`);
      }
    }
    tf.dispose([x, ...params, ...grads]);
  });

  test('tf.memory().numTensors unchanged after forward + backward + apply', () => {
    const x = T(rand([2, 6, 6, 3])) as tf.Tensor4D;
    const w1 = tf.variable(T(rand([3, 3, 3, 8], 0.5)) as tf.Tensor4D);
    const w2 = tf.variable(T(rand([3, 3, 8, 4], 0.3)) as tf.Tensor4D);
    const wd = tf.variable(T(rand([36, 3], 0.3)) as tf.Tensor2D);
    const emb = tf.variable(T(rand([10, 3])));
    const opt = tf.train.adam(1e-3);
    const step = () => {
      const l = opt.minimize(() => {
        const e = tf.gather(emb, tf.tensor1d([1, 4], 'int32')); // exercises UnsortedSegmentSum in backprop
        return tf.add(tinyNet(w1, w2, wd, x), tf.mul(tf.sum(e), 1e-3)) as tf.Scalar;
      }, true);
      l!.dispose();
    };
    step(); // first step creates the optimizer's slots
    const before = tf.memory().numTensors;
    const w1Before = w1.dataSync().slice();
    step();
    step();
    assert.equal(tf.memory().numTensors, before, 'tensors leaked by a training step');
    assert.notDeepEqual(w1.dataSync(), w1Before, 'weights did not change');
    opt.dispose();
    tf.dispose([x, w1, w2, wd, emb]);
  });
});

// ------------------------------------------------------------------------------------------------
// native addon presence / fallback

describe('native addon', () => {
  test('MEDDIFF_NATIVE=0 gives no addon with a reason', () => {
    const prev = process.env.MEDDIFF_NATIVE;
    process.env.MEDDIFF_NATIVE = '0';
    try {
      const r = loadNativeAddon();
      assert.equal(r.addon, null);
      assert.match(r.error ?? '', /MEDDIFF_NATIVE=0/);
    } finally {
      if (prev === undefined) delete process.env.MEDDIFF_NATIVE; else process.env.MEDDIFF_NATIVE = prev;
    }
  });

  test('initRuntime({ log: true }) with MEDDIFF_NATIVE=0 prints the fallback notice and uses wasm', () => {
    const url = new URL('../../src/runtime/index.ts', import.meta.url).href;
    const code = `import(${JSON.stringify(url)}).then(async (m) => { const i = await m.initRuntime({ log: true }); console.log(JSON.stringify({ b: i.backend, e: i.nativeError })); })`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], {
      encoding: 'utf8', env: { ...process.env, MEDDIFF_NATIVE: '0', MEDDIFF_BACKEND: '' }, timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /meddiff: backend wasm \(native addon unavailable \(disabled by MEDDIFF_NATIVE=0\); using pure wasm\)/);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { b: string; e: string };
    assert.equal(last.b, 'wasm');
    // the library itself says nothing unless asked (the CLI asks)
    const quiet = spawnSync(process.execPath, ['--import', 'tsx', '-e', code.replace('initRuntime({ log: true })', 'initRuntime()')], {
      encoding: 'utf8', env: { ...process.env, MEDDIFF_NATIVE: '0', MEDDIFF_BACKEND: '' }, timeout: 60_000,
    });
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /meddiff: backend/);
  });

  test('native kernels ran natively (no silent fallbacks)', { skip: info.backend !== 'native' && 'not on the native backend' }, () => {
    const addon = loadNativeAddon().addon;
    assert.ok(addon, 'addon loaded');
    const v = addon.version();
    assert.match(v.onednn ?? '', /^\d+\.\d+\.\d+$/);
    assert.deepEqual([...info.nativeKernels].sort(), [...NATIVE_KERNELS].sort());
    for (const k of NATIVE_KERNELS) {
      const s = nativeStats[k];
      assert.ok(s && s.native > 0, `${k} never ran natively`);
      assert.equal(s.fallback, 0, `${k} fell back: ${s.lastFallback}`);
    }
  });
});
