import path from 'node:path';
import { Command } from 'commander';
import { generate } from '../pipeline/index.ts';
import { grid, toUint8, upscale, writePng } from '../explain/index.ts';
import { startRuntime, withRuntimeOptions, intOption, floatOption, loadModelOption } from './common.ts';
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
      if (!o.out.toLowerCase().endsWith('.png')) throw new Error(`--out must be a .png file, got '${o.out}'`);
      if (o.sampler !== 'ancestral' && o.sampler !== 'ddim') throw new Error(`--sampler must be ancestral or ddim, got '${o.sampler}'`);
      const p = loadModelOption(o as unknown as Record<string, unknown>, { calibration: false });
      try {
        const classes = o.class === 'all' ? p.classNames.map((_, i) => i) : [classIndex(o.class, p.classNames)];
        const labels = classes.flatMap((c) => new Array<number>(o.n).fill(c));
        const progress = new Progress('sample', o.steps);
        const data = generate(p, { classes: labels, steps: o.steps, guidance: o.cfg, sampler: o.sampler, seed: o.seed, onStep: (s) => progress.update(s.step, `t=${s.t.toFixed(3)}`) });
        progress.stop();
        const s = p.imageSize, c = p.channels, px = s * s * c;
        const panels = labels.map((_, i) => upscale(toUint8(data.subarray(i * px, (i + 1) * px), s, s, c), Math.max(1, Math.floor(96 / s))));
        await writePng(o.out, grid(panels, o.n));
        process.stdout.write(`wrote ${path.resolve(o.out)}: ${labels.length} samples (${classes.map((k) => p.classNames[k]).join(', ')}), ${o.steps} ${o.sampler} steps, guidance ${o.cfg}, ${p.weights} weights at step ${p.step}\n`);
      } finally {
        p.dispose();
      }
    });
}

export function classIndex(name: string, classNames: readonly string[]): number {
  const i = classNames.indexOf(name);
  if (i >= 0) return i;
  const k = Number(name);
  if (Number.isInteger(k) && k >= 0 && k < classNames.length) return k;
  throw new Error(`unknown class '${name}'; the model's classes are: ${classNames.join(', ')}`);
}
