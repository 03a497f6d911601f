// The one shared test every sampler passes (diffusers style): each sampler × schedule runs through
// the same checks — perfect denoiser recovers x, determinism, shapes, CFG, no tensor leaks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tf } from '../../src/runtime/index.ts';
import {
  DEFAULT_SAMPLER_CONFIG, Rng, SAMPLER_KINDS, SCHEDULE_KINDS, addNoise, alphaSigma, ancestralStep, cfgX0, logSnr, predictX0, randomNormal, sample,
  samplerStep,
  validateSamplerConfig, validateScheduleConfig, type SampleOptions, type StepInfo,
} from '../../src/diffusion/index.ts';
import { maxAbsDiff, perfectDenoiser, ready, toyDenoiser } from './helpers.ts';

await ready;

const SHAPE = [2, 4, 4, 3] as const;
const NULL_CLASS = 2;
// Clean image per class 0, 1 and the null class 2, in [−1, 1].
const targets = tf.keep(tf.sub(tf.mul(tf.tensor(new Rng(5).uniforms(3 * 4 * 4 * 3), [3, 4, 4, 3]), 2), 1) as tf.Tensor4D);
const classes = new Int32Array([0, 1]);
const cleanFor = (labels: Int32Array): tf.Tensor4D => tf.gather(targets, tf.tensor1d(labels, 'int32')) as tf.Tensor4D;

/** Run sample() and return its result as nested arrays, disposing the tensor. */
function run(opts: SampleOptions): number[][][][] {
  const out = sample(opts);
  const arr = out.arraySync();
  out.dispose();
  return arr;
}

