// The 'paired' early-stopping rule: its math (src/stats/sequential.ts) against reference values and
// simulation, and the rule (shouldStopEarly) on synthetic per-pair error sequences.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  aggregateFirstPairs, incompleteBeta, logFactorial, logGamma, majorityFlipProbability, pairedTTestP, shareDecided, shareFlipProbability,
  studentTwoSidedP, voteDecided,
} from '../../src/stats/index.ts';
import { shouldStopEarly, validateClassifyConfig, EARLY_STOP_DEFAULTS, type StopConfig } from '../../src/classify/index.ts';
import { Rng } from '../../src/util/index.ts';

const TAU = 0.4533045977011494; // the shipped PneumoniaMNIST threshold
const close = (a: number, b: number, tol: number, what: string) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('special functions match reference values (scipy)', () => {
  close(logFactorial(10), Math.log(3628800), 1e-12, '10!');
  close(logGamma(7.3), 7.147892523022248, 1e-10, 'lnΓ(7.3)');
  close(incompleteBeta(0.3, 2.5, 3.5), 0.29675298929566646, 1e-10, 'I_0.3(2.5, 3.5)');
  close(incompleteBeta(0.3, 2.5, 3.5) + incompleteBeta(0.7, 3.5, 2.5), 1, 1e-12, 'symmetry');
  const ref: [number, number, number][] = [[2, 5, 0.10193947882985835], [0.5, 1, 0.7048327646991335], [3.7, 12, 0.0030357709644811513], [10, 3, 0.0021283990584141503], [1.2, 40, 0.23719862411461035]];
  for (const [t, df, p] of ref) close(studentTwoSidedP(t, df), p, 1e-9 * Math.max(1, p * 1e3), `t = ${t}, df = ${df}`);
  close(studentTwoSidedP(-2, 5), studentTwoSidedP(2, 5), 1e-15, 'two-sided');
  // paired differences 1, 2, 3 (class 1 − class 0): t = 2 / (1 / √3) on 2 df
  close(pairedTTestP([0, 1, 0, 2, 0, 3], 2, 3, 0, 1), studentTwoSidedP(2 * Math.sqrt(3), 2), 1e-15, 'paired t');
  assert.equal(pairedTTestP([0, 1, 0, 1], 2, 2, 0, 1), 0); // all differences equal and non-zero
});

test('flip probabilities: reference values, and exactly zero when nothing can change', () => {
  // 5 of 6 positive (decision positive): it flips if fewer than 24 of 51 end positive, X ~ BB(45, 6, 2)
  close(shareFlipProbability(5, 6, 51, TAU), 0.030756852659230696, 1e-12, '5 of 6');
  // 1 of 8 (decision negative): it flips if 23 or more of the 43 left vote positive, X ~ BB(43, 2, 8)
  close(shareFlipProbability(1, 8, 51, TAU), 0.02215269086357885, 1e-12, '1 of 8');
  // majority 3:7 with 41 left: class 0 overtakes with ≥ 23 of them, X ~ BB(41, 4, 8)
  close(majorityFlipProbability([3, 7], 41, 1), 0.08647189702204561, 1e-12, 'majority 3:7');
  for (const n of [20, 21]) for (const thr of [0.3, TAU, 0.5, 0.773]) {
    for (let used = 1; used <= n; used++) {
      for (let v = 0; v <= used; v++) {
        const p = shareFlipProbability(v, used, n, thr);
        assert.equal(p === 0, shareDecided(v, used, n, thr), `share: ${v} of ${used}, threshold ${thr}, p ${p}`);
        if (thr === 0.5) {
          const votes = [used - v, v], leader = v > used - v ? 1 : 0;
          assert.equal(majorityFlipProbability(votes, n - used, leader) === 0, voteDecided(votes, n - used), `majority ${votes}`);
        }
      }
    }
  }
  for (const votes of [[9, 3, 1], [9, 6, 0], [4, 4, 4], [12, 0, 0]]) {
    assert.equal(majorityFlipProbability(votes, 8, 0) === 0, voteDecided(votes, 8), `three classes ${votes}`);
  }
});

