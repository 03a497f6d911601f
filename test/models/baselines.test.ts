// The discriminative baselines (ResNet-18/50, EfficientNet-B0, ViT-S/16): shapes for grayscale and RGB,
// configs refused by field, parameter counts against torchvision/timm, batch-norm running statistics,
// seeded dropout, gradients and a few SGD steps, no tensor leaks; and the ops blocks.ts adds (depthwise
// conv gradient, fused batch norm + SiLU, squeeze-excitation helpers, LayerNorm) against composite ops.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf, maxAbsDiff, relErr, values } from '../helpers.ts';
import { BASELINE_ARCHS, BatchNorm2d, EfficientNet, PendingStats, createBaseline, validateBaselineConfig, type BaselineArch, type BaselineNet } from '../../src/models/baselines/index.ts';
import { batchNormAct, channelScale, checkpoint, columnSum, depthwiseConv2d, LayerNorm, spatialMean } from '../../src/models/baselines/blocks.ts';
import { Params } from '../../src/models/params.ts';
import { Linear } from '../../src/models/layers.ts';
import { gelu } from '../../src/runtime/index.ts';

before(async () => { await setup(); });

/** One small model per (arch, channels), built once: building ResNet-50 costs ~0.5 s. */
const cache = new Map<string, BaselineNet>();
function model(kind: BaselineArch, inChannels: 1 | 3 = 1, extra: { dropout?: number; imageSize?: number; numClasses?: number; patchSize?: number } = {}): BaselineNet {
  const key = JSON.stringify([kind, inChannels, extra]);
  let m = cache.get(key);
  if (!m) cache.set(key, (m = createBaseline({ kind, inChannels, imageSize: 28, numClasses: 3, ...extra }, 1)));
  return m;
}
after(() => { for (const m of cache.values()) m.dispose(); });

const images = (b: number, c: number, size = 28, seed = 3) => tf.randomUniform([b, size, size, c], -1, 1, 'float32', seed);
const FIRST: Record<BaselineArch, string> = { resnet18: 'conv1.weight', resnet50: 'conv1.weight', 'efficientnet-b0': 'features.0.0.weight', 'vit-s16': 'patch_embed.proj.weight' };
const LAST: Record<BaselineArch, string> = { resnet18: 'fc.weight', resnet50: 'fc.weight', 'efficientnet-b0': 'classifier.1.weight', 'vit-s16': 'head.weight' };
const param = (m: BaselineNet, name: string) => { const v = m.params.vars.get(name); assert.ok(v, `no parameter '${name}'`); return v; };
const ce = (logits: tf.Tensor, labels: number[], k: number) => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), k), logits) as tf.Scalar;

test('every architecture maps [B, 28, 28, C] to finite logits [B, K] for grayscale and RGB', () => {
  for (const kind of BASELINE_ARCHS) {
    for (const c of [1, 3] as const) {
      const m = model(kind, c);
      const out = tf.tidy(() => values(m.apply(images(2, c), { training: false, dropout: false })));
      const shape = tf.tidy(() => m.apply(images(2, c), { training: true, dropout: true, seed: 1 }).shape);
      m.updateBuffers();
      assert.deepEqual(shape, [2, 3], `${kind} ${c}ch`);
      assert.equal(out.length, 6);
      assert.ok(out.every(Number.isFinite), `${kind} ${c}ch logits not finite: ${out}`);
    }
  }
});

test("EfficientNet's small-input strides: 28² ends at 4² (1² with ImageNet's), 64² at 2² (/32)", () => {
  const side = (imageSize: number, smallInputStem?: boolean) => {
    const m = createBaseline({ kind: 'efficientnet-b0', inChannels: 1, imageSize, numClasses: 2, ...(smallInputStem === undefined ? {} : { smallInputStem }) }) as EfficientNet;
    const shape = tf.tidy(() => m.features(images(1, 1, imageSize), false).shape);
    m.dispose();
    return shape;
  };
  assert.deepEqual(side(28), [1, 4, 4, 1280]);
  assert.deepEqual(side(28, false), [1, 1, 1, 1280]);
  assert.deepEqual(side(64), [1, 2, 2, 1280]);
});

