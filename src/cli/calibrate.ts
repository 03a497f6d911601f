import path from 'node:path';
import { Command } from 'commander';
import { loadTrainedModel, datasetOptionsFor } from '../train/index.ts';
import { DiffusionClassifier, fitPlatt, fitVoteThreshold, saveCalibration, thresholdDecisions, searchTimeWindow, type Calibration, type CalibrationObjective } from '../classify/index.ts';
import { openDataset, parseSplitName, stackSplit } from '../data/index.ts';
import { accuracy, balancedAccuracy, defaultPositiveClass } from '../eval/index.ts';
import { startRuntime, withRuntimeOptions, intOption, floatOption } from './common.ts';
import { classifyConfigFrom, weightsFrom, withClassifyOptions } from './classify.ts';
import { Progress } from './progress.ts';

export function calibrateCommand(): Command {
  return withClassifyOptions(withRuntimeOptions(new Command('calibrate')))
    .description('Fit a vote-share decision threshold on VALIDATION data (two classes) and store it with the model')
    .requiredOption('--data <path>', 'data set with a validation split')
    .option('--split <name>', 'split to fit on (never the test split you report)', 'val')
    .option('--limit <k>', 'only the first k images', intOption('--limit', 1))
    .option('--search-t', 'also choose the diffusion-time window of the pairs (by balanced accuracy on this split); use --n 101 or more')
    .option('--min-width <w>', 'narrowest time window --search-t considers', floatOption('--min-width', 0.05), 0.3)
    .option('--significance <p>', '--search-t keeps the best window only if its gain over the full range has a paired bootstrap p-value below this (1: always)', floatOption('--significance', 0), 0.05)
    .option('--objective <what>', "balanced (maximise balanced accuracy; for new data whose class mix may differ) or accuracy (Platt scaling, P = 0.5; assumes this split's class mix)", 'balanced')
    .addHelpText('after', `
Examples:
  meddiff calibrate --model runs/pneu --data data/pneumoniamnist.npz --n 51
  meddiff calibrate --model runs/breast --data data/breastmnist.npz --n 101 --objective accuracy
  meddiff calibrate --model runs/pneu --data data/pneumoniamnist.npz --n 101 --search-t
  meddiff evaluate --model runs/pneu --data data/pneumoniamnist.npz   # then shows calibrated and uncalibrated results
`)
    .action(async (o: Record<string, unknown>) => {
      await startRuntime(o as { backend?: string; threads?: string });
      const split = parseSplitName(o.split as string);
      if (!split) throw new Error(`--split must be train, val or test, got '${String(o.split)}'`);
      if (split === 'test') throw new Error('--split test: calibrating on the test split would leak it into the reported results; use val');
      const tm = loadTrainedModel(o.model as string, { weights: weightsFrom(o) });
      if (tm.classNames.length !== 2) throw new Error(`calibration needs two classes; this model has ${tm.classNames.length}`);
      const ds = await openDataset(o.data as string, { ...datasetOptionsFor(tm), split });
      if (ds.classNames.join('\n') !== tm.classNames.join('\n')) throw new Error(`the model's classes (${tm.classNames.join(', ')}) differ from the data's (${ds.classNames.join(', ')})`);
      const { images, labels, count } = stackSplit(ds.split(split), { limit: o.limit as number | undefined, spread: true });
      const objective: CalibrationObjective | undefined = o.objective === 'balanced' ? 'balanced-accuracy' : o.objective === 'accuracy' ? 'accuracy' : undefined;
      if (!objective) throw new Error(`--objective must be 'balanced' or 'accuracy', got '${String(o.objective)}'`);
      const search = Boolean(o.searchT);
      const cfg = classifyConfigFrom(o);
      if (search && cfg.tRange) throw new Error('--search-t chooses the time window itself; drop --t-range');
      // early-stopped shares are over fewer pairs and pushed towards 0 or 1; a threshold fitted on them would not fit full-N votes
      if (cfg.earlyStop && cfg.earlyStop !== 'off') throw new Error(`calibration needs the vote shares over all N pairs of every image; drop --early-stop ${cfg.earlyStop}`);
      const clf = new DiffusionClassifier(tm, { ...cfg, keepErrors: search });
      const progress = new Progress(`calibrate ${split}`, count);
      const r = clf.classify(images, count, (p) => progress.update(p.done, `${p.forwardPasses} forward passes`));
      progress.stop();
      const positive = defaultPositiveClass(tm.classNames);
      let shares = r.map((x) => x.shares[positive]!), preds = r.map((x) => x.votePred);
      let win: ReturnType<typeof searchTimeWindow> | null = null;
      if (search) {
        win = searchTimeWindow(r.map((x) => ({ errors: x.errors!, times: x.times! })), labels, 2, { positive, minWidth: o.minWidth as number, significance: o.significance as number });
        shares = win.shares.map((s) => s[positive]!);
        preds = win.predictions;
      }
      const platt = objective === 'accuracy' ? fitPlatt(shares, labels, positive) : null;
      const threshold = platt ? platt.threshold : fitVoteThreshold(shares, labels, positive).threshold;
      const decided = thresholdDecisions(shares, threshold, positive);
      const cal: Calibration = {
        kind: 'vote-share-threshold', positive, threshold, objective,
        fittedOn: {
          split, images: count, n: clf.cfg.n, balancedAccuracy: balancedAccuracy(labels, decided, 2), uncalibratedBalancedAccuracy: balancedAccuracy(labels, preds, 2),
          accuracy: accuracy(labels, decided), uncalibratedAccuracy: accuracy(labels, preds),
        },
      };
      if (platt) cal.platt = { a: platt.a, b: platt.b };
      cal.weightsSha256 = tm.weightsSha256;
      if (clf.cfg.mirror) cal.mirror = true;
      // the window the threshold was fitted in, so the classifier draws its pairs there too
      if (!win && (clf.cfg.tRange[0] > 0 || clf.cfg.tRange[1] < 1)) cal.tRange = clf.cfg.tRange;
      if (win) {
        cal.tRange = win.tRange;
        cal.window = { fullRangeBalancedAccuracy: win.fullRangeBalancedAccuracy, windowsTried: win.windowsTried, pairsPerImage: clf.cfg.n, searched: win.searched, significance: o.significance as number };
        const w = win.searched, pc = (x: number) => `${(100 * x).toFixed(1)}%`;
        process.stdout.write(`best time window t ∈ [${w.tRange.join(', ')}] of ${win.windowsTried} tried: balanced accuracy on ${split} ${pc(win.fullRangeBalancedAccuracy)} (full range) → ${pc(w.balancedAccuracy)}, both with a fitted threshold; paired bootstrap p = ${w.pValue.toFixed(3)}\n`
          + (win.tRange[0] === w.tRange[0] && win.tRange[1] === w.tRange[1] ? `kept: pairs will be drawn from t ∈ [${w.tRange.join(', ')}]\n` : `not significant at ${o.significance as number}: keeping the full range t ∈ [0, 1] (the paper's rule)\n`));
      }
      const file = saveCalibration(tm.dir, cal);
      const f = cal.fittedOn, pc = (x: number) => `${(100 * x).toFixed(1)}%`;
      process.stdout.write(`threshold on '${tm.classNames[positive]}' vote share: ${threshold.toFixed(3)} (${platt ? `Platt scaling, P = 0.5; accuracy on ${split}: ${pc(f.uncalibratedAccuracy!)} → ${pc(f.accuracy!)}, balanced accuracy ${pc(f.uncalibratedBalancedAccuracy)} → ${pc(f.balancedAccuracy)}` : `balanced accuracy on ${split}: ${pc(f.uncalibratedBalancedAccuracy)} → ${pc(f.balancedAccuracy)}`})\nwrote ${path.resolve(file)}\n`);
      tm.model.dispose();
    });
}