/** Monte Carlo of the same model: p from the posterior, then the remaining votes. */
function simulatedFlip(votes: number[], remaining: number, flipped: (final: number[]) => boolean, rng: Rng, runs: number): number {
  let flips = 0;
  for (let i = 0; i < runs; i++) {
    // Dirichlet(votes + 1) from exponentials (integer shapes: sums of −log U)
    const g = votes.map((v) => { let s = 0; for (let j = 0; j <= v; j++) s -= Math.log(1 - rng.float()); return s; });
    const total = g.reduce((a, b) => a + b, 0);
    const final = [...votes];
    for (let k = 0; k < remaining; k++) {
      let u = rng.float() * total, c = 0;
      while (c < g.length - 1 && u >= g[c]!) { u -= g[c]!; c++; }
      final[c]!++;
    }
    if (flipped(final)) flips++;
  }
  return flips / runs;
}

test('the predictive flip probabilities match a simulation of their model', () => {
  const rng = new Rng(11), runs = 20000;
  const se = (p: number) => 3.5 * Math.sqrt(p * (1 - p) / runs) + 1e-3;
  for (const [v, used] of [[7, 10], [3, 10], [12, 14]] as const) {
    const want = shareFlipProbability(v, used, 51, TAU);
    const now = v / used >= TAU;
    const got = simulatedFlip([used - v, v], 51 - used, (f) => (f[1]! / 51 >= TAU) !== now, rng, runs);
    close(want, got, se(got), `share ${v} of ${used}`);
  }
  // three classes: the union bound is never below the truth, and equals it when only one rival can catch up
  const votes = [8, 5, 3], r = 10;
  const truth = simulatedFlip(votes, r, (f) => f[1]! >= f[0]! || f[2]! >= f[0]!, rng, runs);
  assert.ok(majorityFlipProbability(votes, r, 0) >= truth - se(truth), `union bound ${majorityFlipProbability(votes, r, 0)} vs ${truth}`);
  const lone = [9, 6, 0], rl = 4; // class 2 can reach at most 4 < 9
  close(majorityFlipProbability(lone, rl, 0), simulatedFlip(lone, rl, (f) => f[1]! >= f[0]!, rng, runs), 0.01, 'one rival');
});

/** n pairs of errors [e0, e1]: class 1 wins a pair with probability p; d = e0 − e1 is ±(0.5 + u). */
function sequence(p: number, n: number, rng: Rng): Float32Array {
  const e = new Float32Array(2 * n);
  for (let k = 0; k < n; k++) {
    const d = (rng.float() < p ? 1 : -1) * (0.5 + rng.float());
    e[2 * k] = 2 + d / 2; e[2 * k + 1] = 2 - d / 2;
  }
  return e;
}

/** Pairs used by a rule checked every chunk pairs, and whether its decisions match all n pairs'. */
function run(e: Float32Array, cfg: StopConfig & { chunk: number }, thr = TAU) {
  let used = 0;
  do used = Math.min(cfg.n, used + cfg.chunk); while (!shouldStopEarly(e, used, 2, cfg));
  const now = aggregateFirstPairs(e, 2, used), all = aggregateFirstPairs(e, 2, cfg.n);
  const share = (a: typeof now, m: number) => a.votes[1]! / m >= thr;
  const agreeShare = share(now, used) === share(all, cfg.n), agreeVote = now.votePred === all.votePred;
  return { used, agreeShare, agreeVote, agree: agreeShare && agreeVote };
}

const paired = (alpha: number, minPairs: number): StopConfig & { chunk: number } => ({
  n: 51, earlyStop: 'paired', alpha, minPairs, chunk: 2, aggregate: 'vote', decisionThreshold: { positive: 1, threshold: TAU },
});

test("'paired' stops early on clear images, never before minPairs, and keeps their decision", () => {
  const rng = new Rng(3);
  for (const minPairs of [4, 8]) {
    const runs = Array.from({ length: 400 }, (_, i) => run(sequence(i % 2 ? 0.95 : 0.05, 51, rng), paired(0.02, minPairs)));
    const mean = runs.reduce((s, r) => s + r.used, 0) / runs.length;
    assert.ok(mean <= minPairs + 4, `minPairs ${minPairs}: ${mean.toFixed(1)} pairs on average`);
    assert.ok(runs.every((r) => r.used >= minPairs), `minPairs ${minPairs}: a run stopped at ${Math.min(...runs.map((r) => r.used))}`);
    assert.ok(runs.filter((r) => !r.agree).length <= 4, `minPairs ${minPairs}: ${runs.filter((r) => !r.agree).length} of 400 changed`);
  }
  // 'off' never stops early; a smaller alpha waits longer
  assert.equal(run(sequence(0.95, 51, rng), { ...paired(0.02, 4), earlyStop: 'off' }).used, 51);
  const cost = (alpha: number) => { const r = new Rng(5); let s = 0; for (let i = 0; i < 200; i++) s += run(sequence(0.8, 51, r), paired(alpha, 4)).used; return s; };
  assert.ok(cost(0.001) > cost(0.05), 'alpha orders the cost');
});