test('invalid baseline configs name the field', () => {
  const base = { inChannels: 1, imageSize: 28, numClasses: 2 } as const;
  assert.throws(() => validateBaselineConfig({ ...base, kind: 'vit-b16' as never }), /'kind' must be one of resnet18, resnet50, efficientnet-b0, vit-s16, got "vit-b16"/);
  assert.throws(() => validateBaselineConfig({ ...base, kind: 'vit-s16', patchSize: 5 }), /'patchSize' must be a whole number dividing the image side 28 .*got 5/);
  assert.throws(() => validateBaselineConfig({ ...base, kind: 'efficientnet-b0', dropout: 1 }), /'dropout' must be in \[0, 1\), got 1/);
  assert.throws(() => validateBaselineConfig({ ...base, kind: 'resnet18', patchSize: 4 }), /'patchSize' applies to vit-s16 only, not 'resnet18'/);
  assert.throws(() => createBaseline({ ...base, kind: 'efficientnet-b0', patchSize: 4 }), /'patchSize' applies to vit-s16 only/);
  const v = validateBaselineConfig({ ...base, kind: 'vit-s16' });
  assert.equal(v.patchSize, 4, '28² → 4×4 patches');
  assert.equal(validateBaselineConfig({ ...base, kind: 'efficientnet-b0' }).dropout, 0.2, "EfficientNet-B0's own dropout");
});

test('parameter counts at 224², RGB, 1000 classes match torchvision and timm', () => {
  const expected: Record<BaselineArch, number> = { resnet18: 11_689_512, resnet50: 25_557_032, 'efficientnet-b0': 5_288_548, 'vit-s16': 22_050_664 };
  for (const kind of BASELINE_ARCHS) {
    const m = createBaseline({ kind, inChannels: 3, imageSize: 224, numClasses: 1000 });
    try { assert.equal(m.parameterCount(), expected[kind], kind); } finally { m.dispose(); }
  }
  // 28², 1 channel, 2 classes: ViT's patch embedding (16·384 + 384), positions (50·384) and head (384·2 + 2) change
  assert.equal(model('vit-s16', 1, { numClasses: 2 }).parameterCount(), 22_050_664 - 295_296 - 197 * 384 - 385_000 + (16 * 384 + 384) + 50 * 384 + 770);
});

test('batch norm: a training pass moves the running statistics 10% toward the batch (after updateBuffers only)', () => {
  for (const [kind, stem] of [['resnet18', 'bn1'], ['efficientnet-b0', 'features.0.1']] as const) {
    const m = createBaseline({ kind, inChannels: 1, imageSize: 16, numClasses: 2 }, 2);
    const x = images(4, 1, 16, 5);
    const rm = m.buffers.vars.get(`${stem}.running_mean`)!, rv = m.buffers.vars.get(`${stem}.running_var`)!;
    // the stem conv (3×3 stride 1 on small inputs), computed here: its batch moments are what BN sees
    const conv = tf.conv2d(x as tf.Tensor4D, param(m, FIRST[kind]) as tf.Tensor4D, 1, 'same');
    const { mean, variance } = tf.moments(conv, [0, 1, 2]);
    const n = conv.size / conv.shape[3]!;
    tf.tidy(() => m.apply(x, { training: true, dropout: false }));
    assert.equal(maxAbsDiff(values(rm), new Float32Array(rm.size)), 0, `${kind}: running mean changed before updateBuffers`);
    m.updateBuffers();
    assert.ok(maxAbsDiff(values(rm), values(tf.mul(mean, 0.1))) < 1e-5, `${kind}: running mean ≠ 0.1·batch mean`);
    assert.ok(maxAbsDiff(values(rv), values(tf.add(0.9, tf.mul(variance, 0.1 * n / (n - 1))))) < 1e-4, `${kind}: running var ≠ 0.9 + 0.1·unbiased batch var`);
    assert.ok(maxAbsDiff(values(rm), new Float32Array(rm.size)) > 1e-4, 'the check above is not vacuous');
    tf.dispose([x, conv, mean, variance]);
    m.dispose();
  }
});

