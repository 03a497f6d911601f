// The DiT denoiser (Peebles & Xie 2023) on its own: configs refused by name, shapes, adaLN-Zero's
// exact zero start, the parameter count against the paper, gradients against finite differences
// and against tfjs-cpu's composite ops, no leaks across training steps, safetensors round trip.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf, maxAbsDiff } from '../helpers.ts';
import {
  createDenoiser, validateDiTConfig, validateDenoiserConfig, validateUNetConfig, ditParameterCount, sincosPositions, presetConfig,
  decodeSafetensors, encodeSafetensors, TINY_DIT_CONFIG, SMALL_DIT_CONFIG, DEFAULT_DIT_CONFIG, type Denoiser, type DiTConfig,
} from '../../src/models/index.ts';
import { Adam } from '../../src/train/index.ts';

let active = 'wasm';
before(async () => { active = (await setup()).tfBackend; });

function inputs(b: number, cfg: DiTConfig = TINY_DIT_CONFIG, seed = 1) {
  return {
    z: tf.randomNormal([b, cfg.imageSize, cfg.imageSize, cfg.inChannels], 0, 1, 'float32', seed),
    logSnr: tf.randomUniform([b], -15, 15, 'float32', seed + 1),
    y: tf.tensor1d(Array.from({ length: b }, (_, i) => i % (cfg.numClasses + 1)), 'int32'),
  };
}

/** adaLN-Zero starts every branch and the output at zero; perturb to see the whole network. */
function perturb(m: Denoiser, sd = 0.1, seed = 7) {
  tf.tidy(() => { m.params.list().forEach((v, i) => v.assign(tf.add(v, tf.randomNormal(v.shape, 0, sd, 'float32', seed + i)))); });
}

test('invalid DiT configs name the field and the allowed values', () => {
  const bad = (o: object) => () => validateDiTConfig({ preset: 'dit-tiny', ...o } as never);
  assert.throws(bad({ patchSize: 3 }), /'patchSize' must be one of 1, 2, 4, 8, got 3/);
  assert.throws(bad({ imageSize: 15 }), /'patchSize' 2 must divide imageSize 15 .*allowed for this size: 1$/);
  assert.throws(bad({ imageSize: 12, patchSize: 8 }), /'patchSize' 8 must divide imageSize 12 .*allowed for this size: 1, 2, 4$/);
  assert.throws(bad({ numHeads: 3 }), /'numHeads' 3 must divide hiddenSize 32; allowed: a divisor of 32/);
  assert.throws(bad({ hiddenSize: 18, numHeads: 2 }), /'hiddenSize' must be a multiple of 4/);
  assert.throws(bad({ mlpRatio: 0 }), /'mlpRatio' must be a positive number/);
  assert.throws(bad({ depth: 0 }), /'depth' must be a positive integer, got 0/);
  assert.throws(bad({ embedDim: 15 }), /'embedDim' must be even/);
  assert.throws(bad({ logSnrRange: [1, 1] }), /'logSnrRange' must be \[min, max\]/);
  assert.throws(bad({ foo: 1 }), /'foo' is not a DiT option; allowed: kind, inChannels, imageSize, patchSize/);
  // a UNet's fields in a DiT config, and the reverse: the usual sign of one kind read as the other
  assert.throws(bad({ baseChannels: 64 }), /'baseChannels' is not a DiT option \(it is a UNet option: a UNet config needs kind 'unet'\)/);
  assert.throws(() => validateUNetConfig({ preset: 'tiny', patchSize: 2 } as never), /'patchSize' is not a UNet option \(it is a DiT option: a DiT config needs kind 'dit'\)/);
  assert.throws(() => validateDiTConfig({ preset: 'tiny' }), /'preset' must be one of dit-tiny, dit-s, dit-b4 \(tiny is a UNet preset: kind 'unet'\)/);
  assert.throws(() => validateDiTConfig({ kind: 'unet' } as never), /'kind' must be 'dit' for a DiT \(allowed kinds: unet, dit\)/);
  assert.throws(() => validateDenoiserConfig({ kind: 'vit' } as never), /'kind' must be one of unet, dit, got "vit"/);
  assert.equal(validateDenoiserConfig({ preset: 'dit-s' }).kind, 'dit');
  assert.equal(validateDenoiserConfig({ preset: 'small' }).kind, 'unet');
  assert.equal(validateDenoiserConfig({}).kind, 'unet', 'folders from before the DiT have UNet configs');
  assert.deepEqual(validateDiTConfig({}), DEFAULT_DIT_CONFIG);
});

