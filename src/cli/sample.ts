import path from 'node:path';
import { Command } from 'commander';
import { tf } from '../runtime/index.ts';
import { loadTrainedModel } from '../train/index.ts';
import { sample, haarInverse } from '../diffusion/index.ts';
import { grid, toUint8, upscale, writePng } from '../explain/index.ts';
import { startRuntime, withRuntimeOptions, intOption, floatOption } from './common.ts';
import { Progress } from './progress.ts';

export function sampleCommand(): Command {
  return withRuntimeOptions(new Command('sample'))
    .description('Draw class-conditional samples from a trained model as a PNG grid (what did the model learn?)')
    .requiredOption('--model <dir>', 'a training run folder or a checkpoint/model folder')
    .requiredOption('--class <name>', "class name (or index) to condition on; 'all' = one row per class")
    .requiredOption('--out <file.png>', 'PNG grid to write')
    .option('--n <k>', 'samples per class', intOption('--n', 1), 16)
    .option('--cfg <w>', 'classifier-free guidance weight w', floatOption('--cfg', 0), 3)
    .option('--steps <n>', 'sampling steps', intOption('--steps', 1), 50)
    .option('--sampler <kind>', 'ancestral or ddim', 'ancestral')
    .option('--weights <which>', 'ema or raw', 'ema')
    .option('--seed <n>', 'noise seed', intOption('--seed', 0), 0)
    .addHelpText('after', `
Examples:
  meddiff sample --model runs/pneu --class pneumonia --n 16 --out pneumonia.png
  meddiff sample --model runs/pneu --class all --cfg 4.5 --steps 100 --out grid.png
`)
    .action(async (o: { model: string; class: string; out: string; n: number; cfg: number; steps: number; sampler: string; weights: string; seed: number; backend?: string; threads?: string }) => {
      await startRuntime(o);
      if (o.weights !== 'ema' && o.weights !== 'raw') throw new Error(`--weights must be 'ema' or 'raw', got '${o.weights}'`);
      if (!o.out.toLowerCase().endsWith('.png')) throw new Error(`--out must be a .png file, got '${o.out}'`);
      const tm = loadTrainedModel(o.model, { weights: o.weights });
      const classes = o.class === 'all' ? tm.classNames.map((_, i) => i) : [classIndex(o.class, tm.classNames)];
      const labels = classes.flatMap((c) => new Array<number>(o.n).fill(c));
      const mc = tm.model.config;
      const progress = new Progress('sample', o.steps);
      const x = tf.tidy(() => {
        const z = sample({
          denoiser: (zz, lam, y) => tm.model.apply(zz, lam, y instanceof Int32Array ? tf.tensor1d(y, 'int32') : y) as tf.Tensor4D,
          classes: Int32Array.from(labels), shape: [labels.length, mc.imageSize, mc.imageSize, mc.inChannels],
          steps: o.steps, guidance: o.cfg, nullClass: tm.model.nullClass, sampler: o.sampler as 'ancestral' | 'ddim',
          schedule: tm.schedule, seed: o.seed, clipX0: null,
          onStep: (s) => progress.update(s.step, `t=${s.t.toFixed(3)}`),
        });
        return haarInverse(z, { scale: tm.haarScale });
      });
      progress.stop();
      const data = x.dataSync() as Float32Array;
      x.dispose();
      const s = tm.imageSize, c = tm.channels as 1 | 3, px = s * s * c;
      const panels = labels.map((_, i) => upscale(toUint8(data.subarray(i * px, (i + 1) * px), s, s, c), Math.max(1, Math.floor(96 / s))));
      await writePng(o.out, grid(panels, o.n));
      process.stdout.write(`wrote ${path.resolve(o.out)}: ${labels.length} samples (${classes.map((k) => tm.classNames[k]).join(', ')}), ${o.steps} ${o.sampler} steps, guidance ${o.cfg}, ${tm.weights} weights at step ${tm.step}\n`);
      tm.model.dispose();
    });
}

export function classIndex(name: string, classNames: string[]): number {
  const i = classNames.indexOf(name);
  if (i >= 0) return i;
  const k = Number(name);
  if (Number.isInteger(k) && k >= 0 && k < classNames.length) return k;
  throw new Error(`unknown class '${name}'; the model's classes are: ${classNames.join(', ')}`);
}
