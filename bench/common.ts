import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../src/util/index.ts';

export const RESULTS_DIR = path.join(path.dirname(new URL(import.meta.url).pathname), 'results');

/** Median wall time (ms) of `reps` calls after `warmup` calls. */
export async function timeMedian(fn: () => unknown | Promise<unknown>, reps: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]!;
}

export function machine() {
  return { cores: os.availableParallelism?.() ?? os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', node: process.version };
}

export function writeResult(name: string, result: unknown): string {
  const file = path.join(RESULTS_DIR, name);
  writeFileAtomic(file, JSON.stringify(result, null, 2) + '\n');
  return file;
}
