import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from '../helpers.ts';
import {
  presetConfig, validateUNetConfig, unetResolutions, createDenoiser, UNET_PRESETS, TINY_UNET_CONFIG, BENCH_UNET_CONFIG,
  DEFAULT_UNET_CONFIG, MAX_ATTENTION_RESOLUTION, MIN_LOWEST_RESOLUTION, type UNetConfig,
} from '../../src/models/index.ts';

before(setup);

const scale = (name: string, imageSize: number, inChannels = 4, numClasses = 2) => presetConfig(name, { imageSize, inChannels, numClasses }) as UNetConfig;

test('at its native size each preset is exactly today\'s preset', () => {
  assert.deepEqual(scale('tiny', 16), TINY_UNET_CONFIG);
  assert.deepEqual(scale('small', 16), BENCH_UNET_CONFIG);
  assert.deepEqual(scale('bench', 16), BENCH_UNET_CONFIG);
  assert.deepEqual(scale('base', 128, 12), DEFAULT_UNET_CONFIG);
  // data-dependent fields follow the data, nothing else changes
  const rgb = scale('tiny', 16, 12, 5);
  assert.deepEqual(rgb, { ...TINY_UNET_CONFIG, inChannels: 12, numClasses: 5 });
});

test('every preset builds at 32–256 pixels with the preset widths and attention low and ≤ 16', () => {
  for (const name of Object.keys(UNET_PRESETS)) {
    const p = UNET_PRESETS[name]!;
    const pLowest = p.imageSize / 2 ** (p.channelMult.length - 1);
    for (const px of [32, 64, 128, 256]) {
      const n = px / 2;
      const cfg = scale(name, n, 4, 3);
      assert.deepEqual(validateUNetConfig(cfg), cfg, `${name}@${px} validates`);
      assert.equal(cfg.imageSize, n);
      assert.equal(cfg.numClasses, 3);
      for (const k of ['baseChannels', 'numResBlocks', 'numHeads', 'groups', 'embedDim', 'classEmbedDim', 'midAttention'] as const) assert.equal(cfg[k], p[k], `${name}@${px} ${k}`);
      // multipliers: the preset's, its last one repeated for extra levels
      cfg.channelMult.forEach((m, i) => assert.equal(m, p.channelMult[Math.min(i, p.channelMult.length - 1)]));
      const res = unetResolutions(cfg);
      const lowest = res[res.length - 1]!;
      assert.ok(lowest >= MIN_LOWEST_RESOLUTION, `${name}@${px} lowest ${lowest}`);
      // powers of two of the native side keep the preset's lowest resolution (down to one halving)
      if (res.length > 1 && n >= pLowest * 2) assert.equal(lowest, pLowest, `${name}@${px}`);
      assert.ok(cfg.attentionResolutions.length > 0);
      for (const r of cfg.attentionResolutions) {
        assert.ok(r <= MAX_ATTENTION_RESOLUTION, `${name}@${px} attention at ${r}`);
        assert.ok(res.slice(-2).includes(r), `${name}@${px} attention at ${r} is not among the lowest two of ${res}`);
      }
    }
  }
  assert.deepEqual(scale('tiny', 32).channelMult, [1, 2, 2]);
  assert.deepEqual(scale('tiny', 32).attentionResolutions, [8]);
  assert.deepEqual(scale('small', 64).attentionResolutions, [8, 4]);
  assert.deepEqual(scale('base', 64, 12).channelMult, [1, 1, 2, 4]);
  assert.deepEqual(scale('base', 64, 12).attentionResolutions, [16]);
  assert.deepEqual(scale('base', 16, 12).channelMult, [1, 1]);
});