test("on pure noise 'paired' rarely changes a decision of all N pairs (about alpha, at most 2.5 alpha each)", () => {
  for (const alpha of [0.01, 0.05]) {
    // a vote probability at the threshold or at 1/2: the worst case for the decision it sits on
    for (const p of [0.5, TAU]) {
      const rng = new Rng(Math.round(1000 * p + alpha * 1e4)), runs = 3000;
      let share = 0, vote = 0, stoppedEarly = 0;
      for (let i = 0; i < runs; i++) {
        const r = run(sequence(p, 51, rng), paired(alpha, 4));
        if (!r.agreeShare) share++;
        if (!r.agreeVote) vote++;
        if (r.used < 51) stoppedEarly++;
      }
      const worst = p === TAU ? share : Math.max(share, vote);
      assert.ok(worst / runs <= 2.5 * alpha, `p = ${p}, alpha ${alpha}: threshold decision changed ${share}, majority ${vote} of ${runs}`);
      assert.ok(stoppedEarly > runs / 2, `${stoppedEarly} of ${runs} runs stop before n: the check is not vacuous`);
    }
    // images whose vote probability is drawn from the rule's own (uniform) prior: at most alpha
    const rng = new Rng(99), runs = 3000;
    let changed = 0;
    for (let i = 0; i < runs; i++) if (!run(sequence(rng.float(), 51, rng), paired(alpha, 4)).agree) changed++;
    assert.ok(changed / runs <= alpha + 3 * Math.sqrt(alpha / runs), `uniform prior, alpha ${alpha}: ${changed} of ${runs}`);
  }
});

test("'paired' with aggregate 'mean' also waits for the paired t-test on the errors", () => {
  const rng = new Rng(8);
  const cfg = { ...paired(0.01, 4), aggregate: 'mean' as const, decisionThreshold: null };
  // votes are unanimous from the first pair, but the differences are so spread that the mean is unclear
  const e = new Float32Array(102);
  for (let k = 0; k < 51; k++) { const d = k % 2 ? 0.01 : 5 * (1 + rng.float()); e[2 * k] = 10 + d; e[2 * k + 1] = 10; }
  const votesOnly = run(e, { ...cfg, aggregate: 'vote' }).used, withMean = run(e, cfg).used;
  assert.ok(withMean > votesOnly, `mean ${withMean} vs vote ${votesOnly} pairs`);
  // clear differences: the t-test is decisive as soon as the vote is
  const clear = new Float32Array(102);
  for (let k = 0; k < 51; k++) { clear[2 * k] = 1 + 0.5 + 0.05 * rng.float(); clear[2 * k + 1] = 1; }
  assert.equal(run(clear, cfg).used, run(clear, { ...cfg, aggregate: 'vote' }).used);
  assert.ok(run(clear, cfg).used <= 8);
});

test("config: 'paired' brings its own alpha, minPairs and chunk unless given; bad values are named", () => {
  const c = validateClassifyConfig({ earlyStop: 'paired' });
  assert.deepEqual([c.alpha, c.minPairs, c.chunk], [EARLY_STOP_DEFAULTS.paired!.alpha, EARLY_STOP_DEFAULTS.paired!.minPairs, EARLY_STOP_DEFAULTS.paired!.chunk]);
  assert.equal(validateClassifyConfig({ earlyStop: 'paired', alpha: 0.1, chunk: 4 }).alpha, 0.1);
  assert.equal(validateClassifyConfig({ earlyStop: 'paired', alpha: undefined }).alpha, EARLY_STOP_DEFAULTS.paired!.alpha);
  assert.equal(validateClassifyConfig({ earlyStop: 'confident' }).alpha, 1e-3); // the other rules keep the general defaults
  assert.throws(() => validateClassifyConfig({ earlyStop: 'paired', alpha: 0 }), /'alpha' must be in \(0, 1\)/);
  assert.throws(() => validateClassifyConfig({ earlyStop: 'paired', minPairs: 0 }), /'minPairs' must be an integer ≥ 1/);
  assert.throws(() => validateClassifyConfig({ earlyStop: 'sprt' as never }), /'earlyStop' must be one of off, decided, confident, paired/);
});
