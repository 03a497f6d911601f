// The multiscale OOD score's pure math: the Gaussian fit, the Mahalanobis distance, the conformal threshold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cholesky, conformalThreshold, fitGaussian, mahalanobis, spdInverse } from '../../src/stats/index.ts';
import { Rng } from '../../src/util/index.ts';

const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('a known 2-D case: mean, unbiased covariance, distance', () => {
  // mean 0; variances 2/3 and 8/3 (n − 1 = 3), no covariance
  const g = fitGaussian([[1, 0], [-1, 0], [0, 2], [0, -2]], 0);
  assert.deepEqual(g.mean, [0, 0]);
  assert.equal(g.ridge, 0);
  close(g.precision[0]![0]!, 1.5, 1e-12, 'precision xx');
  close(g.precision[1]![1]!, 3 / 8, 1e-12, 'precision yy');
  close(g.precision[0]![1]!, 0, 1e-12, 'precision xy');
  close(mahalanobis([1, 0], g.mean, g.precision), Math.sqrt(1.5), 1e-12, 'd(1, 0)');
  close(mahalanobis([0, 2], g.mean, g.precision), Math.sqrt(1.5), 1e-12, 'd(0, 2): the same in units of its spread');
  // a correlated covariance against the closed-form 2 × 2 inverse
  const c = [[4, 1.2], [1.2, 1]], det = 4 - 1.44;
  const inv = spdInverse(c);
  close(inv[0]![0]!, 1 / det, 1e-12, 'inv 00'); close(inv[1]![1]!, 4 / det, 1e-12, 'inv 11'); close(inv[0]![1]!, -1.2 / det, 1e-12, 'inv 01');
  // the ridge is ridgeFactor × the mean variance, on the diagonal only
  const r = fitGaussian([[1, 0], [-1, 0], [0, 2], [0, -2]], 0.1);
  close(r.ridge, 0.1 * (2 / 3 + 8 / 3) / 2, 1e-12, 'ridge');
  close(r.precision[0]![0]!, 1 / (2 / 3 + r.ridge), 1e-12, 'ridged precision xx');
});

function sample(n: number, d: number, seed: number): number[][] {
  const rng = new Rng(seed);
  // correlated features, as the errors at neighbouring times are
  return Array.from({ length: n }, () => {
    const z = Array.from(rng.normals(d));
    return z.map((v, j) => v + 0.7 * (z[j - 1] ?? 0) + j);
  });
}

test('the distance is invariant to an affine change of one feature (exactly without a ridge)', () => {
  const f = sample(60, 4, 3), probe = [0.5, 2, -1, 5];
  const g = fitGaussian(f, 0);
  const a = 37.5, b = -12;
  const h = fitGaussian(f.map((v) => v.map((x, j) => (j === 2 ? a * x + b : x))), 0);
  const moved = probe.map((x, j) => (j === 2 ? a * x + b : x));
  close(mahalanobis(moved, h.mean, h.precision), mahalanobis(probe, g.mean, g.precision), 1e-9, 'distance after rescaling feature 2');
  // with the ridge, a shift changes nothing and a rescale almost nothing
  const gr = fitGaussian(f), sr = fitGaussian(f.map((v) => v.map((x, j) => (j === 2 ? x + b : x))));
  close(mahalanobis(probe.map((x, j) => (j === 2 ? x + b : x)), sr.mean, sr.precision), mahalanobis(probe, gr.mean, gr.precision), 1e-9, 'shift with ridge');
  assert.notEqual(mahalanobis(probe, g.mean, g.precision), mahalanobis([0, 0, 0, 0], g.mean, g.precision), 'the distance depends on the point');
});

test('the precision is the positive-definite inverse of the ridged covariance', () => {
  const f = sample(40, 10, 9);
  const g = fitGaussian(f);
  assert.ok(cholesky(g.precision), 'precision is symmetric positive definite');
  // rebuild the ridged covariance and check C · P = I
  const d = 10, n = f.length;
  const cov = Array.from({ length: d }, (_, a) => Array.from({ length: d }, (_, b) => f.reduce((s, v) => s + (v[a]! - g.mean[a]!) * (v[b]! - g.mean[b]!), 0) / (n - 1) + (a === b ? g.ridge : 0)));
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) {
    close(cov[i]!.reduce((s, c, k) => s + c * g.precision[k]![j]!, 0), i === j ? 1 : 0, 1e-8, `(C·P)[${i}][${j}]`);
  }
  assert.equal(mahalanobis(g.mean, g.mean, g.precision), 0);
});

test('cholesky refuses what is not symmetric positive definite; fitGaussian refuses what it cannot fit', () => {
  assert.equal(cholesky([[1, 2], [2, 1]]), null, 'indefinite');
  assert.equal(cholesky([[1, 0.5], [0.2, 1]]), null, 'not symmetric');
  assert.equal(cholesky([[1, 0], [0]]), null, 'ragged');
  assert.equal(cholesky([[1e308, 0], [0, 1e-308]])?.length ?? 0, 2);
  assert.throws(() => spdInverse([[0, 0], [0, 1]]), /not symmetric positive definite/);
  assert.throws(() => fitGaussian([[1, 2]]), /at least 2/);
  assert.throws(() => fitGaussian([[1, 2], [3]]), /vector 1 has 1 values/);
  assert.throws(() => fitGaussian([[1, NaN], [3, 4]]), /non-finite/);
  // a constant feature is singular without a ridge and fine with one
  const flat = [[1, 5], [2, 5], [3, 5]];
  assert.throws(() => fitGaussian(flat, 0), /singular/);
  assert.ok(Number.isFinite(mahalanobis([2, 6], fitGaussian(flat).mean, fitGaussian(flat).precision)));
  assert.throws(() => mahalanobis([1], [0, 0], [[1, 0], [0, 1]]), /x has 1 values, mean 2/);
});

test('conformal threshold: the ⌈(n + 1)(1 − α)⌉-th smallest score, the largest (capped) when that rank exceeds n', () => {
  const shuffled = (n: number) => new Rng(n).permutation(n).map((i) => i + 1); // scores 1..n in random order
  assert.deepEqual(conformalThreshold(shuffled(524), 0.02), { threshold: 515, rank: 515, capped: false });
  assert.deepEqual(conformalThreshold(shuffled(78), 0.02), { threshold: 78, rank: 78, capped: false });
  assert.deepEqual(conformalThreshold(shuffled(20), 0.02), { threshold: 20, rank: 20, capped: true });
  assert.deepEqual(conformalThreshold(shuffled(99), 0.1), { threshold: 90, rank: 90, capped: false });
  assert.throws(() => conformalThreshold([], 0.02), /no scores/);
  assert.throws(() => conformalThreshold([1], 0), /alpha must be in \(0, 1\)/);
});
