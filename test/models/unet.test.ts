import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setup, tf, maxAbsDiff } from '../helpers.ts';
import {
  createDenoiser, validateUNetConfig, BENCH_UNET_CONFIG, TINY_UNET_CONFIG, saveSafetensors, loadSafetensors,
  encodeSafetensors, decodeSafetensors,
} from '../../src/models/index.ts';
import { toHalf, fromHalf } from '../../src/models/safetensors.ts';

before(setup);

function inputs(b: number, cfg = TINY_UNET_CONFIG, seed = 1) {
  return {
    z: tf.randomNormal([b, cfg.imageSize, cfg.imageSize, cfg.inChannels], 0, 1, 'float32', seed),
    logSnr: tf.randomUniform([b], -15, 15, 'float32', seed + 1),
    y: tf.tensor1d(Array.from({ length: b }, (_, i) => i % (cfg.numClasses + 1)), 'int32'),
  };
}

test('bench UNet has about 8.1 M parameters and the documented structure', () => {
  const m = createDenoiser({ preset: 'bench' });
  try {
    const n = m.parameterCount();
    assert.ok(n > 7.9e6 && n < 8.3e6, `parameter count ${n}`);
    assert.equal(m.nullClass, 2);
    const names = [...m.params.vars.keys()];
    assert.ok(names.includes('down.0.res.conv1.weight'));
    assert.ok(names.some((k) => k.startsWith('mid.attn.cross.kv')));
    assert.ok(names.includes('class.embedding'));
    assert.deepEqual(m.params.vars.get('class.embedding')!.shape, [3, BENCH_UNET_CONFIG.classEmbedDim]);
  } finally {
    m.dispose();
  }
});

test('tiny UNet maps [B,16,16,4] to v of the same shape, finite, and depends on the class', () => {
  const m = createDenoiser({ preset: 'tiny' }, 3);
  // zero-initialised output conv makes v ≡ 0; perturb it so the test sees the whole network
  tf.tidy(() => { for (const v of m.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 7))); });
  const { z, logSnr, y } = inputs(3);
  const out = m.apply(z, logSnr, y);
  assert.deepEqual(out.shape, [3, 16, 16, 4]);
  assert.ok(out.dataSync().every(Number.isFinite));
  const out2 = m.apply(z, logSnr, tf.tensor1d([1, 2, 0], 'int32'));
  assert.ok(maxAbsDiff(out.dataSync(), out2.dataSync()) > 1e-4, 'class must change the output');
  tf.dispose([z, logSnr, y, out, out2]);
  m.dispose();
});

test('same seed gives the same weights; another seed does not', () => {
  const a = createDenoiser({ preset: 'tiny' }, 5), b = createDenoiser({ preset: 'tiny' }, 5), c = createDenoiser({ preset: 'tiny' }, 6);
  const wa = a.params.vars.get('input.weight')!.dataSync();
  assert.equal(maxAbsDiff(wa, b.params.vars.get('input.weight')!.dataSync()), 0);
  assert.ok(maxAbsDiff(wa, c.params.vars.get('input.weight')!.dataSync()) > 0);
  [a, b, c].forEach((m) => m.dispose());
});

test('invalid configs name the field and the allowed values', () => {
  assert.throws(() => validateUNetConfig({ preset: 'tiny', groups: 3 }), /'groups'.*divide/);
  assert.throws(() => validateUNetConfig({ preset: 'tiny', attentionResolutions: [5] }), /'attentionResolutions'.*never reaches; allowed: 16, 8/);
  assert.throws(() => validateUNetConfig({ preset: 'tiny', baseChannels: 0 }), /'baseChannels' must be a positive integer/);
  assert.throws(() => validateUNetConfig({ preset: 'tiny', imageSize: -4 }), /'imageSize'/);
  assert.throws(() => validateUNetConfig({ preset: 'tiny', foo: 1 } as never), /'foo' is not a UNet option; allowed: kind, inChannels/);
  assert.throws(() => validateUNetConfig({ preset: 'huge' }), /'preset' must be one of tiny, small, bench, base/);
  assert.throws(() => validateUNetConfig({ preset: 'tiny', channelMult: [] }), /'channelMult'/);
  assert.throws(() => validateUNetConfig({ preset: 'tiny', imageSize: 6, channelMult: [1, 2, 2] }), /'imageSize' 6 must be divisible by/);
  assert.throws(() => validateUNetConfig({ preset: 'tiny', embedDim: 15 }), /'embedDim' must be even/);
  const ok = validateUNetConfig({ preset: 'tiny', numClasses: 5 });
  assert.equal(ok.numClasses, 5);
  assert.equal(ok.baseChannels, TINY_UNET_CONFIG.baseChannels);
});