test('sizes between powers of two keep attention at the lowest levels and ≤ 16', () => {
  assert.deepEqual(scale('small', 24).channelMult, [1, 2, 2]); // 24 → 12 → 6
  assert.deepEqual(scale('small', 24).attentionResolutions, [12, 6]);
  assert.deepEqual(scale('tiny', 14).attentionResolutions, [7]); // 28² pixels: 14 → 7
  // base puts attention one level above the lowest; 18 would exceed 16, so the lowest (9) takes it
  assert.deepEqual(unetResolutions(scale('base', 36)), [36, 18, 9]);
  assert.deepEqual(scale('base', 36).attentionResolutions, [9]);
});

test('the scaled tiny preset runs at 64² pixels (array 32) and returns v of the input shape', () => {
  const cfg = scale('tiny', 32);
  const m = createDenoiser(cfg, 2);
  tf.tidy(() => { for (const v of m.params.list()) v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 4))); });
  const z = tf.randomNormal([2, 32, 32, 4], 0, 1, 'float32', 1);
  const logSnr = tf.tensor1d([-3, 4]);
  const y = tf.tensor1d([0, 2], 'int32');
  const out = m.apply(z, logSnr, y);
  assert.deepEqual(out.shape, [2, 32, 32, 4]);
  assert.ok(out.dataSync().every(Number.isFinite));
  // numResBlocks 1: down.0 res, down.1 downsample, down.2 res, down.3 downsample, down.4 the third level
  assert.ok(m.params.vars.has('down.4.res.conv1.weight'), 'the third level exists');
  tf.dispose([z, logSnr, y, out]);
  m.dispose();
});

test('unknown presets and unreachable sizes are refused with the allowed values', () => {
  assert.throws(() => scale('huge', 16), /unknown model preset "huge"; allowed: tiny, small, bench, base/);
  assert.throws(() => scale('constructor', 16), /unknown model preset "constructor"/);
  assert.throws(() => scale('tiny', 15), /image size 30 \(array 15\): the tiny preset .*15 is odd.*allowed pixel sizes: 16, 32, 64, 128, 256, 512.*nearest: 28, 32/);
  assert.throws(() => scale('tiny', 1), /image size 2 \(array 1\).*below the smallest, 8.*nearest: 16/);
  assert.throws(() => scale('base', 50), /image size 100 \(array 50\).*halves evenly only down to 25.*nearest: 96, 104/);
  assert.throws(() => scale('small', 7.5), /array side must be a positive integer.*got 7\.5/);
  assert.throws(() => scale('small', 0), /array side must be a positive integer/);
  assert.throws(() => scale('tiny', 16, 0), /'inChannels' must be a positive integer/);
  assert.throws(() => scale('tiny', 16, 4, 1.5), /'numClasses' must be a positive integer/);
});

test('config fields of the wrong type are named with the allowed values', () => {
  const bad = (o: object) => () => validateUNetConfig({ preset: 'tiny', ...o } as never);
  assert.throws(bad({ channelMult: 'x' }), /'channelMult' must be a non-empty list of positive integers, got "x"/);
  assert.throws(bad({ midAttention: 1 }), /'midAttention' must be true or false, got 1/);
  assert.throws(bad({ kind: 'dit' }), /'kind' must be 'unet' for a UNet \(allowed kinds: unet, dit\), got "dit"/);
  assert.throws(bad({ attentionResolutions: 'x' }), /'attentionResolutions' must be a list of resolutions \(allowed: 16, 8\)/);
  assert.throws(bad({ attentionResolutions: ['8'] }), /'attentionResolutions' contains "8".*allowed: 16, 8/);
  assert.throws(bad({ logSnrRange: ['a', 'b'] }), /'logSnrRange' must be \[min, max\], two finite numbers/);
  assert.throws(bad({ logSnrRange: [0, null] }), /'logSnrRange'/);
  assert.throws(bad({ numHeads: 3 }), /'numHeads' 3 must divide .*allowed: a divisor of 8/);
  assert.throws(bad({ inChannels: '4' }), /'inChannels' must be a positive integer, got "4"/);
  assert.throws(() => validateUNetConfig({ preset: 'toString' }), /'preset' must be one of tiny, small, bench, base, unet-64, unet-128, got "toString"/);
});