test('eval mode is deterministic and independent of the batch (same image alone or among others → same logits)', () => {
  for (const kind of ['resnet18', 'efficientnet-b0', 'vit-s16'] as const) {
    const m = model(kind, 3);
    const x = images(4, 3, 28, 9);
    const all = tf.tidy(() => values(m.apply(x, { training: false, dropout: false })));
    const again = tf.tidy(() => values(m.apply(x, { training: false, dropout: false })));
    const alone = tf.tidy(() => values(m.apply(tf.slice(x, [2, 0, 0, 0], [1, 28, 28, 3]), { training: false, dropout: false })));
    assert.deepEqual(again, all, `${kind}: eval is not deterministic`);
    assert.ok(relErr(alone, all.slice(6, 9)) < 1e-4, `${kind}: image 2 alone ${alone} vs in the batch ${all.slice(6, 9)}`);
    // and training mode is not (batch statistics): the contrast shows the check can fail
    if (kind !== 'vit-s16') {
      const t = tf.tidy(() => values(m.apply(tf.slice(x, [0, 0, 0, 0], [3, 28, 28, 3]), { training: true, dropout: false })));
      m.updateBuffers();
      const t2 = tf.tidy(() => values(m.apply(x, { training: true, dropout: false })));
      m.updateBuffers();
      assert.ok(relErr(t.slice(6, 9), t2.slice(6, 9)) > 1e-3, `${kind}: training mode should depend on the batch`);
    }
    x.dispose();
  }
});

test('dropout: masks are a function of the seed; off, or a model without dropout, ignores it', () => {
  // EfficientNet in training mode (batch statistics) so its logits are O(1): at init its eval-mode ones are ~1e-13
  const cases = [['efficientnet-b0', model('efficientnet-b0', 1), true], ['vit-s16', model('vit-s16', 1, { dropout: 0.3 }), false]] as const;
  for (const [kind, m, training] of cases) {
    const x = images(2, 1, 28, 4);
    const run = (dropout: boolean, seed: number) => { const v = tf.tidy(() => values(m.apply(x, { training, dropout, seed }))); m.updateBuffers(); return v; };
    const on7 = run(true, 7), off7 = run(false, 7);
    assert.deepEqual(run(true, 7), on7, `${kind}: same seed, different logits`);
    assert.ok(maxAbsDiff(run(true, 8), on7) > 1e-3, `${kind}: different seeds, same logits`);
    assert.deepEqual(run(false, 8), off7, `${kind}: dropout off depends on the seed`);
    assert.ok(maxAbsDiff(on7, off7) > 1e-3, `${kind}: dropout on changes nothing`);
    x.dispose();
  }
  for (const m of [model('resnet18', 1), createBaseline({ kind: 'efficientnet-b0', inChannels: 1, imageSize: 16, numClasses: 2, dropout: 0 })]) {
    const x = images(2, 1, m.config.imageSize, 4);
    const a = tf.tidy(() => values(m.apply(x, { training: false, dropout: true, seed: 3 })));
    const b = tf.tidy(() => values(m.apply(x, { training: false, dropout: false })));
    assert.deepEqual(a, b, `${m.config.kind} with dropout 0 changed by dropout: true`);
    x.dispose();
    if (m.config.imageSize === 16) m.dispose();
  }
});

test('gradients of a cross-entropy reach the first and the last layer of every architecture, finite and non-zero', () => {
  for (const kind of BASELINE_ARCHS) {
    const m = model(kind, 1);
    const x = images(4, 1, 28, 6);
    // the ViT has no batch norm: every parameter must get a gradient (in the CNNs a bias before a batch norm has exactly none)
    const vars = kind === 'vit-s16' ? m.params.list() : [param(m, FIRST[kind]), param(m, LAST[kind])];
    const { value, grads } = tf.variableGrads(() => ce(m.apply(x, { training: true, dropout: true, seed: 2 }), [0, 1, 2, 1], 3), vars);
    m.updateBuffers();
    assert.ok(Number.isFinite(value.dataSync()[0]!));
    for (const v of vars) {
      const g = values(grads[v.name]!);
      assert.ok(g.every(Number.isFinite), `${kind}: gradient of ${v.name} not finite`);
      assert.ok(g.some((e) => Math.abs(e) > 1e-9), `${kind}: gradient of ${[...m.params.vars].find(([, w]) => w === v)![0]} is zero`);
    }
    tf.dispose([x, value, ...Object.values(grads)]);
  }
});

