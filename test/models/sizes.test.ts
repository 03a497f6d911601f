// Issue 15 item 2: presets sized for 64² and 128² images (the paper's 256² UNet: paper-config.test.ts).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from '../helpers.ts';
import {
  createDenoiser, presetConfig, validateUNetConfig, unetResolutions, UNET_PRESETS, UNET_64_CONFIG, UNET_128_CONFIG,
  MAX_ATTENTION_RESOLUTION, type UNetConfig,
} from '../../src/models/index.ts';

before(setup);

test('unet-64 and unet-128: valid, sized for their images, attention only at ≤ 16² maps', () => {
  for (const [name, cfg, px] of [['unet-64', UNET_64_CONFIG, 64], ['unet-128', UNET_128_CONFIG, 128]] as const) {
    assert.equal(UNET_PRESETS[name], cfg);
    assert.deepEqual(validateUNetConfig(cfg), cfg, `${name} passes validateUNetConfig unchanged`);
    assert.equal(2 * cfg.imageSize, px, `${name}: one Haar stage halves ${px}² to its array side`);
    assert.deepEqual(presetConfig(name, { imageSize: cfg.imageSize, inChannels: 4, numClasses: 2 }), cfg, 'native size: the preset itself');
    const res = unetResolutions(cfg);
    assert.equal(res[0], cfg.imageSize);
    for (const r of cfg.attentionResolutions) {
      assert.ok(r <= MAX_ATTENTION_RESOLUTION && res.includes(r), `${name}: attention at ${r} of levels ${res}`);
    }
    // colour data: 12 wavelet channels, the same network otherwise
    const rgb = presetConfig(name, { imageSize: cfg.imageSize, inChannels: 12, numClasses: 7 }) as UNetConfig;
    assert.deepEqual({ ...rgb, inChannels: 4, numClasses: 2 }, cfg);
  }
  assert.deepEqual(unetResolutions(UNET_128_CONFIG), [64, 32, 16, 8]);
});

test('unet-64 and unet-128 run forward at their size, and the 128² one costs more per image', () => {
  const out: number[] = [];
  for (const cfg of [UNET_64_CONFIG, UNET_128_CONFIG]) {
    const m = createDenoiser(cfg);
    try {
      const s = cfg.imageSize;
      const y = tf.tidy(() => m.apply(tf.randomNormal([2, s, s, 4], 0, 1, 'float32', 1), tf.tensor1d([-3, 4]), tf.tensor1d([0, 1], 'int32')));
      assert.deepEqual(y.shape, [2, s, s, 4]);
      assert.ok((y.dataSync() as Float32Array).every(Number.isFinite));
      y.dispose();
      out.push(m.parameterCount());
    } finally {
      m.dispose();
    }
  }
  // one extra full-width level of 32 channels: a few percent more weights, not a bigger network
  assert.ok(out[1]! > out[0]! && out[1]! < 1.2 * out[0]!, `parameters ${out}`);
});
