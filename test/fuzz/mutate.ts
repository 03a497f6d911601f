/**
 * Deterministic input mutation for the fuzz tests (fast-check drives the op lists) and
 * scripts/fuzz.mjs (a seeded PRNG draws them). Every mutation is a pure function of its inputs,
 * so a failing case is reproduced from (seed, parser, index) alone.
 */

/** splitmix32-style PRNG: tiny, fast, good enough to pick mutations. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

/** Hash of strings/numbers into a 32-bit seed (FNV-1a). */
export function hashSeed(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    const s = String(p);
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ 0xff, 0x01000193) >>> 0;
  }
  return h;
}

/** Integers that tend to break length and offset arithmetic. */
export const INTERESTING = [0, 1, 2, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

export type Op =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'int'; at: number; width: 1 | 2 | 4 | 8; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'dup'; at: number; len: number; to: number }
  | { kind: 'splice'; at: number; other: number; from: number; len: number };

/** Positions are fractions in [0, 1) of the current length, so ops stay meaningful as the input changes. */
const pos = (f: number, n: number) => Math.min(n, Math.max(0, Math.floor(f * n)));

export function applyOps(input: Uint8Array, ops: readonly Op[], others: readonly Uint8Array[] = []): Uint8Array {
  let b = Uint8Array.from(input);
  for (const op of ops) {
    const n = b.length;
    switch (op.kind) {
      case 'flip': if (n) { const i = pos(op.at, n - 1); b[i] ^= 1 << (op.bit & 7); } break;
      case 'set': if (n) b[pos(op.at, n - 1)] = op.value & 0xff; break;
      case 'int': {
        if (n < op.width) break;
        const i = pos(op.at, n - op.width);
        let v = op.value;
        for (let k = 0; k < op.width; k++) { b[i + k] = v & 0xff; v = Math.floor(v / 256); }
        break;
      }
      case 'truncate': b = b.slice(0, pos(op.at, n)); break;
      case 'insert': {
        const i = pos(op.at, n);
        const out = new Uint8Array(n + op.bytes.length);
        out.set(b.subarray(0, i)); out.set(op.bytes.map((x) => x & 0xff), i); out.set(b.subarray(i), i + op.bytes.length);
        b = out; break;
      }
      case 'delete': {
        const i = pos(op.at, n), j = Math.min(n, i + op.len);
        const out = new Uint8Array(n - (j - i));
        out.set(b.subarray(0, i)); out.set(b.subarray(j), i);
        b = out; break;
      }
      case 'dup': {
        const i = pos(op.at, n), j = Math.min(n, i + op.len), to = pos(op.to, n);
        const chunk = b.slice(i, j);
        const out = new Uint8Array(n + chunk.length);
        out.set(b.subarray(0, to)); out.set(chunk, to); out.set(b.subarray(to), to + chunk.length);
        b = out; break;
      }
      case 'splice': {
        const o = others.length ? others[op.other % others.length] : b;
        const from = pos(op.from, o.length), chunk = o.slice(from, Math.min(o.length, from + op.len));
        const i = pos(op.at, n);
        const out = new Uint8Array(Math.max(n, i + chunk.length));
        out.set(b); out.set(chunk, i);
        b = out; break;
      }
    }
  }
  return b;
}

/** Draw a random op list (scripts/fuzz.mjs); fast-check builds the same shapes with its arbitraries. */
export function randomOps(r: () => number, maxOps = 6): Op[] {
  const ops: Op[] = [];
  const k = 1 + Math.floor(-Math.log(1 - r() * 0.999) * 1.2) % maxOps; // mostly 1-2 ops, sometimes many
  const int = (m: number) => Math.floor(r() * m);
  for (let i = 0; i < k; i++) {
    const c = int(100);
    // Most mutations land in the first 512 bytes, where the headers are.
    const at = r() < 0.6 ? r() * r() * 0.3 : r();
    if (c < 25) ops.push({ kind: 'flip', at, bit: int(8) });
    else if (c < 40) ops.push({ kind: 'set', at, value: r() < 0.5 ? INTERESTING[int(INTERESTING.length)] : int(256) });
    else if (c < 60) {
      const width = ([1, 2, 4, 8] as const)[int(4)];
      ops.push({ kind: 'int', at, width, value: r() < 0.7 ? INTERESTING[int(INTERESTING.length)] : int(2 ** 32) });
    } else if (c < 70) ops.push({ kind: 'truncate', at: r() });
    else if (c < 80) ops.push({ kind: 'insert', at, bytes: Array.from({ length: 1 + int(r() < 0.9 ? 8 : 300) }, () => (r() < 0.3 ? INTERESTING[int(INTERESTING.length)] : int(256))) });
    else if (c < 88) ops.push({ kind: 'delete', at, len: 1 + int(r() < 0.8 ? 8 : 200) });
    else if (c < 95) ops.push({ kind: 'dup', at, len: 1 + int(64), to: r() });
    else ops.push({ kind: 'splice', at, other: int(1000), from: r(), len: 1 + int(128) });
  }
  return ops;
}

export function randomBytes(r: () => number, maxLen = 512): Uint8Array {
  const n = Math.floor(r() * r() * maxLen);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

/** A random JSON value, biased to the wrong-typed ones that break validators. */
export function randomJson(r: () => number, depth = 0): unknown {
  const c = Math.floor(r() * 14);
  switch (c) {
    case 0: return null;
    case 1: return r() < 0.5;
    case 2: return Math.floor(r() * 10) - 3;
    case 3: return r() * 2 - 0.5;
    case 4: return [0, -1, 1e308, -1e308, 2 ** 53, 2 ** 31, 0.5, 1.000001, -0][Math.floor(r() * 9)];
    case 5: return ['', '0.5', 'NaN', 'vote-share-threshold', 'F32', 'x'.repeat(Math.floor(r() * 50)), '\u0000', '__proto__'][Math.floor(r() * 8)];
    case 6: case 7: return depth > 2 ? 1 : Array.from({ length: Math.floor(r() * 4) }, () => randomJson(r, depth + 1));
    case 8: return depth > 2 ? {} : Object.fromEntries(Array.from({ length: Math.floor(r() * 3) }, (_, i) => [['a', 'b', 'dtype', 'shape', 'threshold'][i % 5], randomJson(r, depth + 1)]));
    case 9: return [Math.floor(r() * 4), Math.floor(r() * 4)];
    case 10: return [r(), r()];
    case 11: return { a: r() * 10, b: r() - 0.5 };
    case 12: return 'NaN';
    default: return undefined; // "delete the field"
  }
}

/** Replace (or delete) one field somewhere inside a JSON object tree. */
export function mutateJsonTree(root: unknown, r: () => number): unknown {
  const clone = structuredClone(root);
  const paths: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]) => {
    if (p.length) paths.push(p);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(clone, []);
  if (!paths.length) return randomJson(r);
  const p = paths[Math.floor(r() * paths.length)];
  let parent = clone as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = p[p.length - 1];
  const v = randomJson(r);
  if (v === undefined && !Array.isArray(parent)) delete parent[last];
  else parent[last] = v ?? null;
  return clone;
}