test('a few SGD steps on 8 fixed images of 2 classes lower the loss', () => {
  // class 1 has a bright left half: learnable in a few steps by any of the architectures
  const labels = [0, 1, 0, 1, 0, 1, 0, 1];
  const x = tf.tidy(() => {
    const noise = tf.randomUniform([8, 16, 16, 1], -0.5, 0.5, 'float32', 11);
    const half = tf.concat([tf.ones([1, 16, 8, 1]), tf.zeros([1, 16, 8, 1])], 2);
    return tf.add(noise, tf.mul(tf.reshape(tf.tensor1d(labels), [8, 1, 1, 1]), half));
  });
  // EfficientNet's plain-SGD step must be small: torchvision's fan-out init gives its depthwise convs tiny
  // outputs, so the weights before each batch norm get gradients of order 100 (Adam, as training uses, does not care)
  for (const [kind, lr] of [['resnet18', 0.02], ['efficientnet-b0', 3e-4], ['vit-s16', 0.01]] as const) {
    const m = model(kind, 1, { imageSize: 16, numClasses: 2, ...(kind === 'vit-s16' ? { patchSize: 4 } : {}) });
    const losses: number[] = [];
    for (let step = 0; step < 3; step++) {
      const { value, grads } = tf.variableGrads(() => ce(m.apply(x, { training: true, dropout: false }), labels, 2), m.params.list());
      losses.push(value.dataSync()[0]!);
      tf.tidy(() => { for (const v of m.params.list()) v.assign(tf.sub(v, tf.mul(grads[v.name]!, lr))); });
      tf.dispose([value, ...Object.values(grads)]);
      m.updateBuffers();
    }
    const last = tf.tidy(() => ce(m.apply(x, { training: true, dropout: false }), labels, 2).dataSync()[0]!);
    m.updateBuffers();
    assert.ok(last < losses[0]! * 0.8, `${kind}: loss ${losses.map((l) => l.toFixed(3)).join(' → ')} → ${last.toFixed(3)} did not fall`);
  }
  x.dispose();
});

test('no tensor leaks: eval apply, training apply + updateBuffers, and a gradient step', () => {
  for (const kind of BASELINE_ARCHS) {
    const m = model(kind, 1);
    const x = images(2, 1, 28, 8);
    const n0 = tf.memory().numTensors;
    m.apply(x, { training: false, dropout: true, seed: 1 }).dispose();
    assert.equal(tf.memory().numTensors, n0, `${kind}: eval apply leaked`);
    m.apply(x, { training: true, dropout: true, seed: 1 }).dispose();
    m.updateBuffers();
    assert.equal(tf.memory().numTensors, n0, `${kind}: training apply + updateBuffers leaked`);
    const { value, grads } = tf.variableGrads(() => ce(m.apply(x, { training: true, dropout: false }), [0, 1], 3), m.params.list());
    tf.dispose([value, ...Object.values(grads)]);
    m.updateBuffers();
    assert.equal(tf.memory().numTensors, n0, `${kind}: a gradient step leaked`);
    x.dispose();
  }
});

// --- blocks.ts against composite references ---