test('DiT presets scale with the image size: the token grid follows, the patch only drops when it must', () => {
  const s = (name: string, n: number) => presetConfig(name, { imageSize: n, inChannels: 4, numClasses: 2 }) as DiTConfig;
  assert.deepEqual(s('dit-s', 16), SMALL_DIT_CONFIG);
  assert.equal(s('dit-s', 32).patchSize, 2);
  assert.equal(s('dit-b4', 128).patchSize, 4);
  assert.equal(s('dit-b4', 14).patchSize, 2, '28² unpadded: 14 is not divisible by 4');
  assert.equal(s('dit-tiny', 7).patchSize, 1);
  assert.equal(s('dit-s', 64).depth, SMALL_DIT_CONFIG.depth);
  assert.throws(() => s('dit-s', 129), /image size 258 \(array 129\): the dit-s preset would need patch 1 .* 16641 tokens, more than 4096; allowed pixel sizes: multiples of 4 up to 256; nearest: 256$/);
  assert.throws(() => s('dit-huge', 16), /unknown model preset "dit-huge"; allowed: tiny, small, bench, base, unet-64, unet-128, dit-tiny, dit-s, dit-b4/);
});

test('tiny DiT maps [B,16,16,4] to v of the same shape, finite, and depends on class and noise level', () => {
  const m = createDenoiser({ preset: 'dit-tiny' }, 3);
  perturb(m);
  const { z, logSnr, y } = inputs(3);
  const out = m.apply(z, logSnr, y);
  assert.deepEqual(out.shape, [3, 16, 16, 4]);
  assert.ok(out.dataSync().every(Number.isFinite));
  const byClass = m.apply(z, logSnr, tf.tensor1d([1, 2, 0], 'int32'));
  const byNoise = m.apply(z, tf.add(logSnr, 3), y);
  assert.ok(maxAbsDiff(out.dataSync(), byClass.dataSync()) > 1e-4, 'class must change the output');
  assert.ok(maxAbsDiff(out.dataSync(), byNoise.dataSync()) > 1e-4, 'log-SNR must change the output');
  assert.throws(() => m.apply(tf.zeros([1, 8, 8, 4]), tf.zeros([1]), tf.zeros([1], 'int32')), /DiT expects input \[B, 16, 16, 4\], got \[1,8,8,4\]/);
  tf.dispose([z, logSnr, y, out, byClass, byNoise]);
  m.dispose();
});

test('adaLN-Zero: the initial prediction is exactly 0, yet every parameter tensor that gates it gets a gradient', () => {
  for (const cfg of [{ preset: 'dit-tiny' }, { preset: 'dit-tiny', patchSize: 4 }, { preset: 'dit-s' }]) {
    const m = createDenoiser(cfg, 5);
    const { z, logSnr, y } = inputs(2, m.config as DiTConfig);
    const out = m.apply(z, logSnr, y);
    assert.ok(out.dataSync().every((v) => v === 0), `${JSON.stringify(cfg)}: v ≡ 0 at initialisation`);
    // with zero gates only the final linear layer (and nothing behind a zero) moves on the first step
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.apply(z, logSnr, y), z)) as tf.Scalar, m.params.list());
    const g = (name: string) => maxAbsDiff(grads[m.params.vars.get(name)!.name]!.dataSync(), new Float32Array(m.params.vars.get(name)!.size));
    assert.ok(g('final.linear.weight') > 0 && g('final.linear.bias') > 0);
    assert.equal(g('blocks.0.attn.qkv.weight'), 0, 'the attention branch is gated off');
    tf.dispose([z, logSnr, y, out, value, ...Object.values(grads)]);
    m.dispose();
  }
});

