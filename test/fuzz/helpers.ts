/** fast-check glue for the fuzz tests: op arbitraries and the "ok or a clear error, in time" check. */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyOps, prng, INTERESTING, type Op } from './mutate.ts';
import { runOne, type Target } from './targets.ts';

/** Seeded so CI is reproducible; FUZZ_SEED=random (or a number) explores more. */
const envSeed = process.env.FUZZ_SEED;
export const SEED = envSeed === 'random' ? Date.now() % 2 ** 31 : envSeed ? Number(envSeed) : 20240519;
/** Per-input wall-clock limit (generous: CI machines are slow and share cores). */
export const LIMIT_MS = Number(process.env.FUZZ_LIMIT_MS ?? 2000);
// The codec sandbox stops a looping codec well inside the per-input limit (its default is 10 s or more).
process.env.MEDDIFF_CODEC_TIMEOUT_MS ??= String(Math.floor(LIMIT_MS / 2));
export const params = (numRuns: number) => ({ numRuns, seed: SEED, endOnFailure: true });

const frac = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const value = fc.oneof(fc.constantFrom(...INTERESTING), fc.nat({ max: 0xffffffff }));
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: frac, bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: frac, value: fc.nat({ max: 255 }) }),
  fc.record({ kind: fc.constant('int' as const), at: frac, width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const), value }),
  fc.record({ kind: fc.constant('truncate' as const), at: frac }),
  fc.record({ kind: fc.constant('insert' as const), at: frac, bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 40 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: frac, len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('dup' as const), at: frac, len: fc.integer({ min: 1, max: 64 }), to: frac }),
  fc.record({ kind: fc.constant('splice' as const), at: frac, other: fc.nat({ max: 100 }), from: frac, len: fc.integer({ min: 1, max: 128 }) }),
);
/** Early ops land in the header region more often: most parsers fail fast there. */
export const opsArb = fc.array(opArb, { minLength: 1, maxLength: 6 });

/** Assert the parser returns a well-formed result or throws a clear Error naming the input, within LIMIT_MS. */
export async function robust(t: Target, bytes: Uint8Array, label: string): Promise<void> {
  const s = performance.now(), limit = t.limitMs ?? LIMIT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => { timer = setTimeout(() => rej(new Error(`timeout after ${limit} ms`)), limit); });
  try {
    const c = await Promise.race([runOne(t, bytes, label), timeout]);
    const ms = performance.now() - s;
    assert.ok(ms < limit, `${label}: took ${ms.toFixed(0)} ms (limit ${limit})`);
    assert.notEqual(c.outcome, 'crash', `${label}: ${c.kind}: ${c.message}`);
  } finally { clearTimeout(timer); }
}

/** The three standard properties for a target: random bytes, mutated seeds, structure-aware mutations. */
export async function standardProperties(t: Target, runs: { random: number; mutated: number; structured: number }): Promise<void> {
  const seeds = await t.seeds();
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (b) => robust(t, b, `random-${t.name}`)), params(runs.random));
  await fc.assert(fc.asyncProperty(fc.nat(), opsArb, async (k, ops) => robust(t, applyOps(seeds[k % seeds.length], ops, seeds), `mutated-${t.name}`)), params(runs.mutated));
  if (t.structured && runs.structured > 0) {
    const st = t.structured.bind(t);
    await fc.assert(fc.asyncProperty(fc.nat(), fc.integer(), opsArb, fc.boolean(), async (k, rs, ops, more) => {
      let b = st(seeds[k % seeds.length], prng(rs));
      if (more) b = applyOps(b, ops.slice(0, 2), seeds);
      await robust(t, b, `structured-${t.name}`);
    }), params(runs.structured));
  }
}
