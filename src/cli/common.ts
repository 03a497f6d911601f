import type { Command } from 'commander';
import { initRuntime, parsePrecision, BACKENDS, PRECISION_CHOICES, type PrecisionChoice, type RuntimeInfo } from '../runtime/index.ts';
import { loadPipeline, type DiffusionPipeline, type Logger } from '../pipeline/index.ts';
import { parseCsvFilters, type CsvColumns } from '../data/index.ts';

/** Options every compute command shares. */
export function withRuntimeOptions(cmd: Command): Command {
  return cmd
    .option('--backend <name>', `compute backend: auto, ${BACKENDS.join(', ')} (env MEDDIFF_BACKEND)`)
    .option('--threads <n>', 'threads for the native kernels (env MEDDIFF_THREADS; default: all cores)')
    .option('--precision <p>', `inference precision of the native kernels: ${PRECISION_CHOICES.join(', ')} (env MEDDIFF_PRECISION; default auto: ` +
      'bf16 where the CPU has AVX512_BF16, else fp32; training always runs fp32; see docs/performance.md)', (v: string) => parsePrecision(v, '--precision'))
    // exported to the environment too, so that runtimes started in worker threads (serve) use it
    .hook('preAction', (_cmd, action) => {
      const p = action.opts().precision as PrecisionChoice | undefined;
      if (p !== undefined) process.env.MEDDIFF_PRECISION = p;
    });
}

export async function startRuntime(opts: { backend?: string; threads?: string; precision?: string }, log = true): Promise<RuntimeInfo> {
  return initRuntime({
    backend: opts.backend as RuntimeInfo['backend'] | 'auto' | undefined,
    threads: opts.threads === undefined ? undefined : Number(opts.threads),
    precision: parsePrecision(opts.precision, '--precision'),
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

/** The CLI's logger: warnings to stderr (the library itself never writes there). */
export const stderrLogger: Logger = {
  info: (m) => process.stderr.write(`${m}\n`),
  warn: (m) => process.stderr.write(`warning: ${m}\n`),
};

export function weightsFrom(o: Record<string, unknown>): 'ema' | 'raw' {
  if (o.weights !== 'ema' && o.weights !== 'raw') throw new Error(`--weights must be 'ema' or 'raw', got '${String(o.weights)}'`);
  return o.weights;
}

/** --model (and --weights) as a pipeline; the calibration beside the weights is read unless told not to. */
export function loadModelOption(o: Record<string, unknown>, opts: { calibration?: boolean } = {}): DiffusionPipeline {
  return loadPipeline(o.model as string, { weights: weightsFrom(o), calibration: opts.calibration, logger: stderrLogger });
}

/** The CSV manifest options of train, evaluate and calibrate (ignored for npz archives and folders). */
export function withCsvOptions(cmd: Command): Command {
  return cmd
    .option('--path-column <name>', 'CSV: the image path column (default: path, file, filename, image…)')
    .option('--label-column <name>', 'CSV: the label column (default: label, class, target, diagnosis)')
    .option('--split-column <name>', "CSV: the split column, train/val/test (default: 'split' when present)")
    .option('--filter <column=value>', 'CSV: keep only rows where column = value (repeatable; values of one column are alternatives)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--mask-column <name>', 'CSV: a column of mask images (lesion segmentations)')
    .option('--group-column <name>', 'CSV without a split column: keep each group (lesion, patient) in one split');
}

/** CsvColumns from the options above; undefined when none was given (evaluate then uses the model's). */
export function csvColumnsFrom(o: Record<string, unknown>): CsvColumns | undefined {
  const c: CsvColumns = {
    ...(o.pathColumn !== undefined ? { pathColumn: o.pathColumn as string } : {}),
    ...(o.labelColumn !== undefined ? { labelColumn: o.labelColumn as string } : {}),
    ...(o.splitColumn !== undefined ? { splitColumn: o.splitColumn as string } : {}),
    ...(o.filter !== undefined ? { filters: parseCsvFilters(o.filter as string[]) } : {}),
    ...(o.maskColumn !== undefined ? { maskColumn: o.maskColumn as string } : {}),
    ...(o.groupColumn !== undefined ? { groupColumn: o.groupColumn as string } : {}),
  };
  return Object.keys(c).length ? c : undefined;
}

/** Options the user typed (not defaults) among `names`, as --flags: for refusing options that do not apply. */
export function givenOptions(cmd: { getOptionValueSource(key: string): string | undefined }, names: readonly string[]): string[] {
  return names.filter((n) => cmd.getOptionValueSource(n) === 'cli').map((n) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
}

/** The classify options that only mean something for a diffusion model (noise pairs, votes, weights). */
export const DIFFUSION_ONLY_OPTIONS = ['n', 'aggregate', 'earlyStop', 'times', 'tRange', 'mirror', 'weights', 'pruneAfter', 'pruneKeep'] as const;
