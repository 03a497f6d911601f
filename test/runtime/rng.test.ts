import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng, hashSeed, seedState, type RngState } from '../../src/util/index.ts';
import { close } from '../helpers.ts';


test('xoshiro128** matches the reference recurrence (hand-stepped from state 1,2,3,4)', () => {
  // out = rotl(s1·5, 7)·9: 10 → 1280·9 = 11520; then s1 = 0 → 0; then s1 = 1029 → 658560·9.
  const rng = new Rng({ s0: 1, s1: 2, s2: 3, s3: 4 });
  assert.deepEqual([rng.uint32(), rng.uint32(), rng.uint32()], [11520, 0, 5927040]);
  const f = new Rng({ s0: 1, s1: 2, s2: 3, s3: 4 });
  assert.equal(f.float(), 11520 / 2 ** 32);
});

test('deterministic for a seed (number, string or state), different across seeds', () => {
  const a = new Rng(42).normals(100), b = new Rng(42).normals(100), c = new Rng(43).normals(100);
  assert.deepEqual(Array.from(a), Array.from(b));
  assert.notDeepEqual(Array.from(a), Array.from(c));
  const u = new Rng(42), v = new Rng(42);
  assert.deepEqual(Array.from({ length: 5 }, () => u.uint32()), Array.from({ length: 5 }, () => v.uint32()));
  assert.deepEqual(new Rng().getState(), new Rng(0).getState());
  assert.deepEqual(new Rng(42).getState(), seedState(42));
  // Any safe integer: negative and above 2^32 seeds are valid, and the high bits matter.
  assert.deepEqual(seedState(2 ** 40 + 5), seedState(2 ** 40 + 5));
  assert.notDeepEqual(seedState(2 ** 40 + 5), seedState(5), 'high bits of the seed matter');
  assert.notDeepEqual(seedState(-1), seedState(2 ** 32 - 1), 'sign matters');
  assert.deepEqual(new Rng(Number.MAX_SAFE_INTEGER).uint32(), new Rng(Number.MAX_SAFE_INTEGER).uint32());
  // Strings are hashed: same string, same stream; one character apart, a different one.
  assert.deepEqual(new Rng('abc').getState(), new Rng('abc').getState());
  assert.deepEqual(new Rng('abc').getState(), seedState(hashSeed('abc')));
  assert.notEqual(new Rng('abc').uint32(), new Rng('abd').uint32());
  assert.throws(() => new Rng(1.5), /safe integer/);
  assert.throws(() => new Rng(2 ** 53), /safe integer/);
  assert.throws(() => new Rng(Number.NaN), /safe integer/);
});

test('state save/restore through JSON reproduces the stream (getState/setState, fromState, clone)', () => {
  const rng = new Rng(9);
  rng.normals(33);
  const saved = JSON.parse(JSON.stringify(rng.getState())) as RngState;
  const first = [rng.float(), rng.normal(), ...rng.normals(5), rng.int(10), rng.uint32(), ...rng.permutation(7)];
  const again = (r: Rng): number[] => [r.float(), r.normal(), ...r.normals(5), r.int(10), r.uint32(), ...r.permutation(7)];
  rng.setState(saved);
  assert.deepEqual(again(rng), first);
  assert.deepEqual(again(new Rng(saved)), first);
  assert.deepEqual(again(Rng.fromState(saved)), first);
  // getState is a copy: mutating it does not move the generator.
  const live = new Rng(3), snap = live.getState();
  snap.s0 ^= 1;
  assert.notDeepEqual(live.getState(), snap);
  // clone: same position, independent afterwards.
  const twin = new Rng(saved);
  const clone = twin.clone();
  assert.equal(twin.uint32(), clone.uint32());
  twin.uint32();
  assert.notDeepEqual(twin.getState(), clone.getState());
  // Invalid states are refused.
  assert.throws(() => new Rng({ s0: 0, s1: 0, s2: 0, s3: 0 }), /all-zero/);
  assert.throws(() => new Rng({ s0: -1, s1: 0, s2: 0, s3: 1 }), /s0 must be an unsigned 32-bit integer/);
  assert.throws(() => Rng.fromState({ s0: 1, s1: 2 ** 32, s2: 0, s3: 0 }), /s1 must be an unsigned 32-bit integer/);
  assert.throws(() => Rng.fromState({ s: [1, 2, 3, 4] } as unknown as RngState), /s0 must be an unsigned 32-bit integer/);
  assert.throws(() => rng.setState({ s0: 1, s1: 2, s2: 0.5, s3: 0 }), /s2 must be/);
});

