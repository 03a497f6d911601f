// The fused Adam + EMA pass (native/src/optim.cc via src/runtime/adam.ts) against the composite
// tfjs ops it replaces (src/train/optim.ts, ema.ts): bit-identical weights, moments and EMA over
// steps that clip, decay weights, and copy, skip and blend the EMA.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setup, tf, uniformRng } from '../helpers.ts';
import { fusedAdamAvailable, useFusedAdam, type Variable } from '../../src/runtime/index.ts';
import { Adam, Ema } from '../../src/train/index.ts';

const rt = await setup();
const skip = rt.backend !== 'native' ? `native backend not active (${rt.reason})` : !fusedAdamAvailable() ? 'the addon has no adamStep (rebuild it)' : false;

function run(fused: boolean): Float32Array[] {
  useFusedAdam(fused);
  try {
    const r = uniformRng(42);
    const rand = (shape: number[], s: number) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (r() * 2 - 1) * s), shape);
    const shapes = [[3, 3, 8, 16], [16], [37], [5, 7]];
    const params = new Map<string, Variable>(shapes.map((sh, i) => [`w${i}`, tf.variable(rand(sh, 0.5))]));
    const start = Float32Array.from(params.get('w0')!.dataSync() as Float32Array);
    assert.equal(fusedAdamAvailable(), fused);
    const adam = new Adam(params, { lr: 3e-3, warmupSteps: 2, clipNorm: 1, weightDecay: 0.01 });
    const ema = new Ema(params, { maxDecay: 0.99, warmup: true, every: 2, start: 2 });
    for (let step = 0; step < 7; step++) {
      // large gradients early (clipped), small later (not clipped)
      const grads = Object.fromEntries([...params].map(([n, p]) => [n, rand(p.shape, step < 3 ? 5 : 0.01)]));
      adam.apply(grads, ema);
      tf.dispose(Object.values(grads));
    }
    const state = [...adam.state().values()].map((a) => Float32Array.from(a.data as Float32Array));
    assert.ok(params.get('w0')!.dataSync().some((v, i) => v !== start[i]), 'the updates moved the weights');
    const out = [...[...params.values()].map((p) => Float32Array.from(p.dataSync() as Float32Array)), ...state,
      ...[...ema.toNamedArrays().values()].map((a) => Float32Array.from(a.data as Float32Array))];
    assert.equal(ema.updates, 3, 'steps 2, 4, 6 blend; step 1 copies');
    adam.dispose(); ema.dispose(); for (const p of params.values()) p.dispose();
    return out;
  } finally {
    useFusedAdam(true);
  }
}

test('fused Adam + EMA: bit-identical to the composite ops (clipping, weight decay, EMA copy/skip/blend)', { skip }, () => {
  const composite = run(false), fused = run(true);
  assert.equal(fused.length, composite.length);
  fused.forEach((a, i) => assert.deepEqual(a, composite[i], `array ${i}`));
});
