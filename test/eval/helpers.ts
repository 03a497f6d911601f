import { aggregateFirstPairs, type PredictionRecord } from '../../src/eval/index.ts';

export function close(a: number, b: number, tol = 1e-12): boolean {
  return Math.abs(a - b) <= tol;
}

/** Deterministic PRNG (Park–Miller) for synthetic data. */
export function lcg(seed: number): () => number {
  let s = seed % 2147483647 || 1;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

/** A PredictionRecord from per-pair errors (N*K), aggregated over all pairs. */
export function recordFromErrors(id: string, label: number, errors: Float32Array, K: number): PredictionRecord {
  const N = errors.length / K;
  const a = aggregateFirstPairs(errors, K, N);
  const shares = a.votes.map((v) => v / N);
  const H = -shares.reduce((acc, p) => (p > 0 ? acc + p * Math.log(p) : acc), 0) / Math.log(K);
  return {
    id, label, votePred: a.votePred, meanPred: a.meanPred, votes: a.votes, shares, entropy: H,
    meanErrors: a.meanErrors, errors, pairsUsed: N, forwardPasses: N * K,
  };
}

/**
 * Synthetic classifier output: class `label` has lower error on most pairs; a few high-noise
 * pairs carry large errors that may favour the wrong class.
 */
export function syntheticRecords(n: number, K: number, N: number, seed = 1): PredictionRecord[] {
  const rnd = lcg(seed);
  const out: PredictionRecord[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % K;
    const skill = rnd();
    const e = new Float32Array(N * K);
    for (let k = 0; k < N; k++) {
      const big = rnd() < 0.1 ? 20 * rnd() : 0;
      for (let c = 0; c < K; c++) e[k * K + c] = 0.5 + rnd() * 0.3 - (c === label ? 0.2 * skill : 0) + (c === label ? big : 0);
    }
    out.push(recordFromErrors(`img_${i}.png`, label, e, K));
  }
  return out;
}