test('uniforms in [0, 1) and normals with mean 0, variance 1', () => {
  const rng = new Rng(1);
  const u = rng.uniforms(10000);
  assert.equal(u.length, 10000);
  assert.ok(u.every((v) => v >= 0 && v < 1));
  close(u.reduce((s, v) => s + v, 0) / u.length, 0.5, 0.02, 'uniform mean');
  const n = rng.normals(20001);
  assert.equal(n.length, 20001);
  const mean = n.reduce((s, v) => s + v, 0) / n.length;
  const variance = n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length;
  close(mean, 0, 0.03, 'normal mean');
  close(variance, 1, 0.04, 'normal variance');
  assert.ok(n.every(Number.isFinite));
  const single = Array.from({ length: 20000 }, () => rng.normal());
  const m1 = single.reduce((s, v) => s + v, 0) / single.length;
  close(m1, 0, 0.03, 'normal() mean');
  close(single.reduce((s, v) => s + (v - m1) ** 2, 0) / single.length, 1, 0.04, 'normal() variance');
});

test('int(n): in range, uniform, unbiased (rejection), equal to floor(float·n) when accepted', () => {
  const r = new Rng(42);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 6000; i++) counts[r.int(6)]++;
  assert.ok(counts.every((c) => c > 850 && c < 1150), String(counts));
  // Small n never rejects in practice, so int(n) consumes one word and equals floor(float()·n).
  const a = new Rng(5), b = new Rng(5);
  for (let i = 1; i < 500; i++) assert.equal(a.int(i), Math.floor(b.float() * i));
  // n = 3·2^30: a quarter of the words must be rejected. Plain modulo would put half the mass
  // below 2^30 and plain multiply-shift would give r ≡ 0 (mod 3) half the time; both are 1/3.
  const n = 3 * 2 ** 30, draws = 30000;
  const q = new Rng(7), words = new Rng(7);
  let low = 0, zeroMod3 = 0;
  for (let i = 0; i < draws; i++) {
    const v = q.int(n);
    assert.ok(Number.isInteger(v) && v >= 0 && v < n);
    if (v < 2 ** 30) low++;
    if (v % 3 === 0) zeroMod3++;
  }
  close(low / draws, 1 / 3, 0.015, 'P(int(3·2^30) < 2^30)');
  close(zeroMod3 / draws, 1 / 3, 0.015, 'P(int(3·2^30) ≡ 0 mod 3)');
  for (let i = 0; i < draws; i++) words.uint32();
  assert.notDeepEqual(q.getState(), words.getState(), 'rejections consumed extra words');
  // Edges: n = 1 is always 0; n = 2^32 is the raw word.
  const e = new Rng(3), f = new Rng(3);
  assert.equal(e.int(1), 0);
  f.uint32();
  assert.equal(e.int(2 ** 32), f.uint32());
  for (const bad of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN]) assert.throws(() => new Rng(1).int(bad), /Rng.int: n must be an integer/);
});

