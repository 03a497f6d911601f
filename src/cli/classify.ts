import path from 'node:path';
import { Command } from 'commander';
import { baselineResultJson, classifyBaselineFiles, classifyFiles, classificationJson, type ClassifyConfig, type ClassifySettings } from '../classify/index.ts';
import { isBaselineFolder, loadBaselinePipeline, type Calibration } from '../pipeline/index.ts';
import { startRuntime, withRuntimeOptions, intOption, loadModelOption, stderrLogger, givenOptions, DIFFUSION_ONLY_OPTIONS } from './common.ts';
import { Progress } from './progress.ts';

/** Options shared by classify and evaluate. */
export function withClassifyOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--model <dir>', 'a training run, checkpoint or shipped model folder')
    .option('--n <k>', 'noise/time pairs per image', intOption('--n', 1), 51)
    .option('--aggregate <how>', 'vote (majority vote, default) or mean (mean error)', 'vote')
    .option('--early-stop <rule>', "off, decided (stop when the vote can't change), confident (sign test) or paired (stop when the remaining pairs would change the decision with probability < 5%, from 8 pairs on)", 'off')
    .option('--times <mode>', 'uniform, stratified or grid', 'uniform')
    .option('--t-range <lo,hi>', "draw the pairs' times in [lo, hi] (default: the window in the model's calibration.json, else 0,1 as in the paper)", tRangeOption)
    .option('--mirror', "odd pairs see the left–right mirror image, pooling both views at no extra cost (side-free images such as ultrasound, for models trained with --hflip; default: as in the model's calibration.json)")
    .option('--no-mirror', "never use the mirror view, even if the model's calibration.json was fitted with it")
    .option('--batch <n>', 'forward passes per model call', intOption('--batch', 1), 256)
    .option('--weights <which>', 'ema or raw', 'ema')
    .option('--seed <n>', 'seed of the noise pairs', intOption('--seed', 0), 0)
    .option('--prune-after <pairs>', 'staged class pruning: evaluate every class on the first <pairs> pairs, then only the --prune-keep classes with the lowest mean error (Li et al. 2023)', intOption('--prune-after', 1))
    .option('--prune-keep <k>', 'classes kept after --prune-after pairs (pruned classes keep the votes they had)', intOption('--prune-keep', 1));
}

function pruneFrom(o: Record<string, unknown>): ClassifyConfig['prune'] | undefined {
  const after = o.pruneAfter as number | undefined, keep = o.pruneKeep as number | undefined;
  if (after === undefined && keep === undefined) return undefined;
  if (after === undefined || keep === undefined) throw new Error('--prune-after and --prune-keep go together: give both (e.g. --prune-after 10 --prune-keep 2)');
  return { afterPairs: after, keep };
}

function tRangeOption(v: string): [number, number] {
  const parts = v.split(',').map((x) => Number(x.trim()));
  if (parts.length !== 2 || !parts.every((x) => Number.isFinite(x) && x >= 0 && x <= 1) || !(parts[0]! < parts[1]!)) {
    throw new Error(`--t-range expects lo,hi with 0 ≤ lo < hi ≤ 1 (e.g. 0.1,0.8), got '${v}'`);
  }
  return [parts[0]!, parts[1]!];
}

export function classifyConfigFrom(o: Record<string, unknown>): Partial<ClassifyConfig> {
  return {
    n: o.n as number, aggregate: o.aggregate as ClassifyConfig['aggregate'], earlyStop: o.earlyStop as ClassifyConfig['earlyStop'],
    times: o.times as ClassifyConfig['times'], batchSize: o.batch as number, seed: o.seed as number, tRange: o.tRange as [number, number] | undefined,
    mirror: o.mirror as boolean | undefined, prune: pruneFrom(o),
  };
}

