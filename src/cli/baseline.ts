import { Command } from 'commander';
import { BASELINE_ARCHS, type BaselineArch } from '../models/index.ts';
import { trainBaseline } from '../train/index.ts';
import { startRuntime, withRuntimeOptions, withCsvOptions, csvColumnsFrom, intOption, floatOption, stderrLogger } from './common.ts';
import { Progress } from './progress.ts';

function trainBaselineCommand(): Command {
  return withCsvOptions(withRuntimeOptions(new Command('train')))
    .description('Train a discriminative baseline (ResNet, EfficientNet, ViT) from scratch on the same data, splits and preprocessing')
    .requiredOption('--arch <name>', `architecture: ${BASELINE_ARCHS.join(', ')}`)
    .requiredOption('--data <path>', 'MedMNIST .npz, folder root/<class>/*.png|jpg|tif|dcm, or CSV')
    .requiredOption('--out <dir>', 'run folder: checkpoint/, best/ (the epoch validation chose), metrics.jsonl')
    .option('--epochs <n>', 'passes over the training split (default 20)', intOption('--epochs', 1))
    .option('--batch <n>', 'examples per step (default 64)', intOption('--batch', 1))
    .option('--lr <x>', 'Adam learning rate (default: 1e-4 CNNs, 1e-5 ViT, as the paper)', floatOption('--lr', 0))
    .option('--weight-decay <x>', 'L2 weight decay (default: 1e-5 CNNs, 0 ViT)', floatOption('--weight-decay', 0))
    .option('--dropout <p>', 'dropout before the classifier head (needed for --mc-dropout at evaluation)', floatOption('--dropout', 0))
    .option('--image-size <n>', 'pixel side (default: an npz archive\'s own, else 64)', intOption('--image-size', 8))
    .option('--no-rotate', 'no random rotation (default ±30°)')
    .option('--rotate <deg>', 'largest random rotation in degrees', floatOption('--rotate', 0))
    .option('--no-hflip', 'no random left-right flips')
    .option('--no-vflip', 'no random up-down flips (sensible for chest X-rays)')
    .option('--no-blur', 'no random Gaussian blur (kernel 5, σ ∈ [0.1, 2])')
    .option('--balance', 'over-sample minority classes in training batches')
    .option('--val-every <n>', 'validate every n epochs, keep the best in best/ (0 = off)', intOption('--val-every', 0))
    .option('--time-limit <minutes>', 'stop at the first step past this much training time (resumed time counts)', floatOption('--time-limit', 0.001))
    .option('--limit <n>', 'use only the first n training examples (smoke tests)', intOption('--limit', 1))
    .option('--seed <n>', 'seed for weights, data order, augmentations and dropout', intOption('--seed', 0), 0)
    .option('--split-seed <n>', 'seed of the 80/10/10 split of data without one (kept apart from --seed so ensemble members share a test split)', intOption('--split-seed', 0), 0)
    .option('--resume', 'continue the checkpoint in --out')
    .option('--skip-bad', 'skip unreadable images with a warning instead of stopping')
    .addHelpText('after', `
From scratch: no pretrained weights are reachable offline.
Examples:
  meddiff baseline train --arch resnet18 --data data/pneumoniamnist.npz --out runs/pneu-resnet18 --no-vflip
  meddiff baseline train --arch resnet18 --data data/pneumoniamnist.npz --out runs/pneu-resnet18 --resume --epochs 30
  meddiff baseline train --arch vit-s16 --data data/breastmnist.npz --out runs/breast-vit --epochs 50
`)
    .action(async (o: Record<string, unknown>) => {
      await startRuntime(o as { backend?: string; threads?: string });
      const arch = o.arch as string;
      if (!BASELINE_ARCHS.includes(arch as BaselineArch)) throw new Error(`--arch '${arch}' is not a baseline; choose one of ${BASELINE_ARCHS.join(', ')}`);
      const train: Record<string, unknown> = { seed: o.seed };
      if (o.epochs !== undefined) train.epochs = o.epochs;
      if (o.batch !== undefined) train.batchSize = o.batch;
      if (o.balance) train.balance = true;
      if (o.valEvery !== undefined) train.valEvery = o.valEvery;
      const optimizer: Record<string, unknown> = {};
      if (o.lr !== undefined) optimizer.lr = o.lr;
      if (o.weightDecay !== undefined) optimizer.weightDecay = o.weightDecay;
      if (Object.keys(optimizer).length) train.optimizer = optimizer;
      const augment: Record<string, unknown> = {};
      if (o.rotate === false) augment.rotate = 0;
      else if (typeof o.rotate === 'number') augment.rotate = o.rotate;
      if (o.hflip === false) augment.hflip = false;
      if (o.vflip === false) augment.vflip = false;
      if (o.blur === false) augment.blur = null;
      if (Object.keys(augment).length) train.augment = augment;
      let progress: Progress | null = null;
      const ac = new AbortController();
      const onSigint = () => ac.abort(new Error(`interrupted; the last finished step is checkpointed in ${o.out as string}/checkpoint; continue with --resume`));
      process.once('SIGINT', onSigint);
      const r = await trainBaseline({
        arch: arch as BaselineArch, data: o.data as string, out: o.out as string, train, csv: csvColumnsFrom(o),
        model: o.dropout !== undefined ? { dropout: o.dropout as number } : undefined,
        splitSeed: o.splitSeed as number, imageSize: o.imageSize as number | undefined, resume: Boolean(o.resume), skipBad: Boolean(o.skipBad), limit: o.limit as number | undefined,
        timeLimitSec: o.timeLimit !== undefined ? (o.timeLimit as number) * 60 : undefined, signal: ac.signal, logger: stderrLogger,
        onReady: ({ dataset, net, train: t, startStep, totalSteps, stepsPerEpoch, trainSize }) => {
          process.stderr.write(`data: ${dataset.source} (${trainSize} training images, classes ${dataset.classNames.join(', ')}, ${dataset.imageSize}² × ${dataset.channels})\n`);
          process.stderr.write(`model: ${arch}, ${(net.parameterCount() / 1e6).toFixed(2)} M parameters, from scratch; ${t.epochs} epochs × ${stepsPerEpoch} steps of batch ${t.batchSize}, Adam lr ${t.optimizer.lr}${startStep ? `, resuming at step ${startStep}` : ''}\n`);
          progress = new Progress('train', totalSteps, startStep);
        },
        onLog: (m) => progress?.update(m.step, `epoch ${m.epoch.toFixed(2)} | loss ${m.loss.toFixed(4)} | ${m.imgPerSec.toFixed(1)} img/s`),
        onValidation: (v) => process.stderr.write(`\nvalidation epoch ${v.epoch}: bal.acc ${(100 * v.balancedAccuracy).toFixed(1)}% acc ${(100 * v.accuracy).toFixed(1)}% AUROC ${v.auroc.toFixed(3)} loss ${v.loss.toFixed(3)} | best epoch ${v.best.epoch}\n`),
      });
      process.off('SIGINT', onSigint);
      (progress as Progress | null)?.stop();
      if (r.timeUp) process.stderr.write(`time limit reached at step ${r.steps}; continue with --resume --time-limit <more minutes>\n`);
      process.stderr.write(`done: ${r.steps} steps, last loss ${r.lastLoss.toFixed(4)}; best weights in ${r.outDir}/best${r.best ? ` (epoch ${r.best.epoch})` : ''}\n`);
      process.stderr.write(`next: meddiff evaluate --model ${r.outDir} --data ${o.data as string}\n`);
    });
}

export function baselineCommand(): Command {
  return new Command('baseline')
    .description('Discriminative baselines (ResNet-18/50, EfficientNet-B0, ViT-S/16) trained on the same data, for comparison')
    .addCommand(trainBaselineCommand());
}