test('wrong input shape is refused with the expected shape', () => {
  const m = createDenoiser({ preset: 'tiny' });
  const z = tf.zeros([1, 8, 8, 4]);
  assert.throws(() => m.apply(z, tf.zeros([1]), tf.zeros([1], 'int32')), /expects input \[B, 16, 16, 4\], got \[1,8,8,4\]/);
  z.dispose();
  m.dispose();
});

test('safetensors: save → load gives identical outputs; F16 round trip is close', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meddiff-st-'));
  const a = createDenoiser({ preset: 'tiny' }, 11);
  tf.tidy(() => { for (const v of a.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 9))); });
  const file = path.join(dir, 'model.safetensors');
  saveSafetensors(file, a.params.toNamedArrays(), { metadata: { format: 'meddiff' } });
  const { tensors, metadata } = loadSafetensors(file);
  assert.equal(metadata.format, 'meddiff');
  const b = createDenoiser({ preset: 'tiny' }, 99);
  b.params.loadNamedArrays(tensors, file);
  const { z, logSnr, y } = inputs(2);
  const oa = a.apply(z, logSnr, y), ob = b.apply(z, logSnr, y);
  assert.equal(maxAbsDiff(oa.dataSync(), ob.dataSync()), 0);
  // fp16 for shipped weights
  const half = decodeSafetensors(encodeSafetensors(a.params.toNamedArrays(), { dtype: 'F16' })).tensors;
  const w = a.params.vars.get('input.weight')!.dataSync();
  assert.ok(maxAbsDiff(w, half.get('input.weight')!.data) < 1e-3);
  tf.dispose([z, logSnr, y, oa, ob]);
  a.dispose(); b.dispose();
  fs.rmSync(dir, { recursive: true });
});

test('safetensors: truncated file and weights of another config are refused clearly', () => {
  const a = createDenoiser({ preset: 'tiny' });
  const buf = encodeSafetensors(a.params.toNamedArrays());
  assert.throws(() => decodeSafetensors(buf.subarray(0, buf.length - 100), 'x.safetensors'), /x.safetensors: tensor .* \(truncated\)/);
  assert.throws(() => decodeSafetensors(buf.subarray(0, 4), 'x.safetensors'), /too short/);
  const other = createDenoiser({ preset: 'tiny', baseChannels: 16 });
  assert.throws(() => other.params.loadNamedArrays(decodeSafetensors(buf).tensors, 'w'), /w: tensor '.*' has shape .* but the model expects/);
  a.dispose(); other.dispose();
});

test('half-precision conversion handles normals, subnormals, overflow and rounding', () => {
  for (const x of [0, 1, -2, 0.5, 65504, 1e-5, -3.14159, 6e-8]) {
    const r = fromHalf(toHalf(x));
    assert.ok(Math.abs(r - x) <= Math.max(Math.abs(x) * 1e-3, 6e-8), `${x} → ${r}`);
  }
  assert.equal(fromHalf(toHalf(1e6)), Infinity);
  assert.equal(toHalf(1), 0x3c00);
  assert.ok(Number.isNaN(fromHalf(toHalf(NaN))));
});

test('a training step leaks no tensors', () => {
  const m = createDenoiser({ preset: 'tiny' });
  const { z, logSnr, y } = inputs(2);
  const opt = tf.train.sgd(0.01);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) {
    const cost = opt.minimize(() => tf.mean(tf.square(tf.sub(m.apply(z, logSnr, y), z))) as tf.Scalar, true, m.params.list());
    cost?.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([z, logSnr, y]);
  opt.dispose();
  m.dispose();
});
