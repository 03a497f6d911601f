import assert from 'node:assert/strict';
import { initRuntime, tf, type Tensor } from '../src/runtime/index.ts';

/** Initialise the backend chosen by MEDDIFF_BACKEND (default: the fastest that works). */
export async function setup() {
  return initRuntime({ log: false });
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function values(t: Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

export { tf };

export function close(actual: number, expected: number, tol: number, what = 'value'): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: expected ${expected} ± ${tol}, got ${actual}`);
}

/** Largest absolute difference relative to the reference's largest magnitude. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num = Math.max(num, Math.abs(a[i]! - b[i]!)); den = Math.max(den, Math.abs(b[i]!)); }
  return num / Math.max(den, 1e-12);
}

/** Seeded uniform [0, 1) generator (mulberry32) for test inputs. */
export function uniformRng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
