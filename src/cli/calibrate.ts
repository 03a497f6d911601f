import path from 'node:path';
import { Command } from 'commander';
import { calibrate, calibrateBaseline, type CalibrationObjective } from '../classify/index.ts';
import { isBaselineFolder, loadBaselinePipeline, type OodScoreKind } from '../pipeline/index.ts';
import { startRuntime, withRuntimeOptions, intOption, floatOption, loadModelOption, stderrLogger, withCsvOptions, csvColumnsFrom, givenOptions, DIFFUSION_ONLY_OPTIONS } from './common.ts';
import { classifyConfigFrom, withClassifyOptions } from './classify.ts';
import { Progress } from './progress.ts';

export function calibrateCommand(): Command {
  return withCsvOptions(withClassifyOptions(withRuntimeOptions(new Command('calibrate'))))
    .description('Fit a vote-share decision threshold (two classes) or per-class vote-share offsets (K > 2) on VALIDATION data and store it with the model; for a baseline, temperature scaling')
    .requiredOption('--data <path>', 'data set with a validation split')
    .option('--split <name>', 'split to fit on (never the test split you report)', 'val')
    .option('--limit <k>', 'only the first k images', intOption('--limit', 1))
    .option('--search-t', 'also choose the diffusion-time window of the pairs (by balanced accuracy on this split); use --n 101 or more')
    .option('--min-width <w>', 'narrowest time window --search-t considers', floatOption('--min-width', 0.05), 0.3)
    .option('--significance <p>', '--search-t keeps the best window only if its gain over the full range has a paired bootstrap p-value below this (1: always)', floatOption('--significance', 0), 0.05)
    .option('--ood-quantile <q>', 'quantile of this split\'s OOD scores that becomes the out-of-distribution threshold', floatOption('--ood-quantile', 0), 0.98)
    .option('--ood-score <kind>', "out-of-distribution score: min-class-mean-error (from the classifier's pairs) or multiscale (unconditional errors at 10 fixed times vs training images; 10 extra forward passes per classified image; needs a train split)", 'min-class-mean-error')
    .option('--ood-train-images <n>', 'multiscale score: training images its Gaussian is fitted on, spread evenly (default 300)', intOption('--ood-train-images', 11))
    .option('--ood-bands', 'multiscale score: also model the input\'s complexity (its Haar bands\' energies), so smooth images of another modality are not taken for easy in-distribution ones')
    .option('--ood-only', 'only (re)fit the out-of-distribution threshold; keep the calibrated window, mirror view and decision threshold')
    .option('--objective <what>', "balanced (maximise balanced accuracy; for new data whose class mix may differ) or accuracy (Platt scaling, P = 0.5; assumes this split's class mix)", 'balanced')
    .addHelpText('after', `
Examples:
  meddiff calibrate --model runs/pneu --data data/pneumoniamnist.npz --n 51
  meddiff calibrate --model runs/breast --data data/breastmnist.npz --n 101 --objective accuracy
  meddiff calibrate --model runs/pneu --data data/pneumoniamnist.npz --n 101 --search-t
  meddiff calibrate --model runs/retina --data data/retinamnist.npz --n 51   # 5 grades: one offset per class
  meddiff calibrate --model models/pneumoniamnist-unet --data data/pneumoniamnist.npz --ood-only --limit 200
  meddiff calibrate --model models/pneumoniamnist-unet --data data/pneumoniamnist.npz --ood-only --ood-score multiscale
  meddiff evaluate --model runs/pneu --data data/pneumoniamnist.npz   # then shows calibrated and uncalibrated results
  meddiff calibrate --model models/pneumoniamnist-resnet18 --data data/pneumoniamnist.npz   # a baseline: temperature scaling on val
`)
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      await startRuntime(o as { backend?: string; threads?: string });
      if (isBaselineFolder(o.model as string)) {
        const wrong = givenOptions(cmd, [...DIFFUSION_ONLY_OPTIONS, 'searchT', 'minWidth', 'significance', 'oodQuantile', 'oodOnly', 'oodScore', 'oodTrainImages', 'oodBands', 'objective']);
        if (wrong.length) throw new Error(`${wrong.join(', ')} ${wrong.length > 1 ? 'apply' : 'applies'} to diffusion models; a baseline's calibration is temperature scaling (${o.model as string})`);
        const bp = loadBaselinePipeline(o.model as string, { calibration: false, logger: stderrLogger });
        try {
          const { calibration: c, file } = await calibrateBaseline(bp, { data: o.data as string, split: o.split as string, limit: o.limit as number | undefined, csv: csvColumnsFrom(o), logger: stderrLogger });
          const f = c.fittedOn;
          process.stdout.write(`temperature ${c.temperature.toFixed(3)} fitted on ${f.images} ${f.split} images: NLL ${f.nllBefore.toFixed(4)} → ${f.nllAfter.toFixed(4)}, ECE ${(100 * f.eceBefore!).toFixed(1)}% → ${(100 * f.eceAfter!).toFixed(1)}% (predictions unchanged)\nwrote ${path.resolve(file!)}\n`);
        } finally {
          bp.dispose();
        }
        return;
      }
      const objective: CalibrationObjective | undefined = o.objective === 'balanced' ? 'balanced-accuracy' : o.objective === 'accuracy' ? 'accuracy' : undefined;
      if (!objective) throw new Error(`--objective must be 'balanced' or 'accuracy', got '${String(o.objective)}'`);
      const p = loadModelOption(o, { calibration: Boolean(o.oodOnly) });
      try {
        let progress: Progress | null = null;
        const { calibration: cal, window: win, file } = await calibrate(p, {
          data: o.data as string, split: o.split as string, limit: o.limit as number | undefined, csv: csvColumnsFrom(o), classify: classifyConfigFrom(o),
          searchT: Boolean(o.searchT), oodOnly: Boolean(o.oodOnly), oodScore: o.oodScore as OodScoreKind, oodTrainImages: o.oodTrainImages as number | undefined, oodBands: o.oodBands === true ? true : undefined, oodQuantile: o.oodQuantile as number, minWidth: o.minWidth as number, significance: o.significance as number, objective, logger: stderrLogger,
          onProgress: (x) => { progress ??= new Progress(`calibrate ${o.split as string}`, x.total); progress.update(x.done, `${x.forwardPasses} forward passes`); },
        });
        (progress as Progress | null)?.stop();
        const pc = (x: number) => `${(100 * x).toFixed(1)}%`, f = cal.fittedOn, split = f.split;
        const ood = cal.ood!;
        process.stdout.write(ood.score === 'multiscale'
          ? `out-of-distribution threshold: multiscale score > ${ood.threshold.toPrecision(4)} (conformal: the ${ood.fittedOn.rank}th smallest of ${ood.fittedOn.images} ${ood.fittedOn.split} scores${ood.fittedOn.capped ? ', the largest: too few for the bound' : ''}; Gaussian of ${ood.trainImages} train images${ood.bands ? ', with the input\'s band statistics' : ''}) is flagged\n`
          : `out-of-distribution threshold: OOD score > ${ood.threshold.toPrecision(4)} (the ${(100 * ood.quantile).toFixed(0)}th percentile of ${ood.fittedOn.images} ${ood.fittedOn.split} images at N = ${ood.fittedOn.n}) is flagged\n`);
        if (o.oodOnly) { process.stdout.write(`wrote ${path.resolve(file!)} (decision threshold, window and mirror view kept)\n`); return; }
        if (win) {
          const w = win.searched;
          process.stdout.write(`best time window t ∈ [${w.tRange.join(', ')}] of ${win.windowsTried} tried: balanced accuracy on ${split} ${pc(win.fullRangeBalancedAccuracy)} (full range) → ${pc(w.balancedAccuracy)}, both with a fitted threshold; paired bootstrap p = ${w.pValue.toFixed(3)}\n`
            + (win.tRange[0] === w.tRange[0] && win.tRange[1] === w.tRange[1] ? `kept: pairs will be drawn from t ∈ [${w.tRange.join(', ')}]\n` : `not significant at ${o.significance as number}: keeping the full range t ∈ [0, 1] (the paper's rule)\n`));
        }
        if (cal.kind === 'vote-share-offsets') {
          const m = cal.objective === 'accuracy' ? ['accuracy', f.uncalibratedAccuracy!, f.accuracy!] as const : ['balanced accuracy', f.uncalibratedBalancedAccuracy, f.balancedAccuracy] as const;
          process.stdout.write(`class offsets on the vote shares: ${p.classNames.map((c, k) => `${c} ${cal.offsets[k]! >= 0 ? '+' : '−'}${Math.abs(cal.offsets[k]!).toFixed(3)}`).join(', ')} (${m[0]} on ${split}: ${pc(m[1])} → ${pc(m[2])})\nwrote ${path.resolve(file!)}\n`);
          return;
        }
        process.stdout.write(`threshold on '${p.classNames[cal.positive]}' vote share: ${cal.threshold.toFixed(3)} (${cal.platt ? `Platt scaling, P = 0.5; accuracy on ${split}: ${pc(f.uncalibratedAccuracy!)} → ${pc(f.accuracy!)}, balanced accuracy ${pc(f.uncalibratedBalancedAccuracy)} → ${pc(f.balancedAccuracy)}` : `balanced accuracy on ${split}: ${pc(f.uncalibratedBalancedAccuracy)} → ${pc(f.balancedAccuracy)}`})\nwrote ${path.resolve(file!)}\n`);
      } finally {
        p.dispose();
      }
    });
}
