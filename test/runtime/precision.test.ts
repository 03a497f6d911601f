// bf16 inference precision of the native kernels (src/runtime setPrecision, native/src setPrecision):
//   - bf16 forward conv / matmul (plain, fused bias + activation, C++ prelu epilogue, transposes, broadcast
//     batch) within TOL_BF16 of fp32, and really computed in bf16 (lastImpl names a bf16 kernel; results differ);
//   - fp32 results are bit-identical before and after a bf16 phase (the mode is part of the primitive cache key);
//   - the conv gradient kernels refuse bf16; bf16 is refused on wasm and where the CPU has no bf16 ISA.
//
//   MEDDIFF_THREADS=1 node --import tsx --test test/runtime/precision.test.ts
//   MEDDIFF_NATIVE_ADDON=/tmp/nb/native/build/Release/meddiff_native.node ...   (an addon built elsewhere)
//
// Tolerance (relative: max |bf16 - fp32| / max |fp32|): bf16 keeps 8 significant bits (~3 decimal digits), so
// each rounded input is off by up to 2^-9 ≈ 0.2%; on sums of a few hundred products of mixed sign the
// errors partly cancel and stay well below 1e-2.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { initRuntime, parsePrecision, runtimeInfo, setPrecision, tf, withPrecision } from '../../src/runtime/index.ts';
import { loadNativeAddon } from '../../src/runtime/native.ts';
import { uniformRng as rng } from '../helpers.ts';

const TOL_BF16 = 1e-2;
/** bf16 must change the result at least this much, or the bf16 path did not run. */
const MIN_BF16_EFFECT = 1e-5;

// Each test sets the precision it needs; start from fp32 whatever the default ('auto') chose here.
const info = await initRuntime({ log: false, precision: 'fp32' });
const addon = info.backend === 'native' ? loadNativeAddon().addon : null;
const bf16Skip: string | false = !addon ? `native backend not active (${info.nativeError ?? info.reason})`
  : typeof addon.setPrecision !== 'function' ? 'the addon predates setPrecision (rebuild it, or point MEDDIFF_NATIVE_ADDON at a new build)'
    : addon.version().bf16 !== 'yes' ? `this CPU has no bf16 ISA (oneDNN ISA ${addon.version().isa})`
      : false;
after(() => { if (runtimeInfo()?.backend === 'native' && !bf16Skip) setPrecision('fp32'); });

let seed = 7;
function rand(shape: number[], scale = 1): tf.Tensor {
  const r = rng(seed++);
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = (r() * 2 - 1) * scale;
  return tf.tensor(data, shape, 'float32');
}

function relErr(got: Float32Array, want: Float32Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i]! - want[i]!));
    m = Math.max(m, Math.abs(want[i]!));
  }
  return m === 0 ? d : d / m;
}

const run = (f: () => tf.Tensor) => tf.tidy(() => Float32Array.from(f().dataSync() as Float32Array));

/** f at fp32, at bf16, at fp32 again: bf16 within TOL_BF16 of fp32 and different from it; fp32 bit-identical. */
function checkPrecisions(label: string, f: () => tf.Tensor, implPattern: RegExp): void {
  setPrecision('fp32');
  const fp32 = run(f);
  const implFp32 = addon!.lastImpl();
  setPrecision('bf16');
  const bf16 = run(f);
  const implBf16 = addon!.lastImpl();
  setPrecision('fp32');
  const again = run(f);
  assert.match(implBf16, /bf16/, `${label}: bf16 mode ran '${implBf16}', not a bf16 kernel`);
  assert.doesNotMatch(implFp32, /bf16/, `${label}: fp32 mode ran '${implFp32}'`);
  assert.match(implBf16, implPattern, `${label}: unexpected kernel '${implBf16}'`);
  for (const v of bf16) assert.ok(Number.isFinite(v), `${label}: non-finite bf16 output`);
  const e = relErr(bf16, fp32);
  assert.ok(e <= TOL_BF16, `${label}: bf16 relative error ${e.toExponential(2)} > ${TOL_BF16}`);
  assert.ok(e >= MIN_BF16_EFFECT, `${label}: bf16 equals fp32 (relative difference ${e.toExponential(2)}): inputs were not rounded to bf16`);
  assert.deepEqual(again, fp32, `${label}: fp32 after bf16 is not bit-identical to fp32 before`);
}

