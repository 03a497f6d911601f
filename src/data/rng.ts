/**
 * Tiny seeded PRNG (xoshiro128**) with a plain-JSON state, so data order can be checkpointed and
 * resumed bit-for-bit. Not cryptographic; only for shuffling, splits and sampling.
 */

export interface RngState { s: [number, number, number, number] }

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
      h = fmix32(h ^ (p >>> 0)); h = fmix32(h ^ (Math.floor(p / 4294967296) >>> 0));
    } else {
      for (let i = 0; i < p.length; i++) h = fmix32(h ^ p.charCodeAt(i));
      h = fmix32(h ^ 0xff);
    }
  }
  return h;
}

export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number | string = 0) {
    // splitmix32 expands the seed into a state that is never all-zero.
    let x = typeof seed === 'number' && Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32 ? seed : hashSeed(seed);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    if (!state || !Array.isArray(state.s) || state.s.length !== 4) throw new Error('Rng.fromState: expected {s: [u32, u32, u32, u32]}');
    for (let i = 0; i < 4; i++) r.s[i] = state.s[i] >>> 0;
    return r;
  }

  state(): RngState { return { s: [this.s[0], this.s[1], this.s[2], this.s[3]] }; }

  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform float in [0, 1). */
  next(): number { return this.nextU32() / 4294967296; }

  /** Unbiased integer in [0, n), by rejection sampling. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** Fisher–Yates shuffle in place; returns its argument. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
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

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }
