import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairVote, voteCounts, meanErrors, majorityVote, voteEntropy, voteDecided, argmin } from '../../src/stats/index.ts';

// 4 pairs × 2 classes; pair 3 has a huge error for class 0 that dominates the mean.
const E = [0.1, 0.2, 0.1, 0.3, 0.2, 0.1, 9.0, 0.5];

test('votes per pair and counts', () => {
  assert.deepEqual([0, 1, 2, 3].map((k) => pairVote(E, k, 2)), [0, 0, 1, 1]);
  assert.deepEqual(voteCounts(E, 2), [2, 2]);
  assert.deepEqual(voteCounts(E, 2, 2), [2, 0]);
});

test('mean errors and the mean prediction', () => {
  const m = meanErrors(E, 2);
  assert.ok(Math.abs(m[0]! - 2.35) < 1e-12 && Math.abs(m[1]! - 0.275) < 1e-12);
  assert.equal(argmin(m), 1);
});

test('majority vote breaks ties by mean error, then index', () => {
  assert.equal(majorityVote([2, 2], meanErrors(E, 2)), 1);
  assert.equal(majorityVote([3, 1], [5, 0]), 0);
  assert.equal(majorityVote([1, 1, 1], [1, 1, 1]), 0);
  assert.equal(majorityVote([0, 4, 4], [0, 2, 1]), 2);
});

test('normalised vote entropy', () => {
  assert.equal(voteEntropy([5, 0]), 0);
  assert.ok(Math.abs(voteEntropy([3, 3]) - 1) < 1e-12);
  assert.ok(Math.abs(voteEntropy([1, 1, 1]) - 1) < 1e-12);
  const p = 0.75;
  assert.ok(Math.abs(voteEntropy([3, 1]) - -(p * Math.log(p) + (1 - p) * Math.log(1 - p)) / Math.log(2)) < 1e-12);
  assert.equal(voteEntropy([0, 0]), 0);
});

test('a vote is decided only when the runner-up cannot catch up', () => {
  assert.equal(voteDecided([6, 2], 3), true);
  assert.equal(voteDecided([6, 2], 4), false); // 2 + 4 = 6 would tie
  assert.equal(voteDecided([5, 0, 0], 4), true);
  assert.equal(voteDecided([0, 0], 0), false);
});

test('sign test p-values', async () => {
  const { signTestP } = await import('../../src/stats/index.ts');
  assert.equal(signTestP(0, 0), 1);
  assert.ok(Math.abs(signTestP(5, 0) - 2 / 32) < 1e-12);
  assert.ok(Math.abs(signTestP(3, 3) - 1) < 1e-12);
  // 10 of 10: 2·2^−10
  assert.ok(Math.abs(signTestP(0, 10) - 2 / 1024) < 1e-12);
});

test('vote-share threshold fitted for balanced accuracy; ties keep 0.5', async () => {
  const { fitVoteThreshold, applyCalibration } = await import('../../src/classify/index.ts');
  // positives have shares ≥ 0.3; one negative at 0.6: the best threshold sits between 0.2 and 0.3
  const shares = [0.1, 0.2, 0.6, 0.3, 0.4, 0.9, 1.0];
  const labels = [0, 0, 0, 1, 1, 1, 1];
  const r = fitVoteThreshold(shares, labels);
  assert.ok(r.threshold > 0.2 && r.threshold <= 0.3, `threshold ${r.threshold}`);
  assert.ok(Math.abs(r.balancedAccuracy - (1 + 2 / 3) / 2) < 1e-12);
  const perfect = fitVoteThreshold([0.1, 0.9], [0, 1]);
  assert.equal(perfect.threshold, 0.5);
  const cal = { kind: 'vote-share-threshold' as const, positive: 1, threshold: 0.25, fittedOn: { split: 'val', images: 7, n: 11, balancedAccuracy: 0, uncalibratedBalancedAccuracy: 0 } };
  assert.equal(applyCalibration(cal, [0.7, 0.3]), 1);
  assert.equal(applyCalibration(cal, [0.8, 0.2]), 0);
});