test('depthwiseConv2d and its gradients equal a conv2d with a block-diagonal filter (PyTorch padding, strides 1 and 2)', () => {
  for (const [h, k, s] of [[8, 3, 1], [8, 3, 2], [7, 5, 2], [6, 5, 2], [5, 5, 1]] as const) {
    tf.tidy(() => {
      const x = tf.randomNormal([2, h, h, 4], 0, 1, 'float32', h + k), w = tf.randomNormal([k, k, 4, 1], 0, 1, 'float32', s);
      const ref = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, tf.mul(b, tf.reshape(tf.eye(4), [1, 1, 4, 4])) as tf.Tensor4D, s, (k - 1) / 2);
      const r = tf.randomNormal(ref(x, w).shape, 0, 1, 'float32', 9);
      const g = (f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), r)))([x, w]);
      const what = `${h}² k${k} s${s}`;
      assert.deepEqual(depthwiseConv2d(x, w, s).shape, ref(x, w).shape, what);
      assert.ok(relErr(values(depthwiseConv2d(x, w, s)), values(ref(x, w))) < 1e-5, `${what}: forward`);
      const [dx, dw] = g((a, b) => depthwiseConv2d(a, b, s)), [rx, rw] = g(ref);
      assert.ok(relErr(values(dx!), values(rx!)) < 1e-5, `${what}: dx`);
      assert.ok(relErr(values(dw!), values(rw!)) < 1e-5, `${what}: dw`);
    });
  }
});

test('batchNormAct equals BatchNorm2d.apply (+ SiLU) in value, gradients and recorded statistics', () => {
  const p = new Params(4), b = new Params(4);
  const sFused = new PendingStats(), sRef = new PendingStats();
  const bn = new BatchNorm2d(p, b, 'bn', 6, sRef, { eps: 1e-3 });
  tf.tidy(() => { bn.gamma.assign(tf.randomNormal([6], 1, 0.5, 'float32', 1)); bn.beta.assign(tf.randomNormal([6], 0, 0.5, 'float32', 2)); });
  const x = tf.add(tf.randomNormal([3, 5, 4, 6], 0, 2, 'float32', 3), 4); // |mean| > σ: the two-pass variance matters
  const r = tf.randomNormal([3, 5, 4, 6], 0, 1, 'float32', 4);
  for (const silu of [false, true]) {
    const ref = (a: tf.Tensor) => { const y = bn.apply(a, true); return silu ? tf.mul(y, tf.sigmoid(y)) : y; };
    const fused = (a: tf.Tensor) => batchNormAct(a, bn, 1e-3, sFused, true, silu);
    const grads = (f: (a: tf.Tensor) => tf.Tensor) => tf.variableGrads(() => tf.sum(tf.mul(f(xv), r)) as tf.Scalar, [xv, bn.gamma, bn.beta]);
    const xv = tf.variable(x);
    const a = grads(fused), c = grads(ref);
    assert.ok(Math.abs(a.value.dataSync()[0]! - c.value.dataSync()[0]!) < 1e-3 * Math.abs(c.value.dataSync()[0]!) + 1e-4, `silu ${silu}: value`);
    for (const v of [xv, bn.gamma, bn.beta]) assert.ok(relErr(values(a.grads[v.name]!), values(c.grads[v.name]!)) < 1e-4, `silu ${silu}: gradient of ${v.name}`);
    tf.dispose([a.value, c.value, ...Object.values(a.grads), ...Object.values(c.grads), xv]);
    sFused.apply(); const fusedStats = [values(bn.runningMean), values(bn.runningVar)];
    bn.runningMean.assign(tf.zeros([6])); bn.runningVar.assign(tf.ones([6]));
    sRef.apply(); assert.ok(maxAbsDiff(fusedStats[0]!, values(bn.runningMean)) < 1e-5 && maxAbsDiff(fusedStats[1]!, values(bn.runningVar)) < 1e-4, `silu ${silu}: running stats`);
    bn.runningMean.assign(tf.zeros([6])); bn.runningVar.assign(tf.ones([6]));
  }
  tf.tidy(() => {
    const ev = batchNormAct(x, bn, 1e-3, sFused, false, true), evRef = bn.apply(x, false);
    assert.ok(relErr(values(ev), values(tf.mul(evRef, tf.sigmoid(evRef)))) < 1e-5, 'eval mode');
  });
  tf.dispose([x, r]); p.dispose(); b.dispose();
});

