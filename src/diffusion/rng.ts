// Seeded PRNG (xoshiro128**) with Gaussian draws, so sampling and training noise is reproducible
// from a seed, and a trainer can save/restore the exact stream position via getState/setState.
import { tf } from '../runtime/index.ts';
import type { RngState, UniformSource } from './types.ts';

const TWO_POW_32 = 4294967296;

function rotl(x: number, k: number): number { return (x << k) | (x >>> (32 - k)); }

/** splitmix32 finaliser: spreads a seed over 32 bits so nearby seeds give unrelated streams. */
function mix32(a: number): number {
  let t = a ^ (a >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  return (t ^ (t >>> 15)) >>> 0;
}

function checkState(s: RngState): RngState {
  const words = [s.s0, s.s1, s.s2, s.s3];
  for (const [i, w] of words.entries()) {
    if (!Number.isInteger(w) || w < 0 || w >= TWO_POW_32) throw new Error(`rng state: s${i} must be an unsigned 32-bit integer, got ${w}`);
  }
  if (words.every((w) => w === 0)) throw new Error('rng state: all-zero state is invalid for xoshiro128**');
  return { s0: s.s0, s1: s.s1, s2: s.s2, s3: s.s3 };
}

/** State for a seed: any safe integer (negative allowed); both 32-bit halves are used. */
export function seedState(seed: number): RngState {
  if (!Number.isSafeInteger(seed)) throw new Error(`rng seed must be a safe integer, got ${seed}`);
  const lo = seed >>> 0;
  const hi = Math.floor(seed / TWO_POW_32) >>> 0;
  let x = lo ^ mix32(hi ^ 0x5bd1e995);
  const next = (): number => { x = (x + 0x9e3779b9) | 0; return mix32(x); };
  const s = { s0: next(), s1: next(), s2: next(), s3: next() };
  if (s.s0 === 0 && s.s1 === 0 && s.s2 === 0 && s.s3 === 0) s.s0 = 1;
  return s;
}

export class Rng implements UniformSource {
  private s0 = 0; private s1 = 0; private s2 = 0; private s3 = 0;

  constructor(seedOrState: number | RngState = 0) {
    this.setState(typeof seedOrState === 'number' ? seedState(seedOrState) : seedOrState);
  }

  /** A copy of the state (plain JSON-safe object). */
  getState(): RngState { return { s0: this.s0, s1: this.s1, s2: this.s2, s3: this.s3 }; }

  setState(state: RngState): void {
    const s = checkState(state);
    this.s0 = s.s0 >>> 0; this.s1 = s.s1 >>> 0; this.s2 = s.s2 >>> 0; this.s3 = s.s3 >>> 0;
  }

  clone(): Rng { return new Rng(this.getState()); }

  /** Next unsigned 32-bit integer. */
  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0; this.s1 >>>= 0; this.s2 >>>= 0; this.s3 >>>= 0;
    return result;
  }

  /** Uniform in [0, 1). */
  float(): number { return this.uint32() / TWO_POW_32; }

  /** Uniform integer in [0, n) (n ≤ 2^32; the modulo bias is negligible for small n). */
  int(n: number): number { return Math.floor(this.float() * n); }

  uniforms(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.float();
    return out;
  }

  /** One standard normal (Box–Muller; the pair's second value is discarded to keep state simple). */
  normal(): number {
    const u1 = (this.uint32() + 1) / TWO_POW_32; // (0, 1]: log never sees 0
    const u2 = this.float();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** n standard normals, both Box–Muller outputs used. */
  normals(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log((this.uint32() + 1) / TWO_POW_32));
      const th = 2 * Math.PI * this.float();
      out[i] = r * Math.cos(th);
      if (i + 1 < n) out[i + 1] = r * Math.sin(th);
    }
    return out;
  }
}

/** A tensor of standard normals drawn from `rng` (deterministic, unlike tf.randomNormal). */
export function randomNormal<R extends tf.Rank>(shape: number[], rng: Rng): tf.Tensor<R> {
  const n = shape.reduce((a, b) => a * b, 1);
  const out: tf.Tensor = tf.tensor(rng.normals(n), shape, 'float32');
  return out as tf.Tensor<R>;
}
