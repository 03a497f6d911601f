/**
 * The one seeded PRNG of the project (xoshiro128**): uniforms, unbiased integers, Gaussians,
 * shuffles and permutations, with a plain-JSON state so training noise and data order can be
 * checkpointed and resumed bit-for-bit. Pure (no tfjs); not cryptographic.
 */

const TWO_POW_32 = 4294967296;

/** Serialisable xoshiro128** state: four unsigned 32-bit words, not all zero. */
export interface RngState { s0: number; s1: number; s2: number; s3: number; }

function rotl(x: number, k: number): number { return (x << k) | (x >>> (32 - k)); }

/** splitmix32 finaliser: spreads a seed over 32 bits so nearby seeds give unrelated streams. */
function mix32(a: number): number {
  let t = a ^ (a >>> 16);
  t = Math.imul(t, 0x21f0aaad);
  t ^= t >>> 15;
  t = Math.imul(t, 0x735a2d97);
  return (t ^ (t >>> 15)) >>> 0;
}

/** murmur3 finaliser: spreads every input bit over the 32-bit output. */
function fmix32(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Combine seeds and tags (e.g. hashSeed(seed, 'epoch', 3)) into one 32-bit seed, so independent
 * streams (per epoch, per class) can be regenerated without replaying earlier ones.
 */
export function hashSeed(...parts: (number | string)[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    if (typeof p === 'number') {
      if (!Number.isFinite(p)) throw new Error(`hashSeed: seed parts must be finite numbers, got ${p}`);
      // Mix both 32-bit halves so seeds above 2^32 still differ.
      h = fmix32(h ^ (p >>> 0)); h = fmix32(h ^ (Math.floor(p / TWO_POW_32) >>> 0));
    } else {
      for (let i = 0; i < p.length; i++) h = fmix32(h ^ p.charCodeAt(i));
      h = fmix32(h ^ 0xff);
    }
  }
  return h;
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

function checkState(s: RngState): RngState {
  if (s === null || typeof s !== 'object') throw new Error('rng state: expected {s0, s1, s2, s3} of unsigned 32-bit integers');
  const words = [s.s0, s.s1, s.s2, s.s3];
  for (const [i, w] of words.entries()) {
    if (!Number.isInteger(w) || w < 0 || w >= TWO_POW_32) throw new Error(`rng state: s${i} must be an unsigned 32-bit integer, got ${w}`);
  }
  if (words.every((w) => w === 0)) throw new Error('rng state: all-zero state is invalid for xoshiro128**');
  return { s0: s.s0, s1: s.s1, s2: s.s2, s3: s.s3 };
}

export class Rng {
  private s0 = 0; private s1 = 0; private s2 = 0; private s3 = 0;

  /**
   * A number seed (any safe integer) is expanded by seedState; a string is hashed by hashSeed
   * first; a state (e.g. from getState, through JSON) resumes that exact stream position.
   */
  constructor(seed: number | string | RngState = 0) {
    this.setState(typeof seed === 'number' ? seedState(seed) : typeof seed === 'string' ? seedState(hashSeed(seed)) : seed);
  }

  /** A generator positioned at `state` (same as `new Rng(state)`). */
  static fromState(state: RngState): Rng { return new Rng(state); }

  /** A copy of the state (plain JSON-safe object). */
  getState(): RngState { return { s0: this.s0, s1: this.s1, s2: this.s2, s3: this.s3 }; }

  setState(state: RngState): void {
    const s = checkState(state);
    this.s0 = s.s0 >>> 0; this.s1 = s.s1 >>> 0; this.s2 = s.s2 >>> 0; this.s3 = s.s3 >>> 0;
  }

  /** An independent generator at the same stream position. */
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

  /**
   * Unbiased integer in [0, n), n ≤ 2^32: Lemire's multiply-shift with rejection. The accepted
   * value is floor(uint32 · n / 2^32), i.e. floor(float() · n); a draw is rejected (and redrawn)
   * only with probability (2^32 mod n) / 2^32.
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const threshold = (TWO_POW_32 - n) % n; // = 2^32 mod n
    for (;;) {
      const x = this.uint32();
      // Exact 64-bit product x·n = hi·2^32 + lo, from 16-bit halves of x (each part < 2^53).
      const a = (x >>> 16) * n, b = (x & 0xffff) * n;
      const mid = (a % 65536) * 65536 + b;
      const lo = mid % TWO_POW_32;
      if (lo >= threshold) return Math.floor(a / 65536) + Math.floor(mid / TWO_POW_32);
    }
  }

  /** n uniforms in [0, 1). */
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

  /** Fisher–Yates shuffle in place; returns its argument. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]; a[i] = a[j]; a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
