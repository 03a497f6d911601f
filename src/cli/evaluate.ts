import path from 'node:path';
import { Command } from 'commander';
import { evaluate, evaluateBaseline, accuracyAt, type OodReport, type RemovalPoint, type ReportSummary, type BaselineReportSummary } from '../eval/index.ts';
import { isBaselineFolder, loadBaselinePipeline, type BaselinePipeline } from '../pipeline/index.ts';
import { startRuntime, withRuntimeOptions, intOption, floatOption, loadModelOption, stderrLogger, withCsvOptions, csvColumnsFrom, givenOptions, DIFFUSION_ONLY_OPTIONS } from './common.ts';
import { explainSettings } from './explain.ts';
import { classifyConfigFrom, withClassifyOptions } from './classify.ts';
import { Progress } from './progress.ts';

export function evaluateCommand(): Command {
  return withCsvOptions(withClassifyOptions(withRuntimeOptions(new Command('evaluate'))))
    .description('Evaluate a trained model on a data split: accuracy, F1, AUROC, uncertainty curves, vote vs mean; writes report.html')
    .requiredOption('--data <path>', 'MedMNIST .npz, image folder or CSV manifest')
    .option('--split <name>', 'train, val or test', 'test')
    .option('--limit <k>', 'only the first k images of the split', intOption('--limit', 1))
    .option('--out <dir>', 'report folder', 'report')
    .option('--json', "print report.json's summary to stdout")
    .option('--positive <class>', "the 'finding' class for sensitivity/specificity/AUROC (default: the class that is not normal/benign)")
    .option('--ood <data,…>', 'also report how well the OOD score tells this split from other data sets (comma-separated npz/folder/CSV; their test split, as many images as --limit)', (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .option('--explain <k>', 'add counterfactual explanations of the first k images (and their flip rate) to the report', intOption('--explain', 0), 0)
    .option('--t <x>', 'explanations: noise level in (0, 1) (default 0.5 grayscale, 0.3 colour)', floatOption('--t'))
    .option('--cfg <w>', 'explanations: guidance weight', floatOption('--cfg'))
    .option('--quality <q>', 'explanations: fast or full', 'fast')
    .option('--judge <baseline>', 'explanations: also classify the counterfactuals with this baseline model (an independent judge of the flip rate)')
    .option('--mc-dropout <T>', 'baseline models: T passes with dropout on (MC dropout)', intOption('--mc-dropout', 2))
    .option('--ensemble <dirs>', 'baseline models: a deep ensemble of --model and these model folders (comma-separated)', (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .addHelpText('after', `
Examples:
  meddiff evaluate --model models/pneumoniamnist-unet --data data/pneumoniamnist.npz --split test --json
  meddiff evaluate --model runs/pneu --data data/pneumoniamnist.npz --n 101 --early-stop decided --out reports/pneu
  meddiff evaluate --model runs/pneu --data data/pneumoniamnist.npz --aggregate mean --limit 100
  meddiff evaluate --model runs/retina --data data/retinamnist.npz --n 51 --prune-after 10 --prune-keep 2
  meddiff evaluate --model models/pneumoniamnist-unet --data data/pneumoniamnist.npz --limit 200 --n 25 --ood data/breastmnist.npz,data/retinamnist.npz
  meddiff evaluate --model models/pneumoniamnist-unet --data data/pneumoniamnist.npz --explain 20 --judge models/pneumoniamnist-resnet18
  meddiff evaluate --model models/pneumoniamnist-resnet18 --data data/pneumoniamnist.npz --mc-dropout 20 --out reports/pneu-mc
  meddiff evaluate --model runs/pneu-r18-s0 --ensemble runs/pneu-r18-s1,runs/pneu-r18-s2 --data data/pneumoniamnist.npz
`)
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      await startRuntime(o as { backend?: string; threads?: string }, !o.json);
      if (isBaselineFolder(o.model as string)) {
        const wrong = givenOptions(cmd, [...DIFFUSION_ONLY_OPTIONS, 't', 'cfg', 'quality']);
        if (wrong.length) throw new Error(`${wrong.join(', ')} ${wrong.length > 1 ? 'apply' : 'applies'} to diffusion models; ${o.model as string} is a baseline`);
        return evaluateBaselineCli(o);
      }
      if (o.mcDropout !== undefined || o.ensemble !== undefined) throw new Error(`--mc-dropout and --ensemble apply to baseline models; ${o.model as string} is a diffusion model (its uncertainty is the vote entropy)`);
      const judge = o.judge !== undefined ? loadJudge(o.judge as string) : undefined;
      if (judge && !((o.explain as number) > 0)) { judge.dispose(); throw new Error('--judge classifies counterfactuals: give --explain k as well'); }
      const p = loadModelOption(o);
      let summary: ReportSummary;
      try {
        let progress: Progress | null = null;
        summary = await evaluate(p, {
          data: o.data as string, split: o.split as string, limit: o.limit as number | undefined, csv: csvColumnsFrom(o), out: o.out as string,
          classify: classifyConfigFrom(o), positive: o.positive as string | undefined, logger: stderrLogger,
          ood: o.ood ? { data: o.ood as string[] } : undefined,
          explain: (o.explain as number) > 0 ? { images: o.explain as number, settings: explainSettings({ ...o, steps: undefined }), judge } : undefined,
          onProgress: o.json ? undefined : (x) => { progress ??= new Progress(`evaluate ${o.split as string}`, x.total); progress.update(x.done, `${x.forwardPasses} forward passes`); },
        });
        (progress as Progress | null)?.stop();
      } finally {
        p.dispose();
        judge?.dispose();
      }
      const explainStats = summary.explanations ?? null;
      const primary = summary[summary.primary];
      const st = summary.settings as { tRange?: [number, number]; mirror?: boolean };
      const brief = {
        accuracy: primary.accuracy, balancedAccuracy: primary.balancedAccuracy, macroF1: primary.macroF1, auroc: primary.auroc,
        sensitivity: primary.sensitivity, specificity: primary.specificity, aggregate: summary.primary, N: summary.settings.N,
        images: summary.data.images, tRange: st.tRange, mirror: Boolean(st.mirror),
        vote: { accuracy: summary.vote.accuracy, balancedAccuracy: summary.vote.balancedAccuracy, macroF1: summary.vote.macroF1, auroc: summary.vote.auroc },
        mean: { accuracy: summary.mean.accuracy, balancedAccuracy: summary.mean.balancedAccuracy, macroF1: summary.mean.macroF1, auroc: summary.mean.auroc },
        accuracyAfterRemoving: Object.fromEntries(summary.uncertainty.curve.map((p) => [p.fraction.toFixed(2), p.accuracy])),
        errorDetectionAuroc: summary.uncertainty.errorDetectionAuroc,
        confusionMatrix: primary.confusionMatrix, timing: summary.timing, report: path.resolve(o.out as string, 'report.html'),
        ...(explainStats ? { explanations: explainStats } : {}),
        ...(summary.calibrated ? { calibrated: summary.calibrated } : {}),
        ...(summary.ood ? { ood: summary.ood } : {}),
      };
      if (o.json) {
        process.stdout.write(JSON.stringify(brief, null, 2) + '\n');
        return;
      }
      const pct = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
      const tr = st.tRange;
      process.stdout.write(`${summary.data.images} images, N = ${summary.settings.N}${tr && (tr[0] > 0 || tr[1] < 1) ? `, pairs at t ∈ [${tr.join(', ')}]` : ''}${st.mirror ? ', odd pairs on the mirror image' : ''}\n`);
      for (const agg of ['vote', 'mean'] as const) {
        const m = summary[agg];
        process.stdout.write(`  ${agg.padEnd(5)} accuracy ${pct(m.accuracy)}  balanced ${pct(m.balancedAccuracy)}  F1 ${m.macroF1.toFixed(3)}  AUROC ${m.auroc.toFixed(3)}\n`);
      }
      const points = (curve: RemovalPoint[]) => [0.1, 0.25, 0.45].map((f) => pct(accuracyAt(curve, f))).join(' / ');
      process.stdout.write(`  vote accuracy after removing the 10/25/45% most uncertain: ${points(summary.uncertainty.curve)}\n`);
      const cb = summary.calibrated as { accuracy: number; balancedAccuracy: number; calibration: { kind: string; threshold?: number }; uncertainty: { curve: RemovalPoint[] } } | undefined;
      const offsets = cb?.calibration.kind === 'vote-share-offsets';
      if (cb) process.stdout.write(`  calibrated (${offsets ? 'class offsets' : `threshold ${cb.calibration.threshold!.toFixed(3)}`}, what classify answers): accuracy ${pct(cb.accuracy)}  balanced ${pct(cb.balancedAccuracy)}; after removing the 10/25/45% ${offsets ? 'with the closest offset shares' : 'nearest the threshold'}: ${points(cb.uncertainty.curve)}\n`);
      const od = summary.ood as OodReport | undefined;
      if (od) {
        process.stdout.write(`  out of distribution: ${od.threshold === null ? 'no threshold stored' : `threshold flags ${pct(od.inDistribution.falseFlagRate)} of these images`}\n`);
        for (const x of od.sets) process.stdout.write(`    ${x.data}: detection AUROC ${x.auroc.toFixed(3)}, flagged ${pct(x.flagRate)} of ${x.images}\n`);
      }
      const ex = explainStats as Record<string, number> | null;
      if (ex) process.stdout.write(`  counterfactual flip rate ${pct(ex.flipRate)} of ${ex.images}, mean |Δ| ${ex.meanAbsDiff!.toFixed(3)}${ex.judgeFlipRate !== undefined ? `; the judge sees ${pct(ex.judgeFlipRate)} flipped (it agrees on ${pct(ex.judgeAgreementOnInputs!)} of the inputs)` : ''}\n`);
      if (ex && ex.massInsideMask !== undefined) process.stdout.write(`  localisation (${ex.localisedImages} images with lesion masks): ${pct(ex.massInsideMask)} of the difference map's mass inside the lesion (centred blob ${pct(ex.blobMassInsideMask!)}${ex.massInsideMaskVsBlob !== undefined ? `, ${ex.massInsideMaskVsBlob.toFixed(2)}×` : ""}); pointing game ${pct(ex.pointingGame!)} (blob ${pct(ex.blobPointingGame!)})\n`);
      process.stdout.write(`report: ${path.resolve(o.out as string, 'report.html')}\n`);
    });
}

function loadJudge(dir: string): BaselinePipeline {
  if (!isBaselineFolder(dir)) throw new Error(`--judge ${dir}: not a baseline model folder (train one with meddiff baseline train)`);
  return loadBaselinePipeline(dir, { calibration: false, logger: stderrLogger });
}

async function evaluateBaselineCli(o: Record<string, unknown>): Promise<void> {
  for (const f of ['explain', 'ood', 'judge'] as const) {
    if (f === 'explain' ? (o.explain as number) > 0 : o[f] !== undefined) throw new Error(`--${f} applies to diffusion models; ${o.model as string} is a baseline`);
  }
  const bp = loadBaselinePipeline(o.model as string, { logger: stderrLogger });
  const members: BaselinePipeline[] = [];
  let summary: BaselineReportSummary;
  try {
    for (const d of (o.ensemble as string[] | undefined) ?? []) {
      if (!isBaselineFolder(d)) throw new Error(`--ensemble ${d}: not a baseline model folder`);
      members.push(loadBaselinePipeline(d, { logger: stderrLogger }));
    }
    let progress: Progress | null = null;
    summary = await evaluateBaseline(bp, {
      data: o.data as string, split: o.split as string, limit: o.limit as number | undefined, csv: csvColumnsFrom(o), out: o.out as string,
      mcDropout: o.mcDropout as number | undefined, ensemble: members.length ? members : undefined, positive: o.positive as string | undefined, batchSize: o.batch as number,
      seed: o.seed as number | undefined, logger: stderrLogger,
      onProgress: o.json ? undefined : (x) => { progress ??= new Progress(`evaluate ${o.split as string}`, x.total); progress.update(x.done, 'passes over the split'); },
    });
    (progress as Progress | null)?.stop();
  } finally {
    bp.dispose();
    for (const m of members) m.dispose();
  }
  if (o.json) {
    process.stdout.write(JSON.stringify({ ...summary, report: path.resolve(o.out as string, 'report.html') }, null, 2) + '\n');
    return;
  }
  const pct = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
  process.stdout.write(`${summary.model.label}: ${summary.data.images} images\n`);
  for (const m of summary.methods) {
    process.stdout.write(`  ${m.method.padEnd(12)} accuracy ${pct(m.metrics.accuracy)}  balanced ${pct(m.metrics.balancedAccuracy)}  F1 ${m.metrics.macroF1.toFixed(3)}  AUROC ${m.metrics.auroc.toFixed(3)}\n`);
    for (const u of m.uncertainty) {
      process.stdout.write(`    ${u.score.padEnd(19)} error-detection AUROC ${u.errorDetectionAuroc.toFixed(3)}  AURC ${u.aurc.toFixed(4)}  ECE ${u.ece.toFixed(3)}  after removing 10/25/45%: ${[0.1, 0.25, 0.45].map((f) => pct(accuracyAt(u.removal, f))).join(' / ')}\n`);
    }
  }
  process.stdout.write(`report: ${path.resolve(o.out as string, 'report.html')}\n`);
}
