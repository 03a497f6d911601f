import fs from 'node:fs';
import os from 'node:os';
import { Command } from 'commander';
import { tf } from '../runtime/index.ts';
import { startRuntime, withRuntimeOptions } from './common.ts';

function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function infoCommand(): Command {
  return withRuntimeOptions(new Command('info'))
    .description('Print version, backend, threads, SIMD, native kernels and library versions (paste this into bug reports)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  meddiff info\n  meddiff info --json --backend wasm\n')
    .action(async (opts: { json?: boolean; backend?: string; threads?: string; precision?: string }) => {
      const rt = await startRuntime(opts, false);
      const info = {
        meddiff: packageVersion(),
        node: process.version,
        tfjs: tf.version.tfjs,
        platform: `${os.platform()} ${os.arch()}`,
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cores: os.availableParallelism?.() ?? os.cpus().length,
        backend: rt.backend,
        reason: rt.reason,
        threads: rt.threads,
        precision: rt.precision,
        precisionReason: rt.precisionReason,
        simd: rt.simd,
        nativeKernels: rt.nativeKernels,
        fallbackKernels: rt.fallbackKernels,
        libraries: rt.libraries,
        ...(rt.nativeError ? { nativeError: rt.nativeError } : {}),
      };
      if (opts.json) {
        process.stdout.write(JSON.stringify(info, null, 2) + '\n');
        return;
      }
      const rows: [string, string][] = [
        ['meddiff', info.meddiff], ['node', info.node], ['tfjs', info.tfjs], ['platform', info.platform],
        ['cpu', `${info.cpu} (${info.cores} cores)`], ['backend', `${info.backend} — ${info.reason}`],
        ['threads', String(info.threads)], ['precision', `${info.precision} — ${info.precisionReason}` + (rt.libraries.bf16 ? ` (bf16 on this CPU: ${rt.libraries.bf16})` : '')],
        ['wasm SIMD', info.simd ? 'yes' : 'no'],
        ['native kernels', info.nativeKernels.join(', ') || 'none'],
        ['wasm fill-in kernels', info.fallbackKernels.join(', ') || 'none'],
        ...Object.entries(info.libraries).map(([k, v]) => [k, v] as [string, string]),
      ];
      for (const [k, v] of rows) process.stdout.write(`${k.padEnd(22)} ${v}\n`);
    });
}
