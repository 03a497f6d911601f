import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tf } from '../../src/runtime/index.ts';
import {
  DEFAULT_SCHEDULE_CONFIG, alphaSigma, alphaSigmaTensor, cosineLogSnr, logSnr, logSnrRange, logSnrShift, logSnrTensor,
  timeFromLogSnr, validateScheduleConfig,
} from '../../src/diffusion/index.ts';
import { close, ready } from './helpers.ts';

await ready;

const cosine = validateScheduleConfig({ kind: 'cosine' });
const shifted16 = validateScheduleConfig({ kind: 'shifted-cosine', imageSize: 16 });
const shifted128 = validateScheduleConfig({ kind: 'shifted-cosine', imageSize: 128 });

test('cosine λ golden values', () => {
  // a + b = π/2 for symmetric limits, so t = 0.5 is the angle π/4: tan = 1, λ = 0.
  close(cosineLogSnr(0.5), 0, 1e-12, 'λ(0.5)');
  // λ(0.25) = −2·ln(tan(π/8 + a/2)), a = atan(e^−7.5); by hand ≈ 1.761183.
  const a = Math.atan(Math.exp(-7.5));
  close(cosineLogSnr(0.25), -2 * Math.log(Math.tan(Math.PI / 8 + a / 2)), 1e-12, 'λ(0.25)');
  close(cosineLogSnr(0.25), 1.761183, 1e-6, 'λ(0.25) numeric');
  close(cosineLogSnr(0.75), -cosineLogSnr(0.25), 1e-12, 'odd symmetry');
  assert.equal(logSnr(0, cosine), 15);
  assert.equal(logSnr(1, cosine), -15);
  assert.equal(logSnr(-0.1, cosine), 15, 't clamped below');
  assert.equal(logSnr(1.1, cosine), -15, 't clamped above');
  const { alpha, sigma } = alphaSigma(logSnr(0.5, cosine));
  close(alpha, Math.SQRT1_2, 1e-12, 'α(0.5)');
  close(sigma, Math.SQRT1_2, 1e-12, 'σ(0.5)');
});

test('shifted cosine golden values', () => {
  close(logSnrShift(shifted16), 2 * Math.log(4), 1e-12, 'shift d=16');
  close(logSnrShift(shifted128), -1.3862943611198906, 1e-12, 'shift d=128');
  assert.equal(logSnrShift(cosine), 0);
  close(logSnr(0.5, shifted16), 2 * Math.log(4), 1e-12, 'λ(0.5) d=16');
  // λ = 2 ln 4 → SNR = 16: α² = 16/17, σ² = 1/17.
  const s16 = alphaSigma(logSnr(0.5, shifted16));
  close(s16.alpha, 4 / Math.sqrt(17), 1e-12, 'α d=16');
  close(s16.sigma, 1 / Math.sqrt(17), 1e-12, 'σ d=16');
  // λ = −2 ln 2 → SNR = 1/4: α² = 0.2, σ² = 0.8.
  const s128 = alphaSigma(logSnr(0.5, shifted128));
  close(s128.alpha, Math.sqrt(0.2), 1e-12, 'α d=128');
  close(s128.sigma, Math.sqrt(0.8), 1e-12, 'σ d=128');
  // The clip applies before the shift: endpoints are ±15 + shift, finite.
  close(logSnr(0, shifted16), 15 + 2 * Math.log(4), 1e-12, 'λ(0) d=16');
  close(logSnr(1, shifted16), -15 + 2 * Math.log(4), 1e-12, 'λ(1) d=16');
  assert.deepEqual(logSnrRange(shifted128), { min: -15 + Math.log(0.25), max: 15 + Math.log(0.25) });
});

test('alphaSigma is stable at extreme λ', () => {
  for (const lam of [-800, -50, 50, 800]) {
    const { alpha, sigma } = alphaSigma(lam);
    assert.ok(Number.isFinite(alpha) && Number.isFinite(sigma), `finite at ${lam}`);
    close(alpha * alpha + sigma * sigma, 1, 1e-12, `α²+σ² at ${lam}`);
  }
  close(alphaSigma(-50).alpha, Math.exp(-25), 1e-20, 'α ≈ e^{λ/2} for λ ≪ 0');
});

test('tensor versions match the number versions', () => {
  const ts = [0, 0.01, 0.25, 0.5, 0.75, 0.99, 1];
  for (const config of [cosine, shifted16]) {
    tf.tidy(() => {
      const lam = logSnrTensor(tf.tensor1d(ts), config);
      const { alpha, sigma } = alphaSigmaTensor(lam);
      const [l, a, s] = [lam.dataSync(), alpha.dataSync(), sigma.dataSync()];
      ts.forEach((t, i) => {
        const expLam = logSnr(t, config);
        close(l[i]!, expLam, 2e-3 * Math.max(1, Math.abs(expLam)), `λ(${t}) ${config.kind}`);
        const as = alphaSigma(expLam);
        close(a[i]!, as.alpha, 1e-5, `α(${t})`);
        close(s[i]!, as.sigma, 1e-5, `σ(${t})`);
      });
    });
  }
});

test('defaults and validation', () => {
  assert.deepEqual(validateScheduleConfig(), { ...DEFAULT_SCHEDULE_CONFIG });
  assert.throws(() => validateScheduleConfig({ kind: 'linear' as never }), /kind 'linear'.*allowed: cosine, shifted-cosine/);
  assert.throws(() => validateScheduleConfig({ imageSize: 0 }), /imageSize/);
  assert.throws(() => validateScheduleConfig({ logSnrMax: -20 }), /logSnrMax/);
  assert.throws(() => validateScheduleConfig({ shiftBase: -1 }), /shiftBase/);
  assert.throws(() => validateScheduleConfig({ imagesize: 3 } as never), /unknown field 'imagesize'/);
});

test('inverse t(λ) round trips', () => {
  for (const config of [cosine, shifted16, shifted128]) {
    for (let i = 0; i <= 20; i++) close(timeFromLogSnr(logSnr(i / 20, config), config), i / 20, 1e-9, `t ${config.kind}/${config.imageSize}`);
  }
});