for (const sampler of SAMPLER_KINDS) {
  for (const kind of SCHEDULE_KINDS) {
    const schedule = { kind, imageSize: 4 };
    const base = { sampler, schedule, steps: 8, classes } as const;
    describe(`sampler ${sampler}, schedule ${kind}`, () => {
      test('perfect denoiser returns x from pure noise', () => {
        tf.tidy(() => {
          const out = sample({ ...base, denoiser: perfectDenoiser(targets), shape: SHAPE, seed: 1 });
          assert.deepEqual(out.shape, [...SHAPE]);
          assert.ok(maxAbsDiff(out, cleanFor(classes)) < 1e-4, `max err ${maxAbsDiff(out, cleanFor(classes))}`);
        });
      });

      test('perfect denoiser returns x from a noised input at tStart = 0.5', () => {
        tf.tidy(() => {
          const x = cleanFor(classes);
          const out = sample({ ...base, denoiser: perfectDenoiser(targets), xStart: x, tStart: 0.5, seed: 2 });
          assert.ok(maxAbsDiff(out, x) < 1e-4);
          // Same from an explicit zStart (the caller's own noising).
          const cfg = validateScheduleConfig(schedule);
          const z = addNoise(x, randomNormal<tf.Rank.R4>([...SHAPE], new Rng(3)), logSnr(0.5, cfg));
          const out2 = sample({ ...base, denoiser: perfectDenoiser(targets), zStart: z, tStart: 0.5 });
          assert.ok(maxAbsDiff(out2, x) < 1e-4);
          assert.ok(!z.isDisposed, 'zStart belongs to the caller');
        });
      });

      test('one step from the exact x̂₀, ε̂ keeps the forward marginal α_s·x + σ_s·ε', () => {
        tf.tidy(() => {
          const cfg = validateScheduleConfig(schedule);
          const x = tf.tile(cleanFor(classes), [8, 4, 4, 1]) as tf.Tensor4D;
          const eps = randomNormal<tf.Rank.R4>([...x.shape], new Rng(12));
          const [lamT, lamS] = [logSnr(0.8, cfg), logSnr(0.6, cfg)];
          const z = addNoise(x, eps, lamT);
          const zs = samplerStep(sampler, { z, x0: x, eps, lamT, lamS, rng: new Rng(13) });
          const { alpha, sigma } = alphaSigma(lamS);
          const e = tf.div(tf.sub(zs, tf.mul(x, alpha)), sigma);
          const { mean, variance } = tf.moments(e);
          assert.ok(Math.abs(mean.dataSync()[0]!) < 0.05 && Math.abs(variance.dataSync()[0]! - 1) < 0.06, `mean ${mean.dataSync()}, var ${variance.dataSync()}`);
          if (sampler === 'ddim') assert.ok(maxAbsDiff(e, eps) < 1e-4, 'DDIM keeps ε exactly');
        });
      });

      test('deterministic for a seed, seed matters from pure noise', () => {
        const a = run({ ...base, denoiser: toyDenoiser, shape: SHAPE, seed: 7 });
        const b = run({ ...base, denoiser: toyDenoiser, shape: SHAPE, seed: 7 });
        const c = run({ ...base, denoiser: toyDenoiser, shape: SHAPE, seed: 8 });
        assert.deepEqual(a, b);
        assert.notDeepEqual(a, c);
        // A caller-owned RNG is advanced in place and gives the same result as the seed.
        const rng = new Rng(7);
        assert.deepEqual(run({ ...base, denoiser: toyDenoiser, shape: SHAPE, rng }), a);
        assert.notDeepEqual(rng.getState(), new Rng(7).getState());
      });

      test('steps, times and shapes', () => {
        const seen: StepInfo[] = [];
        const batches: number[] = [];
        const counting: SampleOptions['denoiser'] = (z, l, c) => { batches.push(z.shape[0]); return toyDenoiser(z, l, c); };
        const out = sample({ ...base, denoiser: counting, shape: [1, 2, 6, 3], classes: 1, steps: 5, onStep: (s) => seen.push(s) });
        assert.deepEqual(out.shape, [1, 2, 6, 3]);
        out.dispose();
        assert.deepEqual(seen.map((s) => s.step), [1, 2, 3, 4, 5]);
        assert.ok(seen.every((s, i) => s.s < s.t && (i === 0 || s.t === seen[i - 1]!.s)));
        assert.equal(seen[0]!.t, 1);
        assert.equal(seen.at(-1)!.s, 0);
        assert.deepEqual(batches, [1, 1, 1, 1, 1], 'one denoiser call per step without guidance');
        assert.throws(() => sample({ ...base, denoiser: toyDenoiser, shape: SHAPE, tStart: 0.5 }), /needs tStart = 1/);
        assert.throws(() => sample({ ...base, denoiser: toyDenoiser }), /exactly one of shape, zStart, xStart/);
        assert.throws(() => sample({ ...base, denoiser: toyDenoiser, shape: SHAPE, classes: [0] }), /expected 2 labels/);
        const bad = (() => tf.zeros([2, 4, 4, 1])) as unknown as SampleOptions['denoiser'];
        assert.throws(() => sample({ ...base, denoiser: bad, shape: SHAPE }), /denoiser returned shape \[2, 4, 4, 1\]/);
      });

      test('classifier-free guidance', () => {
        tf.tidy(() => {
          const z = randomNormal<tf.Rank.R4>([...SHAPE], new Rng(4));
          const lam = logSnr(0.6, validateScheduleConfig(schedule));
          // w = 0 equals the conditional prediction.
          const cond = predictX0(z, toyDenoiser(z, tf.fill([2], lam) as tf.Tensor1D, classes), lam);
          assert.ok(maxAbsDiff(cfgX0(toyDenoiser, z, lam, classes, { guidance: 0, nullClass: NULL_CLASS }), cond) < 1e-6);
          // w = 2: 3·x̂(z, c) − 2·x̂(z, ∅).
          const uncond = predictX0(z, toyDenoiser(z, tf.fill([2], lam) as tf.Tensor1D, new Int32Array([NULL_CLASS, NULL_CLASS])), lam);
          const guided = cfgX0(toyDenoiser, z, lam, classes, { guidance: 2, nullClass: NULL_CLASS });
          assert.ok(maxAbsDiff(guided, tf.sub(tf.mul(cond, 3), tf.mul(uncond, 2))) < 1e-5);
          // Sampling with w = 0 is the conditional sampler, null class or not.
          const opts = { ...base, denoiser: toyDenoiser, shape: SHAPE, seed: 5 };
          assert.deepEqual(run({ ...opts, guidance: 0, nullClass: NULL_CLASS }), run(opts));
          // A perfect denoiser makes every x̂ exact, so guided sampling returns (1+w)·x_c − w·x_∅.
          const calls = { batches: [] as number[], classes: [] as number[][] };
          const w = 1.5;
          const out = sample({ ...base, denoiser: perfectDenoiser(targets, calls), shape: SHAPE, seed: 6, guidance: w, nullClass: NULL_CLASS });
          const expected = tf.sub(tf.mul(cleanFor(classes), 1 + w), tf.mul(cleanFor(new Int32Array([NULL_CLASS, NULL_CLASS])), w));
          assert.ok(maxAbsDiff(out, expected) < 1e-4);
          assert.deepEqual(calls.batches, new Array(8).fill(4), 'cond + uncond in one 2B batch');
          assert.deepEqual(calls.classes[0], [0, 1, NULL_CLASS, NULL_CLASS]);
        });
      });

      test('clipX0 bounds the result', () => {
        const out = run({ ...base, denoiser: toyDenoiser, shape: SHAPE, seed: 9, clipX0: [-0.25, 0.25] });
        assert.ok(out.flat(3).every((v) => v >= -0.25 && v <= 0.25));
      });

      test('no tensor leaks', () => {
        const z = randomNormal<tf.Rank.R4>([...SHAPE], new Rng(1));
        const before = tf.memory().numTensors;
        for (const extra of [{ shape: SHAPE }, { zStart: z, tStart: 0.5 }, { xStart: z, tStart: 0.3, guidance: 2, nullClass: NULL_CLASS, clipX0: [-1, 1] as const }]) {
          const out = sample({ ...base, denoiser: toyDenoiser, seed: 3, ...extra });
          assert.equal(tf.memory().numTensors, before + 1, `only the result survives (${Object.keys(extra).join(', ')})`);
          out.dispose();
        }
        assert.equal(tf.memory().numTensors, before);
        z.dispose();
      });
    });
  }
}