describe('bf16 inference precision (native)', { skip: bf16Skip }, () => {
  const convCases = [
    { n: 4, h: 16, w: 16, ci: 32, co: 48, k: 3, s: 1 },
    { n: 3, h: 16, w: 16, ci: 16, co: 32, k: 3, s: 2 },
    { n: 2, h: 8, w: 8, ci: 64, co: 16, k: 1, s: 1 },
  ];
  for (const c of convCases) {
    const label = `conv ${c.n}x${c.h}x${c.w}x${c.ci} k${c.k}->${c.co} s${c.s}`;
    test(label, () => {
      const x = rand([c.n, c.h, c.w, c.ci]) as tf.Tensor4D, w = rand([c.k, c.k, c.ci, c.co], 0.3) as tf.Tensor4D;
      checkPrecisions(label, () => tf.conv2d(x, w, c.s, 'same'), /conv/);
      tf.dispose([x, w]);
    });
  }

  test('fused conv: bias + relu (oneDNN post-op) and prelu (C++ epilogue)', () => {
    const x = rand([2, 8, 8, 24]) as tf.Tensor4D, w = rand([3, 3, 24, 32], 0.3) as tf.Tensor4D;
    const bias = rand([32]) as tf.Tensor1D, alpha = rand([32], 0.5);
    checkPrecisions('fused conv relu', () => tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation: 'relu' }), /conv/);
    checkPrecisions('fused conv prelu', () => tf.fused.conv2d({ x, filter: w, strides: 1, pad: 'same', bias, activation: 'prelu', preluActivationWeights: alpha }), /conv/);
    tf.dispose([x, w, bias, alpha]);
  });

  test('matmul: 2-D fused bias + relu, batched with transposes, broadcast batch', () => {
    const a = rand([64, 96]), b = rand([96, 80], 0.3), bias = rand([80]);
    checkPrecisions('matmul 2-D fused', () => tf.fused.matMul({ a, b, bias, activation: 'relu' }), /brg|gemm/);
    const q = rand([8, 40, 16]), k = rand([8, 40, 16]);
    checkPrecisions('batched QKᵀ', () => tf.matMul(q, k, false, true), /brg|gemm/);
    checkPrecisions('batched AᵀB', () => tf.matMul(q, k, true, false), /brg|gemm/);
    const w = rand([1, 16, 24]);
    checkPrecisions('broadcast batch', () => tf.matMul(q, w), /brg|gemm/);
    tf.dispose([a, b, bias, q, k, w]);
  });

  test('conv gradients refuse bf16 (inference only); fp32 gradients work after switching back', () => {
    const x = rand([2, 8, 8, 4]) as tf.Tensor4D, w = rand([3, 3, 4, 8]) as tf.Tensor4D;
    const loss = (a: tf.Tensor) => tf.sum(tf.conv2d(a as tf.Tensor4D, w, 1, 'same'));
    setPrecision('bf16');
    try {
      assert.throws(() => tf.tidy(() => tf.grad(loss)(x)), /precision bf16 is for inference only/);
    } finally {
      setPrecision('fp32');
    }
    const g = tf.tidy(() => tf.grad(loss)(x));
    assert.deepEqual(g.shape, x.shape);
    tf.dispose([g, x, w]);
  });

  test("'auto' (the default) picks bf16 here, training runs fp32 and restores it, a later initRuntime keeps it", async () => {
    const rt = setPrecision('auto');
    assert.equal(rt.precision, 'bf16');
    assert.match(rt.precisionReason, /^auto: bf16/);
    const x = rand([2, 8, 8, 4]) as tf.Tensor4D, w = tf.variable(rand([3, 3, 4, 8]) as tf.Tensor4D);
    const loss = () => tf.sum(tf.conv2d(x, w as unknown as tf.Tensor4D, 1, 'same')) as tf.Scalar;
    // what the trainers do: gradients inside withPrecision('fp32', …), sync and async
    const g = withPrecision('fp32', () => { assert.equal(addon!.getPrecision(), 'fp32'); return tf.variableGrads(loss, [w]); });
    assert.equal(addon!.getPrecision(), 'bf16');
    await withPrecision('fp32', async () => { await Promise.resolve(); assert.equal(runtimeInfo()!.precision, 'fp32'); });
    assert.equal(runtimeInfo()!.precision, 'bf16');
    assert.throws(() => withPrecision('fp32', () => { throw new Error('boom'); }), /boom/);
    assert.equal(addon!.getPrecision(), 'bf16', 'restored after a throw');
    assert.equal((await initRuntime({})).precision, 'bf16', 'an initRuntime without a precision keeps the active one');
    tf.dispose([g.value, ...Object.values(g.grads), x, w]);
    setPrecision('fp32');
  });

  test('a training step under the bf16 default runs at fp32: the same weights, bit for bit, as under fp32', async () => {
    const { Trainer, validateTrainConfig } = await import('../../src/train/index.ts');
    const { createDenoiser } = await import('../../src/models/index.ts');
    const { createPipeline } = await import('../../src/pipeline/index.ts');
    const n = 4, px = 32 * 32, r = rng(5);
    const images = Float32Array.from({ length: n * px }, () => r() - 0.5), labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    const stepAt = (p: 'fp32' | 'auto') => {
      setPrecision(p);
      const trainer = new Trainer({
        pipeline: createPipeline({ denoiser: createDenoiser({ preset: 'tiny' }), classNames: ['a', 'b'] }),
        config: validateTrainConfig({ batchSize: n, microBatch: n, seed: 3 }), dataFingerprint: 'test', outDir: os.tmpdir(),
        openSource: () => ({ next: async () => ({ images, labels }), position: () => null }),
      });
      const before = runtimeInfo()!.precision;
      trainer.trainStep({ images, labels });
      const after = runtimeInfo()!.precision;
      const w = [...trainer.model.params.vars.values()].map((v) => Float32Array.from(v.dataSync() as Float32Array));
      trainer.dispose();
      return { before, after, w };
    };
    const a = stepAt('fp32'), b = stepAt('auto');
    setPrecision('fp32');
    assert.deepEqual([a.before, b.before, b.after], ['fp32', 'bf16', 'bf16'], 'auto is bf16 here, and is restored after the step');
    assert.deepEqual(b.w, a.w);
  });

  test('initRuntime switches the precision of the running runtime and reports it', async () => {
    assert.equal((await initRuntime({ precision: 'bf16' })).precision, 'bf16');
    assert.equal(addon!.getPrecision(), 'bf16');
    assert.equal((await initRuntime({ precision: 'fp32' })).precision, 'fp32');
    assert.equal(addon!.getPrecision(), 'fp32');
  });
});

