import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nGrid, nGridWithEnd, aggregateFirstPairs, voteWinner, voteVsMeanTable } from '../../src/eval/index.ts';
import { syntheticRecords } from './helpers.ts';

test('N grid follows the paper: 1, 5, 11, 25, 51, 101, 201, 501, …', () => {
  assert.deepEqual(nGrid(501), [1, 5, 11, 25, 51, 101, 201, 501]);
  assert.deepEqual(nGrid(51), [1, 5, 11, 25, 51]);
  assert.deepEqual(nGrid(5001).slice(-4), [501, 1001, 2001, 5001]);
  assert.deepEqual(nGridWithEnd(60), [1, 5, 11, 25, 51, 60]);
  assert.deepEqual(nGridWithEnd(1), [1]);
});

const rows = (...r: number[][]) => Float32Array.from(r.flat());

test('vote ties: lower mean error, then lower class index', () => {
  assert.equal(voteWinner([2, 2], [0.5, 0.4]), 1);
  assert.equal(voteWinner([2, 2], [0.4, 0.4]), 0);
  assert.equal(voteWinner([1, 3, 3], [0, 0.5, 0.2]), 2);
  // two pairs, one vote each; means 0.3 vs 0.25 → class 1
  assert.equal(aggregateFirstPairs(rows([0.125, 0.25], [0.5, 0.25]), 2, 2).votePred, 1);
  // one vote each, equal means (exact in float32) → class 0
  const a = aggregateFirstPairs(rows([0.25, 0.5], [0.75, 0.5]), 2, 2);
  assert.deepEqual(a.votes, [1, 1]);
  assert.deepEqual(a.meanErrors, [0.5, 0.5]);
  assert.equal(a.votePred, 0);
});

test('vote vs mean from the first n pairs: one huge-error pair dominates the mean', () => {
  const small = [0.125, 0.25];
  const records = [
    // label 0: class 0 wins 4 of 5 pairs, but pair 4 has a huge class-0 error → mean picks 1 at n = 5
    { label: 0, errors: rows(small, small, small, small, [10, 0.25]) },
    // label 1: class 1 always better
    { label: 1, errors: rows([0.5, 0.25], [0.5, 0.25], [0.5, 0.25], [0.5, 0.25], [0.5, 0.25]) },
    // label 1: class 1 wins 4 of 5 pairs, pair 4 huge for class 1 → mean picks 0 at n = 5
    { label: 1, errors: rows([0.25, 0.125], [0.25, 0.125], [0.25, 0.125], [0.25, 0.125], [0.25, 10]) },
  ];
  assert.equal(aggregateFirstPairs(records[0]!.errors, 2, 5).votePred, 0);
  assert.equal(aggregateFirstPairs(records[0]!.errors, 2, 5).meanPred, 1);
  const t = voteVsMeanTable(records, 2);
  assert.deepEqual(t.map((r) => r.n), [1, 5]);
  assert.deepEqual(t[0], { n: 1, voteAccuracy: 1, meanAccuracy: 1, voteBalancedAccuracy: 1, meanBalancedAccuracy: 1 });
  // n = 5: vote all right; mean wrong on images 0 and 2 → 1/3; recall class 0 = 0, class 1 = 1/2
  assert.equal(t[1]!.voteAccuracy, 1);
  assert.ok(Math.abs(t[1]!.meanAccuracy - 1 / 3) < 1e-12);
  assert.equal(t[1]!.meanBalancedAccuracy, 0.25);
  assert.deepEqual(voteVsMeanTable(records, 2, { ns: [5, 2, 99] }).map((r) => r.n), [2, 5]);
  assert.throws(() => voteVsMeanTable([{ label: 0 }], 2), /no per-pair errors/);
});

test('the table at n = N agrees with the aggregation of the full run', () => {
  const recs = syntheticRecords(30, 3, 25, 7);
  const t = voteVsMeanTable(recs, 3);
  assert.deepEqual(t.map((r) => r.n), [1, 5, 11, 25]);
  const last = t[t.length - 1]!;
  assert.equal(last.voteAccuracy, recs.filter((r) => r.votePred === r.label).length / recs.length);
  assert.equal(last.meanAccuracy, recs.filter((r) => r.meanPred === r.label).length / recs.length);
  for (const n of [1, 5, 11]) {
    const row = t.find((r) => r.n === n)!;
    const vote = recs.filter((r) => aggregateFirstPairs(r.errors!, 3, n).votePred === r.label).length / recs.length;
    assert.equal(row.voteAccuracy, vote);
  }
});
