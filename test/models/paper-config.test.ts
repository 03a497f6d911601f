// Issue 15 item 2: the paper's 256² UNet (243.5 M parameters) is built and runs forward and
// backward once at batch 1: ~40–55 s and ~4.5 GB RSS on one thread, the heaviest test of the suite
// (native backend only).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf } from '../helpers.ts';
import { runtimeInfo } from '../../src/runtime/index.ts';
import { createDenoiser, presetConfig, DEFAULT_UNET_CONFIG } from '../../src/models/index.ts';

before(setup);

// Pure wasm would take ~10× longer and approach its 4 GB heap; the native run checks the same config.
test("the paper's 256² UNet (base 128, (1,1,2,4,8), 12 × 128² input): one forward and backward pass at batch 1", (t) => {
  if (runtimeInfo()?.backend !== 'native') { t.skip('native backend only (pure wasm: ~10× slower, near its 4 GB heap)'); return; }
  const cfg = presetConfig('base', { imageSize: 128, inChannels: 12, numClasses: 2 });
  assert.deepEqual(cfg, DEFAULT_UNET_CONFIG);
  const m = createDenoiser(cfg, 0);
  try {
    const vars = m.params.list();
    const { value, grads } = tf.tidy(() => {
      const x = tf.randomNormal([1, 128, 128, 12], 0, 1, 'float32', 2);
      return tf.variableGrads(() => tf.mean(tf.square(tf.sub(m.apply(x, tf.tensor1d([0.5]), tf.tensor1d([1], 'int32')), x))) as tf.Scalar, vars);
    });
    const loss = value.dataSync()[0]!;
    assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
    assert.equal(Object.keys(grads).length, vars.length, 'a gradient for every weight');
    let nonzero = 0;
    for (const g of Object.values(grads)) {
      const d = g.dataSync() as Float32Array;
      assert.ok(d.every(Number.isFinite));
      if (d.some((v) => v !== 0)) nonzero++;
    }
    assert.ok(nonzero > 0, 'the output layer gets a gradient');
    tf.dispose([value, ...Object.values(grads)]);
  } finally {
    m.dispose();
  }
});