test('ddim is deterministic from a given zStart whatever the seed; ancestral is not', () => {
  const z = randomNormal<tf.Rank.R4>([...SHAPE], new Rng(1));
  const opts = { denoiser: toyDenoiser, zStart: z, tStart: 0.7, classes, steps: 4 };
  assert.deepEqual(run({ ...opts, sampler: 'ddim', seed: 1 }), run({ ...opts, sampler: 'ddim', seed: 2 }));
  assert.notDeepEqual(run({ ...opts, sampler: 'ancestral', seed: 1 }), run({ ...opts, sampler: 'ancestral', seed: 2 }));
  z.dispose();
});

test('stepNoise replaces the ancestral draws (same draws, same result); DDIM never asks for it', () => {
  const z = randomNormal<tf.Rank.R4>([...SHAPE], new Rng(1));
  const opts = { denoiser: toyDenoiser, zStart: z, tStart: 0.7, classes, steps: 4 } as const;
  const steps: number[] = [];
  const fromRng = (rng: Rng): SampleOptions['stepNoise'] => (shape, step) => { steps.push(step); return randomNormal<tf.Rank.R4>(shape, rng); };
  const ancestral = run({ ...opts, sampler: 'ancestral', seed: 3 });
  assert.deepEqual(run({ ...opts, sampler: 'ancestral', seed: 99, stepNoise: fromRng(new Rng(3)) }), ancestral, 'the callback, not the seed, gives the noise');
  assert.deepEqual(steps, [1, 2, 3], 'one call per ancestral step (the last step returns x̂₀)');
  assert.notDeepEqual(run({ ...opts, sampler: 'ancestral', seed: 3, stepNoise: fromRng(new Rng(4)) }), ancestral);
  steps.length = 0;
  assert.deepEqual(run({ ...opts, sampler: 'ddim', stepNoise: fromRng(new Rng(4)) }), run({ ...opts, sampler: 'ddim' }));
  assert.deepEqual(steps, []);
  assert.throws(() => sample({ ...opts, sampler: 'ancestral', stepNoise: () => tf.zeros([1, 4, 4, 3]) }), /step noise has shape \[1, 4, 4, 3\], expected \[2, 4, 4, 3\]/);
  z.dispose();
});

test('ancestral step equals the VDM posterior q(z_s | z_t, x)', () => {
  tf.tidy(() => {
    const [lamT, lamS] = [-1.2, 2.3];
    const t = alphaSigma(lamT), s = alphaSigma(lamS);
    // VDM: mean = α_{t|s}·σ_s²/σ_t²·z + α_s·σ²_{t|s}/σ_t²·x, var = σ²_{t|s}·σ_s²/σ_t².
    const aTS = t.alpha / s.alpha, s2TS = t.sigma ** 2 - aTS ** 2 * s.sigma ** 2;
    const z = tf.fill([1, 1, 1, 1], 0.7) as tf.Tensor4D, x = tf.fill([1, 1, 1, 1], -0.4) as tf.Tensor4D;
    const mean = (aTS * s.sigma ** 2 / t.sigma ** 2) * 0.7 + (s.alpha * s2TS / t.sigma ** 2) * -0.4;
    const std = Math.sqrt(s2TS * s.sigma ** 2 / t.sigma ** 2);
    const at = (n: number): number => ancestralStep(z, x, lamT, lamS, tf.fill([1, 1, 1, 1], n) as tf.Tensor4D).dataSync()[0]!;
    assert.ok(Math.abs(at(0) - mean) < 1e-6, `mean ${at(0)} vs ${mean}`);
    assert.ok(Math.abs(at(1) - at(0) - std) < 1e-6, `std ${at(1) - at(0)} vs ${std}`);
  });
});

test('sampler config defaults and validation', () => {
  assert.deepEqual(validateSamplerConfig(), { ...DEFAULT_SAMPLER_CONFIG });
  assert.throws(() => validateSamplerConfig({ sampler: 'euler' as never }), /sampler 'euler'.*allowed: ancestral, ddim/);
  assert.throws(() => validateSamplerConfig({ steps: 0 }), /steps must be a positive integer/);
  assert.throws(() => validateSamplerConfig({ tStart: 0 }), /tStart must be in \(0, 1\]/);
  assert.throws(() => validateSamplerConfig({ guidance: 3 }), /nullClass is required/);
  assert.throws(() => validateSamplerConfig({ guidance: -1, nullClass: 0 }), /guidance must be/);
  assert.throws(() => validateSamplerConfig({ clipX0: [1, -1] }), /clipX0/);
});
