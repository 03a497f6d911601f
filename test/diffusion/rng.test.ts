import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng, seedState } from '../../src/diffusion/index.ts';
import { close } from './helpers.ts';

test('xoshiro128** matches the reference recurrence (hand-stepped from state 1,2,3,4)', () => {
  // out = rotl(s1·5, 7)·9: 10 → 1280·9 = 11520; then s1 = 0 → 0; then s1 = 1029 → 658560·9.
  const rng = new Rng({ s0: 1, s1: 2, s2: 3, s3: 4 });
  assert.deepEqual([rng.uint32(), rng.uint32(), rng.uint32()], [11520, 0, 5927040]);
});

test('deterministic for a seed, different across seeds', () => {
  const a = new Rng(42).normals(100), b = new Rng(42).normals(100), c = new Rng(43).normals(100);
  assert.deepEqual(Array.from(a), Array.from(b));
  assert.notDeepEqual(Array.from(a), Array.from(c));
  assert.deepEqual(seedState(2 ** 40 + 5), seedState(2 ** 40 + 5));
  assert.notDeepEqual(seedState(2 ** 40 + 5), seedState(5), 'high bits of the seed matter');
});

test('state save/restore through JSON reproduces the stream', () => {
  const rng = new Rng(9);
  rng.normals(33);
  const saved = JSON.parse(JSON.stringify(rng.getState()));
  const first = [rng.float(), rng.normal(), ...rng.normals(5)];
  rng.setState(saved);
  assert.deepEqual([rng.float(), rng.normal(), ...rng.normals(5)], first);
  const twin = new Rng(saved);
  const clone = twin.clone();
  assert.equal(twin.uint32(), clone.uint32());
  assert.throws(() => new Rng({ s0: 0, s1: 0, s2: 0, s3: 0 }), /all-zero/);
  assert.throws(() => new Rng({ s0: -1, s1: 0, s2: 0, s3: 1 }), /s0 must be an unsigned 32-bit integer/);
  assert.throws(() => new Rng(1.5), /safe integer/);
});

test('uniforms in [0, 1) and normals with mean 0, variance 1', () => {
  const rng = new Rng(1);
  const u = rng.uniforms(10000);
  assert.ok(u.every((v) => v >= 0 && v < 1));
  close(u.reduce((s, v) => s + v, 0) / u.length, 0.5, 0.02, 'uniform mean');
  const n = rng.normals(20001);
  assert.equal(n.length, 20001);
  const mean = n.reduce((s, v) => s + v, 0) / n.length;
  const variance = n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length;
  close(mean, 0, 0.03, 'normal mean');
  close(variance, 1, 0.04, 'normal variance');
  assert.ok(n.every(Number.isFinite));
});