test("the parameter count matches the paper's DiT-B/4 and the formula", () => {
  for (const c of [{ preset: 'dit-tiny' }, { preset: 'dit-s' }, { preset: 'dit-tiny', mlpRatio: 2, patchSize: 4, numClasses: 5 }]) {
    const m = createDenoiser(c);
    assert.equal(m.parameterCount(), ditParameterCount(m.config as DiTConfig), JSON.stringify(c));
    m.dispose();
  }
  // Peebles & Xie, Table 4: DiT-B has 130 M parameters (DiT-B/4: 5.56 GFLOPs on 32² × 4 latents of
  // 256² ImageNet, 1,000 classes). Their count includes a second output head for the learned Σ
  // (p²·4 more outputs) and the fixed sin-cos table, which PyTorch registers as a parameter (T·D):
  // neither exists here (v only; the table is a constant), so add both to compare.
  const paper = validateDiTConfig({ preset: 'dit-b4', inChannels: 4, imageSize: 32, numClasses: 1000 });
  const ours = ditParameterCount(paper);
  const sigmaHead = 768 * 16 * 4 + 16 * 4, posTable = 64 * 768;
  assert.equal(ours, 130_377_280);
  assert.ok(Math.abs(ours + sigmaHead + posTable - 130.5e6) < 0.2e6, `DiT-B/4 as published: ${ours + sigmaHead + posTable}`);
  // dit-b4 as meddiff builds it for the paper's 256² RGB images (12 × 128² wavelet array, 2 classes):
  // the patch embedding and output grow with 12 channels, the class table shrinks to 3 rows
  assert.equal(ditParameterCount(DEFAULT_DIT_CONFIG), 129_807_552);
  assert.equal(SMALL_DIT_CONFIG.depth, 4);
  assert.ok(Math.abs(ditParameterCount(SMALL_DIT_CONFIG) - 11.2e6) < 0.05e6);
});

test('2-D sin-cos position table: MAE\'s layout, distinct rows', () => {
  const t = sincosPositions(3, 8);
  // token (row 0, col 0): sin 0 = 0, cos 0 = 1 in both halves
  assert.deepEqual([...t.subarray(0, 8)], [0, 0, 1, 1, 0, 0, 1, 1]);
  // token (row 0, col 1): the first half encodes the column
  assert.ok(Math.abs(t[8]! - Math.sin(1)) < 1e-6 && Math.abs(t[8 + 4]! - 0) < 1e-6);
  const rows = new Set(Array.from({ length: 9 }, (_, i) => t.subarray(i * 8, i * 8 + 8).join(',')));
  assert.equal(rows.size, 9);
});

const GRAD_CFG = { preset: 'dit-tiny', imageSize: 8, patchSize: 2, hiddenSize: 8, depth: 2, numHeads: 2, embedDim: 8 };
const PROBES = ['patch.weight', 'time.fc1.weight', 'class.embedding', 'blocks.0.adaLN.weight', 'blocks.0.attn.qkv.weight', 'blocks.1.attn.out.bias',
  'blocks.1.mlp.fc1.weight', 'blocks.1.mlp.fc2.weight', 'final.adaLN.bias', 'final.linear.weight'];

function gradSetup() {
  const m = createDenoiser(GRAD_CFG, 2);
  perturb(m, 0.3, 11);
  const cfg = m.config as DiTConfig;
  const { z, logSnr, y } = inputs(2, cfg, 3);
  const r = tf.randomNormal([2, 8, 8, 4], 0, 1, 'float32', 4);
  const loss = () => tf.sum(tf.mul(m.apply(z, logSnr, y), r)) as tf.Scalar;
  return { m, loss, dispose: () => { tf.dispose([z, logSnr, y, r]); m.dispose(); } };
}

test('gradients of a tiny DiT match central finite differences (fused LayerNorm and GELU included)', () => {
  const { m, loss, dispose } = gradSetup();
  const { value, grads } = tf.variableGrads(loss, m.params.list());
  const h = 1e-2;
  const evalLoss = () => tf.tidy(() => loss().dataSync()[0]!);
  for (const name of PROBES) {
    const v = m.params.vars.get(name)!;
    const g = grads[v.name]!.dataSync();
    for (const i of [0, Math.floor(v.size / 2), v.size - 1]) {
      const base = v.dataSync().slice();
      const at = (d: number) => { const w = base.slice(); w[i]! += d; tf.tidy(() => v.assign(tf.tensor(w, v.shape))); return evalLoss(); };
      const fd = (at(h) - at(-h)) / (2 * h);
      tf.tidy(() => v.assign(tf.tensor(base, v.shape)));
      assert.ok(Math.abs(fd - g[i]!) <= 5e-3 + 2e-2 * Math.abs(g[i]!), `${name}[${i}]: analytic ${g[i]}, finite difference ${fd}`);
    }
  }
  tf.dispose([value, ...Object.values(grads)]);
  dispose();
});