test('permutation and shuffle: valid, seeded, in place', () => {
  for (const n of [0, 1, 2, 100]) {
    const p = new Rng(3).permutation(n);
    assert.ok(p instanceof Int32Array);
    assert.deepEqual(Array.from(p).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  }
  assert.deepEqual(Array.from(new Rng(3).permutation(50)), Array.from(new Rng(3).permutation(50)));
  assert.notDeepEqual(Array.from(new Rng(3).permutation(50)), Array.from(new Rng(4).permutation(50)));
  // Each of the 6 orders of 3 items comes up about equally often.
  const seen = new Map<string, number>();
  const r = new Rng(11);
  for (let i = 0; i < 6000; i++) { const k = r.permutation(3).join(''); seen.set(k, (seen.get(k) ?? 0) + 1); }
  assert.equal(seen.size, 6);
  assert.ok([...seen.values()].every((c) => c > 850 && c < 1150), JSON.stringify([...seen]));
  const arr = ['a', 'b', 'c', 'd', 'e'];
  const out = new Rng(2).shuffle(arr);
  assert.equal(out, arr, 'shuffles in place and returns its argument');
  assert.deepEqual([...arr].sort(), ['a', 'b', 'c', 'd', 'e']);
  const typed = new Rng(2).shuffle(Float32Array.from([0, 1, 2, 3, 4]));
  assert.deepEqual(Array.from(typed), arr.map((c) => 'abcde'.indexOf(c)), 'typed arrays too; same seed, same order');
});

test('hashSeed: deterministic, order- and tag-sensitive, independent streams', () => {
  assert.equal(hashSeed(1, 'epoch', 0), hashSeed(1, 'epoch', 0));
  assert.notEqual(hashSeed(1, 'epoch', 0), hashSeed(1, 'epoch', 1));
  assert.notEqual(hashSeed(1, 'epoch', 0), hashSeed(1, 'split', 0));
  assert.notEqual(hashSeed(1, 2), hashSeed(2, 1), 'order matters');
  assert.notEqual(hashSeed('ab', 'c'), hashSeed('a', 'bc'), 'string boundaries matter');
  assert.notEqual(hashSeed(2 ** 40 + 5), hashSeed(5), 'high bits matter');
  for (const h of [hashSeed(), hashSeed(0), hashSeed('x'), hashSeed(-3, 'y')]) assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32);
  assert.throws(() => hashSeed(Number.POSITIVE_INFINITY), /finite/);
  assert.throws(() => hashSeed(Number.NaN), /finite/);
  // Streams seeded from neighbouring tags are unrelated: per-epoch permutations barely agree.
  const perms = Array.from({ length: 8 }, (_, e) => new Rng(hashSeed(7, 'epoch', e)).permutation(1000));
  const seeds = new Set(Array.from({ length: 1000 }, (_, e) => hashSeed(7, 'epoch', e)));
  assert.equal(seeds.size, 1000, 'no collisions among 1000 tags');
  for (let i = 0; i < perms.length; i++) {
    for (let j = i + 1; j < perms.length; j++) {
      let same = 0;
      for (let k = 0; k < 1000; k++) if (perms[i]![k] === perms[j]![k]) same++;
      assert.ok(same < 10, `epochs ${i} and ${j} agree at ${same} of 1000 positions`);
    }
  }
  // First uniforms of neighbouring streams are uncorrelated.
  const xs = Array.from({ length: 2000 }, (_, e) => new Rng(hashSeed(1, 'class', e)).float());
  let cov = 0;
  for (let i = 1; i < xs.length; i++) cov += (xs[i]! - 0.5) * (xs[i - 1]! - 0.5);
  close(cov / (xs.length - 1) / (1 / 12), 0, 0.1, 'lag-1 correlation across tags');
});

test('one class behind every public path', async () => {
  const runtime = await import('../../src/runtime/index.ts');
  const data = await import('../../src/data/index.ts');
  const diffusion = await import('../../src/diffusion/index.ts');
  // The RNG lives in src/util (no tfjs); runtime no longer re-exports it, data and diffusion do.
  assert.equal('Rng' in runtime, false);
  assert.equal('writeFileAtomic' in runtime, false);
  assert.equal(data.Rng, Rng);
  assert.equal(diffusion.Rng, Rng);
  assert.equal(data.hashSeed, hashSeed);
  assert.equal(diffusion.seedState, seedState);
  await runtime.tf.setBackend('cpu'); // randomNormal only needs some backend; no native addon here
  const x = diffusion.randomNormal([2, 3], new Rng(4));
  assert.deepEqual(Array.from(x.dataSync()), Array.from(new Rng(4).normals(6)));
  x.dispose();
});
