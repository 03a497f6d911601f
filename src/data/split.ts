/** Deterministic stratified splitting and seeded class balancing. */
import { Rng, hashSeed } from '../util/index.ts';

export type SplitName = 'train' | 'val' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'val', 'test'];

/** Accepts common spellings found in CSV manifests and folder names. */
export function parseSplitName(s: string): SplitName | undefined {
  const v = s.trim().toLowerCase();
  if (v === 'train' || v === 'training') return 'train';
  if (v === 'val' || v === 'valid' || v === 'validation' || v === 'dev') return 'val';
  if (v === 'test' || v === 'testing') return 'test';
  return undefined;
}

export interface SplitOptions {
  seed?: number;
  /** Fractions for train/val/test; default [0.8, 0.1, 0.1]. */
  fractions?: readonly [number, number, number];
}

/**
 * Per class: shuffle its indices (seeded per class, so adding a class does not reshuffle the
 * others) and cut by the fractions. Each output list is sorted ascending.
 */
export function stratifiedSplit(labels: ArrayLike<number>, opts: SplitOptions = {}): Record<SplitName, Int32Array> {
  const seed = opts.seed ?? 0;
  const [ft, fv, fs] = opts.fractions ?? [0.8, 0.1, 0.1];
  if (![ft, fv, fs].every((f) => f >= 0) || Math.abs(ft + fv + fs - 1) > 1e-6) {
    throw new Error(`split fractions must be non-negative and sum to 1, got ${[ft, fv, fs].join('/')}`);
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    let list = byClass.get(l);
    if (!list) byClass.set(l, (list = []));
    list.push(i);
  }
  const parts: Record<SplitName, number[]> = { train: [], val: [], test: [] };
  for (const [label, idx] of [...byClass].sort((a, b) => a[0] - b[0])) {
    new Rng(hashSeed(seed, 'split', label)).shuffle(idx);
    const n = idx.length;
    const nVal = Math.round(n * fv), nTest = Math.round(n * fs);
    const nTrain = Math.max(0, n - nVal - nTest);
    parts.train.push(...idx.slice(0, nTrain));
    parts.val.push(...idx.slice(nTrain, nTrain + nVal));
    parts.test.push(...idx.slice(nTrain + nVal));
  }
  const sorted = (a: number[]) => Int32Array.from(a).sort();
  return { train: sorted(parts.train), val: sorted(parts.val), test: sorted(parts.test) };
}

/**
 * stratifiedSplit for data with groups (several images of one lesion or patient): whole groups go
 * to one split, so no group is in two. Groups are stratified by their label (the most common one
 * among their images), shuffled per label (seeded), and cut where the running image count passes
 * the fractions. Each output list is sorted ascending.
 */
export function groupedStratifiedSplit(labels: ArrayLike<number>, groups: readonly string[], opts: SplitOptions = {}): Record<SplitName, Int32Array> {
  const seed = opts.seed ?? 0;
  const [ft, fv, fs] = opts.fractions ?? [0.8, 0.1, 0.1];
  if (![ft, fv, fs].every((f) => f >= 0) || Math.abs(ft + fv + fs - 1) > 1e-6) {
    throw new Error(`split fractions must be non-negative and sum to 1, got ${[ft, fv, fs].join('/')}`);
  }
  if (groups.length !== labels.length) throw new Error(`groupedStratifiedSplit: ${groups.length} groups for ${labels.length} labels`);
  const members = new Map<string, number[]>();
  for (let i = 0; i < labels.length; i++) {
    let m = members.get(groups[i]!);
    if (!m) members.set(groups[i]!, (m = []));
    m.push(i);
  }
  const byLabel = new Map<number, string[]>();
  for (const [g, idx] of members) {
    const counts = new Map<number, number>();
    for (const i of idx) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
    const label = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]![0];
    let list = byLabel.get(label);
    if (!list) byLabel.set(label, (list = []));
    list.push(g);
  }
  const parts: Record<SplitName, number[]> = { train: [], val: [], test: [] };
  for (const [label, gs] of [...byLabel].sort((a, b) => a[0] - b[0])) {
    gs.sort(); // a fixed order before the seeded shuffle (Map order follows the file)
    new Rng(hashSeed(seed, 'group-split', label)).shuffle(gs);
    const total = gs.reduce((a, g) => a + members.get(g)!.length, 0);
    let seen = 0;
    for (const g of gs) {
      const idx = members.get(g)!;
      // the split where this group's first image falls, by the cumulative count: val, test, then train
      const at = (seen + 0.5) / total;
      const split: SplitName = at < fv ? 'val' : at < fv + fs ? 'test' : 'train';
      parts[split].push(...idx);
      seen += idx.length;
    }
  }
  const sorted = (a: number[]) => Int32Array.from(a).sort();
  return { train: sorted(parts.train), val: sorted(parts.val), test: sorted(parts.test) };
}

export type BalanceMode = 'none' | 'undersample' | 'oversample';

/**
 * Resample `indices` so every class present has the same count: 'undersample' keeps a seeded
 * random subset of each class down to the rarest count; 'oversample' repeats each class (whole
 * copies first, then a seeded random remainder) up to the most common count. Output is sorted.
 */
export function balanceIndices(indices: ArrayLike<number>, labels: ArrayLike<number>, mode: BalanceMode, seed = 0): Int32Array {
  if (mode === 'none') return Int32Array.from(indices);
  if (mode !== 'undersample' && mode !== 'oversample') throw new Error(`balance must be none, undersample or oversample, got '${mode}'`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < indices.length; i++) {
    const l = labels[indices[i]];
    let list = byClass.get(l);
    if (!list) byClass.set(l, (list = []));
    list.push(indices[i]);
  }
  if (byClass.size === 0) return new Int32Array(0);
  const counts = [...byClass.values()].map((l) => l.length);
  const target = mode === 'undersample' ? Math.min(...counts) : Math.max(...counts);
  const out: number[] = [];
  for (const [label, idx] of [...byClass].sort((a, b) => a[0] - b[0])) {
    const rng = new Rng(hashSeed(seed, 'balance', label));
    let left = target;
    while (left >= idx.length) { out.push(...idx); left -= idx.length; }
    if (left > 0) out.push(...rng.shuffle(idx.slice()).slice(0, left));
  }
  return Int32Array.from(out).sort();
}

/** Count of each label value 0..numClasses-1. */
export function classCounts(labels: ArrayLike<number>, numClasses: number, indices?: ArrayLike<number>): number[] {
  const c = new Array<number>(numClasses).fill(0);
  const n = indices ? indices.length : labels.length;
  for (let i = 0; i < n; i++) c[labels[indices ? indices[i] : i]]++;
  return c;
}
