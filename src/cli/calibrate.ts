import path from 'node:path';
import { Command } from 'commander';
import { loadTrainedModel } from '../train/index.ts';
import { DiffusionClassifier, fitVoteThreshold, saveCalibration, type Calibration } from '../classify/index.ts';
import { openDataset, parseSplitName, stackSplit } from '../data/index.ts';
import { balancedAccuracy } from '../eval/index.ts';
import { startRuntime, withRuntimeOptions, intOption } from './common.ts';
import { classifyConfigFrom, weightsFrom, withClassifyOptions } from './classify.ts';
import { Progress } from './progress.ts';

export function calibrateCommand(): Command {
  return withClassifyOptions(withRuntimeOptions(new Command('calibrate')))
    .description('Fit a vote-share decision threshold on VALIDATION data (two classes) and store it with the model')
    .requiredOption('--data <path>', 'data set with a validation split')
    .option('--split <name>', 'split to fit on (never the test split you report)', 'val')
    .option('--limit <k>', 'only the first k images', intOption('--limit', 1))
    .addHelpText('after', `
Examples:
  meddiff calibrate --model runs/pneu --data data/pneumoniamnist.npz --n 51
  meddiff evaluate --model runs/pneu --data data/pneumoniamnist.npz   # then shows calibrated and uncalibrated results
`)
    .action(async (o: Record<string, unknown>) => {
      await startRuntime(o as { backend?: string; threads?: string });
      const split = parseSplitName(o.split as string);
      if (!split) throw new Error(`--split must be train, val or test, got '${String(o.split)}'`);
      if (split === 'test') throw new Error('--split test: calibrating on the test split would leak it into the reported results; use val');
      const tm = loadTrainedModel(o.model as string, { weights: weightsFrom(o) });
      if (tm.classNames.length !== 2) throw new Error(`calibration needs two classes; this model has ${tm.classNames.length}`);
      const ds = await openDataset(o.data as string, { imageSize: tm.imageSize, channels: tm.channels as 1 | 3, split });
      if (ds.classNames.join('\n') !== tm.classNames.join('\n')) throw new Error(`the model's classes (${tm.classNames.join(', ')}) differ from the data's (${ds.classNames.join(', ')})`);
      const { images, labels, count } = stackSplit(ds.split(split), { limit: o.limit as number | undefined });
      const clf = new DiffusionClassifier(tm, { ...classifyConfigFrom(o), keepErrors: false });
      const progress = new Progress(`calibrate ${split}`, count);
      const r = clf.classify(images, count, (p) => progress.update(p.done, `${p.forwardPasses} forward passes`));
      progress.stop();
      const fit = fitVoteThreshold(r.map((x) => x.shares[1]!), labels, 1);
      const cal: Calibration = {
        kind: 'vote-share-threshold', positive: 1, threshold: fit.threshold,
        fittedOn: { split, images: count, n: clf.cfg.n, balancedAccuracy: fit.balancedAccuracy, uncalibratedBalancedAccuracy: balancedAccuracy(labels, r.map((x) => x.votePred), 2) },
      };
      const file = saveCalibration(o.model as string, cal);
      process.stdout.write(`threshold on '${tm.classNames[1]}' vote share: ${fit.threshold.toFixed(3)} (balanced accuracy on ${split}: ${(100 * cal.fittedOn.uncalibratedBalancedAccuracy).toFixed(1)}% → ${(100 * fit.balancedAccuracy).toFixed(1)}%)\nwrote ${path.resolve(file)}\n`);
      tm.model.dispose();
    });
}
