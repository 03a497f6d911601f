import type { Command } from 'commander';
import { initRuntime, BACKENDS, type RuntimeInfo } from '../runtime/index.ts';

/** Options every compute command shares. */
export function withRuntimeOptions(cmd: Command): Command {
  return cmd
    .option('--backend <name>', `compute backend: auto, ${BACKENDS.join(', ')} (env MEDDIFF_BACKEND)`)
    .option('--threads <n>', 'threads for the native kernels (env MEDDIFF_THREADS; default: all cores)');
}

export async function startRuntime(opts: { backend?: string; threads?: string }, log = true): Promise<RuntimeInfo> {
  return initRuntime({
    backend: opts.backend as RuntimeInfo['backend'] | 'auto' | undefined,
    threads: opts.threads === undefined ? undefined : Number(opts.threads),
    log,
  });
}

/** commander parser for an integer option with a lower bound; the error names the option. */
export function intOption(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got '${v}'`);
    return n;
  };
}

export function floatOption(name: string, min = -Infinity) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number${min > -Infinity ? ` ≥ ${min}` : ''}, got '${v}'`);
    return n;
  };
}