test('applyCalibratedSettings fills the calibrated window, mirror view and threshold; an explicit other setting drops only the threshold', async () => {
  const { applyCalibratedSettings } = await import('../../src/classify/index.ts');
  type Cfg = { n?: number; tRange?: [number, number]; mirror?: boolean; decisionThreshold?: { positive: number; threshold: number } | null };
  const base = { kind: 'vote-share-threshold' as const, positive: 0, threshold: 0.4, fittedOn: { split: 'val', images: 7, n: 11, balancedAccuracy: 0, uncalibratedBalancedAccuracy: 0 } };
  const thr = { positive: 0, threshold: 0.4 };
  const warnings: string[] = [];
  const warn = (m: string) => { warnings.push(m); };
  const cal = { ...base, tRange: [0.5, 1] as [number, number], mirror: true };
  assert.deepEqual(applyCalibratedSettings<Cfg>({ n: 5 }, cal, warn), { cfg: { n: 5, tRange: [0.5, 1], mirror: true, decisionThreshold: thr }, cal });
  assert.equal(applyCalibratedSettings<Cfg>({ tRange: [0.5, 1], mirror: true }, cal, warn).cal, cal);
  // --no-mirror drops the threshold but keeps the calibrated window, and the other way round
  assert.deepEqual(applyCalibratedSettings<Cfg>({ mirror: false }, cal, warn), { cfg: { mirror: false, tRange: [0.5, 1] }, cal: null });
  assert.match(warnings.at(-1)!, /fitted with the mirror view/);
  assert.deepEqual(applyCalibratedSettings<Cfg>({ tRange: [0, 1] }, cal, warn), { cfg: { tRange: [0, 1], mirror: true }, cal: null });
  assert.match(warnings.at(-1)!, /differs from the calibrated window 0.5,1/);
  // both differ: one warning naming both
  assert.equal(applyCalibratedSettings<Cfg>({ tRange: [0, 1], mirror: false }, cal, warn).cal, null);
  assert.match(warnings.at(-1)!, /calibrated window.*; the calibration was fitted with the mirror view/);
  // a calibration without the mirror view: --mirror drops it, nothing set keeps mirror unset
  assert.equal(applyCalibratedSettings<Cfg>({ mirror: true }, base, warn).cal, null);
  assert.match(warnings.at(-1)!, /fitted without the mirror view/);
  assert.deepEqual(applyCalibratedSettings<Cfg>({ n: 3 }, base, warn), { cfg: { n: 3, decisionThreshold: thr }, cal: base });
  // no stored window means the full range: --t-range 0,1 keeps the threshold, another window drops it
  assert.equal(applyCalibratedSettings<Cfg>({ tRange: [0, 1] }, base, warn).cal, base);
  assert.equal(applyCalibratedSettings<Cfg>({ tRange: [0.2, 1] }, base, warn).cal, null);
  assert.match(warnings.at(-1)!, /differs from the calibrated window 0,1/);
  assert.equal(warnings.length, 5);
  // an explicit null threshold (plain vote wanted) is kept
  assert.equal(applyCalibratedSettings<Cfg>({ decisionThreshold: null }, base, warn).cfg.decisionThreshold, null);
  assert.deepEqual(applyCalibratedSettings<Cfg>({ n: 3 }, null, warn), { cfg: { n: 3 }, cal: null });
});

test('a thresholded decision is decided once the remaining pairs cannot move the share across the threshold', async () => {
  const { shareDecided } = await import('../../src/classify/index.ts');
  // 26 of 26 malignant votes out of N = 51: 26/51 = 0.51 < 0.773, so not yet decided
  assert.equal(shareDecided(26, 26, 51, 0.773), false);
  assert.equal(shareDecided(40, 40, 51, 0.773), true); // 40/51 = 0.784 ≥ 0.773 whatever comes
  assert.equal(shareDecided(0, 12, 51, 0.773), true); // at most 39/51 = 0.765
  assert.equal(shareDecided(0, 11, 51, 0.773), false); // 40/51 still possible
  // exhaustively: whenever it says decided, every completion gives the same decision
  for (const n of [5, 11]) for (const thr of [0.2, 0.5, 0.773]) for (let used = 0; used <= n; used++) for (let v = 0; v <= used; v++) {
    if (!shareDecided(v, used, n, thr)) continue;
    const final = v / n >= thr;
    for (let more = 0; more <= n - used; more++) assert.equal((v + more) / n >= thr, final, `n ${n} thr ${thr} used ${used} v ${v} more ${more}`);
    assert.equal(v / used >= thr, final, 'the share over the pairs used is on the same side');
  }
});