describe('precision settings', () => {
  test('validation names the source and the allowed values', () => {
    assert.equal(parsePrecision('bf16', 'x'), 'bf16');
    assert.equal(parsePrecision(undefined, 'x'), undefined);
    assert.equal(parsePrecision('auto', 'x'), 'auto');
    assert.throws(() => parsePrecision('fp16', 'MEDDIFF_PRECISION'), /MEDDIFF_PRECISION: unknown precision 'fp16'; allowed: auto, fp32, bf16/);
    assert.throws(() => setPrecision('half' as never), /precision: unknown precision 'half'/);
  });

  const cli = fileURLToPath(new URL('../../bin/meddiff.js', import.meta.url));
  const meddiff = (args: string[], env: Record<string, string>) =>
    spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, MEDDIFF_THREADS: '1', ...env }, timeout: 60_000 });

  test('bf16 is refused on the wasm backend; auto means fp32 there', () => {
    const r = meddiff(['info', '--backend', 'wasm', '--precision', 'bf16'], {});
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /precision bf16 is only supported by the native backend/);
    const auto = meddiff(['info', '--json', '--backend', 'wasm', '--precision', 'auto'], {});
    assert.equal(auto.status, 0, auto.stderr);
    assert.deepEqual((({ precision, precisionReason }) => ({ precision, precisionReason }))(JSON.parse(auto.stdout)), { precision: 'fp32', precisionReason: 'auto: fp32 on the wasm backend' });
  });

  test('bf16 is refused where the CPU has no bf16 ISA (DNNL_MAX_CPU_ISA=AVX512_CORE)', { skip: !addon ? 'native backend not active' : typeof addon.setPrecision !== 'function' && 'the addon predates setPrecision' }, () => {
    const r = meddiff(['info', '--precision', 'bf16'], { DNNL_MAX_CPU_ISA: 'AVX512_CORE' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /precision bf16 needs a CPU with AVX512_BF16.*Use precision fp32/);
    const ok = meddiff(['info', '--json', '--precision', 'fp32'], { DNNL_MAX_CPU_ISA: 'AVX512_CORE' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as { precision: string }).precision, 'fp32');
    // the default ('auto') falls back to fp32 there, and says why
    const auto = meddiff(['info', '--json'], { DNNL_MAX_CPU_ISA: 'AVX512_CORE', MEDDIFF_PRECISION: '' });
    assert.equal(auto.status, 0, auto.stderr);
    const j = JSON.parse(auto.stdout) as { precision: string; precisionReason: string };
    assert.equal(j.precision, 'fp32');
    assert.match(j.precisionReason, /^auto: fp32/);
  });
});
