import { Command } from 'commander';
import { trainFromData, type StepMetrics } from '../train/index.ts';
import { startRuntime, withRuntimeOptions, withCsvOptions, csvColumnsFrom, intOption, floatOption } from './common.ts';
import { Progress } from './progress.ts';

function microBatchOption(v: string): number | 'auto' {
  return v === 'auto' ? 'auto' : intOption('--micro-batch', 1)(v);
}

export function trainCommand(): Command {
  return withCsvOptions(withRuntimeOptions(new Command('train')))
    .description('Train a class-conditional wavelet diffusion model on an npz archive, an image folder or a CSV manifest')
    .requiredOption('--data <path>', 'MedMNIST .npz, folder root/<class>/*.png|jpg|tif|dcm, or CSV (path,label[,split])')
    .requiredOption('--out <dir>', 'run folder: checkpoint/, metrics.jsonl')
    .option('--config <name|file>', 'model preset: UNet tiny, small, base, unet-64 / unet-128 (sized for 64² / 128² images); DiT dit-tiny, dit-s, dit-b4 (Peebles & Xie); or a JSON model config', 'small')
    .option('--steps <n>', 'optimizer steps', intOption('--steps', 1))
    .option('--batch <n>', 'examples per optimizer step', intOption('--batch', 1))
    .option('--micro-batch <n|auto>', 'examples per forward/backward pass (gradient accumulation); default auto: the largest that fits --memory-budget', microBatchOption)
    .option('--memory-budget <MB>', 'memory a training step may use when the micro-batch is auto (default: half of RAM)', floatOption('--memory-budget', 1))
    .option('--lr <x>', 'peak learning rate (default 1e-4)', floatOption('--lr'))
    .option('--warmup <n>', 'linear warm-up steps (default 250)', intOption('--warmup', 0))
    .option('--cond-dropout <p>', 'probability of the null class (default 0.1)', floatOption('--cond-dropout'))
    .option('--paper-ema', "the paper's EMA (0.999, every 5 steps from step 50) instead of the warm-up EMA")
    .option('--balance', 'over-sample minority classes in training batches')
    .option('--hflip', 'mirror training images left-right at random (ultrasound and other side-free images; not chest X-rays)')
    .option('--shift <px>', 'translate training images by up to this many pixels at random (edges repeated)', intOption('--shift', 0))
    .option('--image-size <n>', 'pixel side the images are brought to (default: twice the model input side)', intOption('--image-size', 2))
    .option('--checkpoint-every <n>', 'steps between checkpoints (default 250)', intOption('--checkpoint-every', 1))
    .option('--limit <n>', 'use only the first n training examples (smoke tests)', intOption('--limit', 1))
    .option('--val-every <n>', 'validate raw and EMA weights every n steps, keep the better as best/ (0 = off)', intOption('--val-every', 0), 500)
    .option('--val-images <n>', 'validation images (first n of the val split)', intOption('--val-images', 1), 256)
    .option('--val-pairs <n>', 'noise/time pairs per validation image', intOption('--val-pairs', 1), 11)
    .option('--time-limit <minutes>', 'stop at the first step past this much training time (counting resumed time), validated and checkpointed', floatOption('--time-limit', 0))
    .option('--seed <n>', 'seed for weights, data order and noise', intOption('--seed', 0), 0)
    .option('--resume', 'continue the checkpoint in --out')
    .option('--skip-bad', 'skip bad inputs (unreadable or missing files, unknown labels, masks of another size) with a warning instead of stopping')
    .option('--no-upscale', 'treat images smaller than --image-size as bad inputs instead of scaling them up with a warning')
    .addHelpText('after', `
Examples:
  meddiff train --data data/pneumoniamnist.npz --out runs/pneu --config small --steps 3000
  meddiff train --data data/pneumoniamnist.npz --out runs/pneu --resume --steps 6000
  meddiff train --data data/pneumoniamnist.npz --out runs/pneu --batch 64 --steps 10000 --time-limit 60
  meddiff train --data my_xrays/ --out runs/mine --config tiny --batch 32 --skip-bad
  meddiff train --data data/pneumoniamnist.npz --out runs/pneu-dit --config dit-s --steps 3000
  meddiff train --data labels.csv --out runs/csv --batch 128 --micro-batch 32
  meddiff train --data busi/split.csv --out runs/busi128 --config unet-128 --image-size 128 --memory-budget 8000
  meddiff train --data ham10000/split.csv --label-column melanoma --filter balanced=1 --out runs/ham --image-size 64
`)
    .action(async (o: Record<string, unknown>) => {
      await startRuntime(o as { backend?: string; threads?: string });
      let progress: Progress | null = null;
      const train: Record<string, unknown> = {};
      if (o.steps !== undefined) train.steps = o.steps;
      if (o.batch !== undefined) train.batchSize = o.batch;
      if (o.microBatch !== undefined) train.microBatch = o.microBatch; // unset: auto, chosen from the memory a step needs
      if (o.seed !== undefined) train.seed = o.seed;
      if (o.condDropout !== undefined) train.condDropout = o.condDropout;
      if (o.balance) train.balance = true;
      if (o.hflip) train.hflip = true;
      if (o.shift !== undefined) train.shift = o.shift;
      if (o.checkpointEvery !== undefined) train.checkpointEvery = o.checkpointEvery;
      const optimizer: Record<string, unknown> = {};
      if (o.lr !== undefined) optimizer.lr = o.lr;
      if (o.warmup !== undefined) optimizer.warmupSteps = o.warmup;
      if (Object.keys(optimizer).length) train.optimizer = optimizer;
      if (o.paperEma) train.ema = { maxDecay: 0.999, warmup: false, every: 5, start: 50 };
      // Ctrl-C: finish the current step, checkpoint it, and say how to continue
      const ac = new AbortController();
      const onSigint = () => ac.abort(new Error(`interrupted; the last finished step is checkpointed in ${o.out as string}/checkpoint; continue with --resume`));
      process.once('SIGINT', onSigint);
      const r = await trainFromData({
        signal: ac.signal,
        data: o.data as string, out: o.out as string, config: o.config as string, train, csv: csvColumnsFrom(o),
        imageSize: o.imageSize as number | undefined, resume: Boolean(o.resume), skipBad: Boolean(o.skipBad),
        memoryBudgetMB: o.memoryBudget as number | undefined, upscale: o.upscale === false ? 'error' : 'warn',
        limit: o.limit as number | undefined,
        timeLimitSec: o.timeLimit !== undefined ? (o.timeLimit as number) * 60 : undefined,
        valEvery: o.valEvery as number, valImages: o.valImages as number, valPairs: o.valPairs as number,
        onValidation: (v) => {
          const f = (m: { balancedAccuracy: number; auroc: number }) => `bal.acc ${(100 * m.balancedAccuracy).toFixed(1)}% AUROC ${m.auroc.toFixed(3)}`;
          process.stderr.write(`\nvalidation @${v.step}: raw ${f(v.raw as never)} | ema ${f(v.ema as never)} | best: ${v.best.weights} @${v.best.step}\n`);
        },
        onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
        onReady: ({ dataset, model, train: t, startStep, trainSize, sampledSize, microBatch }) => {
          const balanced = sampledSize !== trainSize && !o.limit ? `, over-sampled to ${sampledSize} per epoch for class balance` : '';
          process.stderr.write(`data: ${dataset.source} (${trainSize} training images${balanced}, classes ${dataset.classNames.join(', ')}, ${dataset.imageSize}² × ${dataset.channels})\n`);
          if (dataset.skipped.length) process.stderr.write(`skipped ${dataset.skipped.length} bad input(s) (--skip-bad; each named in a warning above)\n`);
          process.stderr.write(`model: ${(model.parameterCount() / 1e6).toFixed(2)} M parameters; ${t.steps} steps of batch ${t.batchSize}${startStep ? `, resuming at step ${startStep}` : ''}\n`);
          process.stderr.write(`memory: ${microBatch ? microBatch.note : `micro-batch ${t.microBatch} of batch ${t.batchSize} (--micro-batch)`}; image cache ${(dataset.cacheBytes / 2 ** 20).toFixed(0)} MB\n`);
          progress = new Progress('train', t.steps, startStep);
        },
        onLog: (m: StepMetrics) => progress?.update(m.step, `loss ${m.loss.toFixed(4)} | lr ${m.lr.toExponential(1)} | ${m.imgPerSec.toFixed(1)} img/s`),
      });
      process.off('SIGINT', onSigint);
      (progress as Progress | null)?.stop();
      if (r.timeUp) process.stderr.write(`time limit reached at step ${r.steps}; continue with --resume --time-limit <more minutes>\n`);
      process.stderr.write(`done: ${r.steps} steps, last loss ${r.lastLoss.toFixed(4)}; checkpoint in ${r.outDir}/checkpoint\n`);
      process.stderr.write(`next: meddiff sample --model ${r.outDir} --class <name> --out samples.png\n`);
    });
}