export function classifyCommand(): Command {
  return withClassifyOptions(withRuntimeOptions(new Command('classify')))
    .description('Classify image files (PNG, JPEG, TIFF, DICOM) with a trained diffusion model (prediction, vote share, uncertainty) or a baseline')
    .argument('<images...>', 'image files')
    .option('--json', 'print JSON instead of a table')
    .option('--mc-dropout <T>', 'baseline models: T passes with dropout on (MC dropout)', intOption('--mc-dropout', 2))
    .addHelpText('after', `
Examples:
  meddiff classify --model models/pneumoniamnist-unet data/fixtures/nih_cxr14_00000001_000.png
  meddiff classify --model runs/pneu --n 101 --early-stop decided --json scans/*.dcm
`)
    .action(async (images: string[], o: Record<string, unknown>, cmd: Command) => {
      await startRuntime(o as { backend?: string; threads?: string }, !o.json);
      if (isBaselineFolder(o.model as string)) {
        const wrong = givenOptions(cmd, DIFFUSION_ONLY_OPTIONS);
        if (wrong.length) throw new Error(`${wrong.join(', ')} ${wrong.length > 1 ? 'apply' : 'applies'} to diffusion models; ${o.model as string} is a baseline`);
        return classifyBaselineCli(images, o);
      }
      if (o.mcDropout !== undefined) throw new Error(`--mc-dropout applies to baseline models; ${o.model as string} is a diffusion model (its uncertainty is the vote entropy)`);
      const p = loadModelOption(o);
      try {
        const progress = o.json ? null : new Progress('classify', images.length);
        const { outcomes, settings, seconds, failed } = await classifyFiles(p, images, {
          ...classifyConfigFrom(o), logger: stderrLogger, onProgress: (x) => progress?.update(x.done, `${x.forwardPasses} forward passes`),
        });
        progress?.stop();
        // one row per file: unreadable files carry their error, the others are classified
        const rows: Row[] = outcomes.map((x) => (x.result ? classificationJson(x.result, p.classNames, x.name) : { file: x.name, error: x.error! }));
        if (o.json) process.stdout.write(JSON.stringify({ model: path.resolve(p.dir ?? ''), weights: p.weights, classes: p.classNames, settings: settings.config, seconds, failed, results: rows }, null, 2) + '\n');
        else printTable(rows, settings, p.calibration, seconds, p.classNames);
        if (failed > 0) {
          for (const x of outcomes) if (x.error) process.stderr.write(`meddiff: error: ${x.error}\n`);
          process.stderr.write(`meddiff: ${failed} of ${images.length} file(s) could not be classified (see their rows)\n`);
          process.exitCode = 1;
        }
      } finally {
        p.dispose();
      }
    });
}

async function classifyBaselineCli(images: string[], o: Record<string, unknown>): Promise<void> {
  const bp = loadBaselinePipeline(o.model as string, { logger: stderrLogger });
  try {
    const r = await classifyBaselineFiles(bp, images, { mcDropout: o.mcDropout as number | undefined, seed: o.seed as number, batchSize: o.batch as number });
    const rows = r.outcomes.map((x) => (x.result ? baselineResultJson(x.result, bp.classNames, r.primary!, x.name) : { file: x.name, error: x.error! }));
    if (o.json) process.stdout.write(JSON.stringify({ model: path.resolve(bp.dir ?? ''), arch: bp.arch, classes: bp.classNames, method: r.primary, temperature: r.temperature, seconds: r.seconds, failed: r.failed, results: rows }, null, 2) + '\n');
    else {
      const w = Math.min(60, Math.max(4, ...rows.map((x) => x.file!.length)));
      const out = [`${'file'.padEnd(w)}  ${'prediction'.padEnd(14)} ${'probability'.padStart(11)} ${'uncertainty'.padStart(11)}`];
      for (const x of rows) {
        const f = x.file!.length > w ? '…' + x.file!.slice(-(w - 1)) : x.file!;
        out.push('error' in x ? `${f.padEnd(w)}  error: ${x.error}` : `${f.padEnd(w)}  ${x.prediction.padEnd(14)} ${(100 * x.probability).toFixed(1).padStart(10)}% ${x.uncertainty.toFixed(3).padStart(11)}`);
      }
      out.push(`${bp.arch} (${r.primary}${r.temperature !== null ? `, temperature ${r.temperature.toFixed(3)} fitted on validation` : ''}); uncertainty = predictive entropy ÷ log K; ${r.seconds.toFixed(1)} s`);
      process.stdout.write(out.join('\n') + '\n');
    }
    if (r.failed > 0) {
      process.stderr.write(`meddiff: ${r.failed} of ${images.length} file(s) could not be classified (see their rows)\n`);
      process.exitCode = 1;
    }
  } finally {
    bp.dispose();
  }
}