test('a tiny DiT gives the same output and gradients as on tfjs-cpu (composite LayerNorm and GELU)', async () => {
  const run = () => {
    const { m, loss, dispose } = gradSetup();
    const { value, grads } = tf.variableGrads(loss, m.params.list());
    const out = [value.dataSync()[0]!, ...PROBES.map((n) => grads[m.params.vars.get(n)!.name]!.dataSync().slice())];
    tf.dispose([value, ...Object.values(grads)]);
    dispose();
    return out;
  };
  const got = run();
  await tf.setBackend('cpu');
  const ref = run();
  await tf.setBackend(active);
  assert.ok(Math.abs((got[0] as number) - (ref[0] as number)) <= 1e-4 * Math.abs(ref[0] as number) + 1e-4, `loss ${got[0]} vs ${ref[0]}`);
  PROBES.forEach((n, i) => {
    const a = got[i + 1] as Float32Array, b = ref[i + 1] as Float32Array;
    const scale = Math.max(...b.map(Math.abs));
    assert.ok(maxAbsDiff(a, b) <= 1e-4 * scale + 1e-6, `${n}: max diff ${maxAbsDiff(a, b)} (scale ${scale})`);
  });
});

test('training steps of a tiny DiT (Adam) leave tf.memory().numTensors flat', () => {
  const m = createDenoiser({ preset: 'dit-tiny' });
  const adam = new Adam(m.params.vars, { warmupSteps: 0 });
  const { z, logSnr, y } = inputs(4);
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(m.apply(z, logSnr, y), z))) as tf.Scalar, m.params.list());
    const named: Record<string, tf.Tensor> = {};
    for (const [name, v] of m.params.vars) named[name] = grads[v.name]!;
    adam.apply(named);
    const l = value.dataSync()[0]!;
    value.dispose(); tf.dispose(Object.values(grads));
    return l;
  };
  step(); // warm-up (kernels, caches)
  const before = tf.memory().numTensors;
  const losses = [0, 1, 2, 3].map(step);
  assert.equal(tf.memory().numTensors, before, 'tensors leaked by DiT training steps');
  assert.ok(losses.every(Number.isFinite));
  tf.tidy(() => { m.apply(z, logSnr, y); });
  assert.equal(tf.memory().numTensors, before, 'tensors leaked by a forward pass');
  tf.dispose([z, logSnr, y]);
  adam.dispose();
  m.dispose();
});

test('safetensors: readable names, save → load gives identical outputs, another config is refused', () => {
  const a = createDenoiser({ preset: 'dit-tiny' }, 11);
  perturb(a);
  const names = [...a.params.vars.keys()];
  for (const n of ['patch.weight', 'time.fc2.bias', 'class.embedding', 'blocks.1.attn.qkv.weight', 'blocks.1.attn.out.weight', 'blocks.0.mlp.fc1.weight', 'blocks.0.adaLN.weight', 'final.adaLN.weight', 'final.linear.bias']) {
    assert.ok(names.includes(n), `missing ${n}`);
  }
  assert.ok(!names.some((n) => n.includes('pos')), 'the position table is fixed, not a weight');
  const file = encodeSafetensors(a.params.toNamedArrays());
  const b = createDenoiser({ preset: 'dit-tiny' }, 99);
  b.params.loadNamedArrays(decodeSafetensors(file).tensors, 'w');
  const { z, logSnr, y } = inputs(2);
  const oa = a.apply(z, logSnr, y), ob = b.apply(z, logSnr, y);
  assert.equal(maxAbsDiff(oa.dataSync(), ob.dataSync()), 0);
  const wider = createDenoiser({ preset: 'dit-tiny', hiddenSize: 64 });
  assert.throws(() => wider.params.loadNamedArrays(decodeSafetensors(file).tensors, 'w'), /w: tensor '.*' has shape .* but the model expects/);
  const unet = createDenoiser({ preset: 'tiny' });
  assert.throws(() => unet.params.loadNamedArrays(decodeSafetensors(file).tensors, 'w'), /w: unexpected tensors blocks\.0\..*another model config/);
  tf.dispose([z, logSnr, y, oa, ob]);
  [a, b, wider, unet].forEach((m) => m.dispose());
});