test('squeeze-excitation helpers and LayerNorm equal their composite forms, gradients included', () => {
  tf.tidy(() => {
    const x = tf.randomNormal([2, 3, 5, 4], 0, 1, 'float32', 1), s = tf.randomNormal([2, 4], 0, 1, 'float32', 2);
    assert.ok(relErr(values(spatialMean(x)), values(tf.mean(x, [1, 2]))) < 1e-6, 'spatialMean');
    assert.ok(relErr(values(columnSum(x)), values(tf.sum(x, [0, 1, 2]))) < 1e-6, 'columnSum');
    const r = tf.randomNormal([2, 3, 5, 4], 0, 1, 'float32', 3);
    const ref = (a: tf.Tensor, b: tf.Tensor) => tf.mul(a, tf.reshape(b, [2, 1, 1, 4]));
    const g = (f: typeof ref) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), r)))([x, s]);
    const [gx, gs] = g(channelScale), [rx, rs] = g(ref);
    assert.ok(relErr(values(channelScale(x, s)), values(ref(x, s))) < 1e-6 && relErr(values(gx!), values(rx!)) < 1e-5 && relErr(values(gs!), values(rs!)) < 1e-5, 'channelScale');
  });
  const p = new Params(5);
  const ln = new LayerNorm(p, 'ln', 8, 1e-6);
  tf.tidy(() => {
    ln.weight.assign(tf.randomNormal([8], 1, 0.3, 'float32', 6)); ln.bias.assign(tf.randomNormal([8], 0, 0.3, 'float32', 7));
    const x = tf.randomNormal([3, 5, 8], 1, 2, 'float32', 8), r = tf.randomNormal([3, 5, 8], 0, 1, 'float32', 9);
    const ref = (a: tf.Tensor) => { const { mean, variance } = tf.moments(a, -1, true); return tf.add(tf.mul(tf.div(tf.sub(a, mean), tf.sqrt(tf.add(variance, 1e-6))), ln.weight), ln.bias); };
    assert.ok(relErr(values(ln.apply(x)), values(ref(x))) < 1e-5, 'LayerNorm value');
    const g = (f: (a: tf.Tensor) => tf.Tensor) => { const xv = tf.variable(x); const out = tf.variableGrads(() => tf.sum(tf.mul(f(xv), r)) as tf.Scalar, [xv, ln.weight, ln.bias]); const gs = [xv, ln.weight, ln.bias].map((v) => values(out.grads[v.name]!)); xv.dispose(); return gs; };
    const a = g((t) => ln.apply(t)), c = g(ref);
    a.forEach((ga, i) => assert.ok(relErr(ga, c[i]!) < 1e-4, `LayerNorm gradient ${i}`));
  });
  p.dispose();
});

test('checkpoint() gives the gradients of the plain block, keeps fewer tensors on the tape, and leaks none', () => {
  const p = new Params(6);
  const ln = new LayerNorm(p, 'ln', 8), fc1 = new Linear(p, 'fc1', 8, 16), fc2 = new Linear(p, 'fc2', 16, 8);
  const block = (t: tf.Tensor) => tf.add(t, fc2.apply(gelu(fc1.apply(ln.apply(t)))));
  const x = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 1), r = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 2);
  const run = (ck: boolean) => {
    let taped = 0;
    const out = tf.variableGrads(() => {
      // two blocks, and a use of x outside them, as in the ViT
      let h = tf.mul(x, p.vars.get('ln.weight')!.reshape([1, 1, 8]));
      for (let i = 0; i < 2; i++) h = ck ? checkpoint(block, h, p.list()) : block(h);
      taped = tf.memory().numTensors;
      return tf.sum(tf.mul(h, r)) as tf.Scalar;
    }, p.list());
    const g = p.list().map((v) => values(out.grads[v.name]!));
    tf.dispose([out.value, ...Object.values(out.grads)]);
    return { g, taped };
  };
  const n0 = tf.memory().numTensors;
  const plain = run(false), ck = run(true);
  assert.equal(tf.memory().numTensors, n0, 'checkpointed gradients leaked tensors');
  plain.g.forEach((g, i) => assert.ok(relErr(ck.g[i]!, g) < 1e-5, `gradient of ${p.list()[i]!.name}`));
  assert.ok(ck.taped < plain.taped, `checkpointing kept ${ck.taped} tensors, the plain block ${plain.taped}`);
  tf.dispose([x, r]); p.dispose();
});