type Row = ReturnType<typeof classificationJson> | { file: string; error: string };

function printTable(all: Row[], s: ClassifySettings, stored: Calibration | null, seconds: number, classNames: readonly string[]): void {
  const cfg = s.config, cal = s.calibration;
  const w = Math.min(60, Math.max(4, ...all.map((r) => r.file!.length)));
  const rows = all.filter((r): r is ReturnType<typeof classificationJson> => !('error' in r));
  const out: string[] = [`${'file'.padEnd(w)}  ${'prediction'.padEnd(14)} ${'vote share'.padStart(10)} ${'uncertainty'.padStart(11)} ${'pairs'.padStart(6)}`];
  for (const r of all) {
    const f = r.file!.length > w ? '…' + r.file!.slice(-(w - 1)) : r.file!;
    if ('error' in r) { out.push(`${f.padEnd(w)}  error: ${r.error}`); continue; }
    out.push(`${f.padEnd(w)}  ${r.prediction.padEnd(14)} ${(100 * r.voteShare).toFixed(1).padStart(9)}% ${r.uncertainty.toFixed(3).padStart(11)} ${String(r.pairsUsed).padStart(6)}`);
  }
  for (const r of rows) if (r.ood?.flagged) out.push(`warning: ${r.file} looks unlike this model's training data (${r.ood.kind} OOD score ${r.ood.score.toPrecision(3)} > ${r.ood.threshold.toPrecision(3)}): its answer should not be trusted`);
  const threshold = rows[0]?.threshold;
  if (cal?.kind === 'vote-share-offsets') out.push(`decision: the class with the highest vote share plus its offset (${cal.offsets.map((b, k) => `${classNames[k]} ${b >= 0 ? '+' : '−'}${Math.abs(b).toFixed(3)}`).join(', ')}; calibrated on ${cal.fittedOn.split} data at N = ${cal.fittedOn.n})`);
  if (cfg.prune) out.push(`class pruning: every class on the first ${cfg.prune.afterPairs} pairs, then the ${cfg.prune.keep} with the lowest mean error`);
  if (cal?.kind === 'vote-share-threshold' && threshold) out.push(`decision: '${threshold.class}' when its vote share ≥ ${cal.threshold.toFixed(3)} (calibrated on ${cal.fittedOn.split} data at N = ${cal.fittedOn.n}${cal.objective === 'accuracy' ? ' for accuracy' : ''}${cal.fittedOn.n !== cfg.n ? `; shares here are over N = ${cfg.n}, so they scatter ${cfg.n < cal.fittedOn.n ? 'more' : 'less'} around the same values` : ''})`);
  if (cfg.tRange[0] > 0 || cfg.tRange[1] < 1) out.push(`pairs drawn at diffusion times t ∈ [${cfg.tRange.join(', ')}]${stored?.tRange ? ` (window fitted on ${stored.fittedOn.split} data; --t-range 0,1 for the paper's full range)` : ''}`);
  if (cfg.mirror) out.push(`odd pairs see the left–right mirror image${stored?.mirror ? ' (as in the calibration; --no-mirror to turn off)' : ''}`);
  out.push(cal?.kind === 'vote-share-offsets'
    ? `uncertainty = 1 − the gap between the two best offset vote shares (1 = a tie); ${seconds.toFixed(1)} s`
    : cal
    ? `uncertainty = how near the vote share is to the calibrated threshold (0 = all ${cfg.n} votes agree, 1 = exactly at the threshold); ${seconds.toFixed(1)} s`
    : `uncertainty = normalised vote entropy (0 = all ${cfg.n} votes agree, 1 = evenly split); ${seconds.toFixed(1)} s`);
  process.stdout.write(out.join('\n') + '\n');
}
