// A Gaussian fitted to feature vectors and the Mahalanobis distance from it (the multiscale OOD
// score, docs/reliability.md): mean, sample covariance with a ridge, its inverse by Cholesky.
// Pure: plain arrays, no I/O, no tensors.

export interface GaussianFit {
  mean: number[];
  /** Inverse of (sample covariance + ridge·I), symmetric positive definite, d × d. */
  precision: number[][];
  /** What was added to the covariance's diagonal: ridgeFactor × the mean feature variance. */
  ridge: number;
}

/** Lower-triangular L with A = L·Lᵀ, or null when A is not (numerically) symmetric positive definite. */
export function cholesky(a: readonly (readonly number[])[]): number[][] | null {
  const d = a.length;
  const l = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let i = 0; i < d; i++) {
    if (a[i]!.length !== d) return null;
    for (let j = 0; j <= i; j++) {
      if (!(Math.abs(a[i]![j]! - a[j]![i]!) <= 1e-9 * (Math.abs(a[i]![j]!) + Math.abs(a[j]![i]!)) + 1e-300)) return null;
      let s = a[i]![j]!;
      for (let k = 0; k < j; k++) s -= l[i]![k]! * l[j]![k]!;
      if (i === j) {
        if (!(s > 0)) return null;
        l[i]![i] = Math.sqrt(s);
      } else l[i]![j] = s / l[j]![j]!;
      if (!Number.isFinite(l[i]![j]!)) return null; // overflow: not usable as a factor
    }
  }
  return l;
}

/** Inverse of a symmetric positive-definite matrix via its Cholesky factor; throws when it is not one. */
export function spdInverse(a: readonly (readonly number[])[]): number[][] {
  const l = cholesky(a);
  if (!l) throw new Error('spdInverse: the matrix is not symmetric positive definite');
  const d = a.length;
  // L⁻¹ column by column (forward substitution), then A⁻¹ = L⁻ᵀ·L⁻¹
  const li = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let c = 0; c < d; c++) {
    for (let i = c; i < d; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= l[i]![k]! * li[k]![c]!;
      li[i]![c] = s / l[i]![i]!;
    }
  }
  const inv = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < d; k++) s += li[k]![i]! * li[k]![j]!;
      inv[i]![j] = s; inv[j]![i] = s;
    }
  }
  return inv;
}

/**
 * Fit mean and (unbiased) covariance to n ≥ 2 feature vectors of equal length d, add
 * ridgeFactor × the mean variance to the diagonal (keeps the inverse stable when features are
 * nearly collinear, as the errors at neighbouring diffusion times are), and invert it.
 */
export function fitGaussian(features: readonly (readonly number[])[], ridgeFactor = 1e-3): GaussianFit {
  const n = features.length;
  if (n < 2) throw new Error(`fitGaussian: need at least 2 feature vectors, got ${n}`);
  const d = features[0]!.length;
  if (d < 1) throw new Error('fitGaussian: feature vectors are empty');
  if (!(ridgeFactor >= 0 && Number.isFinite(ridgeFactor))) throw new Error(`fitGaussian: ridgeFactor must be a finite number ≥ 0, got ${ridgeFactor}`);
  for (const [i, f] of features.entries()) {
    if (f.length !== d) throw new Error(`fitGaussian: feature vector ${i} has ${f.length} values, the first has ${d}`);
    if (!f.every(Number.isFinite)) throw new Error(`fitGaussian: feature vector ${i} has a non-finite value`);
  }
  const mean = new Array<number>(d).fill(0);
  for (const f of features) for (let j = 0; j < d; j++) mean[j]! += f[j]! / n;
  const cov = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (const f of features) {
    for (let a = 0; a < d; a++) for (let b = 0; b <= a; b++) cov[a]![b]! += (f[a]! - mean[a]!) * (f[b]! - mean[b]!) / (n - 1);
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) cov[b]![a] = cov[a]![b]!;
  const ridge = ridgeFactor * cov.reduce((s, r, i) => s + r[i]!, 0) / d;
  for (let i = 0; i < d; i++) cov[i]![i]! += ridge;
  if (!cholesky(cov)) throw new Error(`fitGaussian: the covariance of ${n} vectors is singular (constant or collinear features); use more vectors or a ridgeFactor > 0`);
  return { mean, precision: spdInverse(cov), ridge };
}

/** √((x − mean)ᵀ · precision · (x − mean)). */
export function mahalanobis(x: readonly number[], mean: readonly number[], precision: readonly (readonly number[])[]): number {
  const d = mean.length;
  if (x.length !== d || precision.length !== d) throw new Error(`mahalanobis: x has ${x.length} values, mean ${d}, precision ${precision.length} rows`);
  let q = 0;
  for (let i = 0; i < d; i++) {
    const row = precision[i]!;
    let s = 0;
    for (let j = 0; j < d; j++) s += row[j]! * (x[j]! - mean[j]!);
    q += (x[i]! - mean[i]!) * s;
  }
  // a positive-definite precision gives q ≥ 0; rounding can leave −1e-16
  return Math.sqrt(Math.max(0, q));
}