test('binomial test against a calibrated share: p0 = 1/2 is the sign test', async () => {
  const { binomialTestP, signTestP } = await import('../../src/classify/index.ts');
  for (const [a, b] of [[0, 10], [7, 3], [5, 5], [20, 4], [1, 0]]) assert.ok(Math.abs(binomialTestP(a!, a! + b!, 0.5) - signTestP(a!, b!)) < 1e-12, `${a} ${b}`);
  assert.ok(Math.abs(binomialTestP(10, 10, 0.773) - 2 * 0.773 ** 10) < 1e-12);
  assert.ok(Math.abs(binomialTestP(0, 4, 0.773) - 2 * 0.227 ** 4) < 1e-12);
  assert.equal(binomialTestP(3, 0, 0.7), 1);
  assert.equal(binomialTestP(3, 5, 1.000001), 0); // a share can never reach the threshold
});

test('fitPlatt recovers a known logistic model and gives the accuracy-optimal threshold; a reversed share is refused', async () => {
  const { fitPlatt, calibratedProbability } = await import('../../src/classify/index.ts');
  const { Rng } = await import('../../src/util/index.ts');
  const rng = new Rng(7);
  const shares: number[] = [], labels: number[] = [];
  for (let i = 0; i < 6000; i++) {
    const s = rng.float();
    shares.push(s);
    labels.push(rng.float() < 1 / (1 + Math.exp(-(6 * (s - 0.5) - 0.9))) ? 1 : 0);
  }
  const p = fitPlatt(shares, labels, 1);
  assert.ok(Math.abs(p.a - 6) < 0.6, `a ${p.a}`);
  assert.ok(Math.abs(p.b + 0.9) < 0.15, `b ${p.b}`);
  assert.ok(Math.abs(p.threshold - (0.5 + 0.9 / 6)) < 0.03, `threshold ${p.threshold}`);
  const cal = { kind: 'vote-share-threshold' as const, positive: 1, threshold: p.threshold, platt: { a: p.a, b: p.b }, fittedOn: { split: 'val', images: 6000, n: 11, balancedAccuracy: 0, uncalibratedBalancedAccuracy: 0 } };
  assert.ok(Math.abs(calibratedProbability(cal, [1 - p.threshold, p.threshold])! - 0.5) < 1e-9);
  // class 0 as the positive: the same fit mirrored
  const q = fitPlatt(shares.map((s) => 1 - s), labels, 0);
  assert.ok(Math.abs(q.a - p.a) < 1e-6 && Math.abs(q.b + p.b) < 1e-6, `${q.a} ${q.b}`);
  const acc = (t: number) => shares.filter((s, i) => (s >= t ? 1 : 0) === labels[i]).length / shares.length;
  assert.ok(acc(p.threshold) > acc(0.5), `${acc(p.threshold)} vs ${acc(0.5)}`);
  assert.throws(() => fitPlatt([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0], 1), /does not rise with the label/);
  // perfectly separated: the tiny ridge keeps the fit finite and the threshold falls between the classes
  const sep = fitPlatt([0.1, 0.2, 0.3, 0.6, 0.7, 0.9], [0, 0, 0, 1, 1, 1], 1);
  assert.ok(Number.isFinite(sep.a) && sep.a > 10 && Number.isFinite(sep.b), `${sep.a} ${sep.b}`);
  assert.ok(sep.threshold > 0.3 && sep.threshold < 0.6, `threshold ${sep.threshold}`);
  assert.throws(() => fitPlatt([0.1, 0.9], [1, 1], 1), /only one class/);
});
