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
