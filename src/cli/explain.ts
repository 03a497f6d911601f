import path from 'node:path';
import { Command } from 'commander';
import { explain, writeExplanations, EXPLAIN_QUALITY, type ExplainConfig } from '../explain/index.ts';
import { startRuntime, withRuntimeOptions, intOption, floatOption, loadModelOption } from './common.ts';
import { Progress } from './progress.ts';

export function explainSettings(o: Record<string, unknown>): Partial<ExplainConfig> {
  const q = o.quality as string | undefined;
  if (q !== undefined && q !== 'fast' && q !== 'full') throw new Error(`--quality must be fast or full, got '${q}'`);
  const base = q ? EXPLAIN_QUALITY[q] : {};
  return { ...base, tExplain: o.t as number | undefined, guidance: o.cfg as number | undefined, ...(o.steps !== undefined ? { steps: o.steps as number } : {}), seed: o.seed as number | undefined };
}

export function explainCommand(): Command {
  return withRuntimeOptions(new Command('explain'))
    .description('Counterfactual explanations: each image reconstructed as every class, with difference maps and overlays')
    .argument('<images...>', 'image files (PNG, JPEG, TIFF, DICOM)')
    .requiredOption('--model <dir>', 'a training run, checkpoint or shipped model folder')
    .requiredOption('--out <dir>', 'folder for the panels and index.html')
    .option('--target <class>', 'class to explain towards (default: the runner-up; the other class for two)')
    .option('--t <x>', 'noise level to start from, in (0, 1) (default 0.5 grayscale, 0.3 colour)', floatOption('--t'))
    .option('--cfg <w>', 'classifier-free guidance weight (default 7.5)', floatOption('--cfg'))
    .option('--steps <n>', 'denoising steps (default: 25 fast, 256 full)', intOption('--steps', 1))
    .option('--quality <q>', 'fast (25 DDIM steps, interactive) or full (256 ancestral steps, as in the paper)', 'fast')
    .option('--weights <which>', 'ema or raw', 'ema')
    .option('--n <k>', 'noise/time pairs for the classifications (input and flip check; early stopping on)', intOption('--n', 1), 25)
    .option('--seed <n>', 'noise seed', intOption('--seed', 0), 0)
    .addHelpText('after', `
Examples:
  meddiff explain --model models/pneumoniamnist-unet data/fixtures/nih_cxr14_00000001_000.png --out explain/
  meddiff explain --model runs/pneu --target normal --quality full --out explain-full/ scan1.png scan2.dcm
`)
    .action(async (images: string[], o: Record<string, unknown>) => {
      await startRuntime(o as { backend?: string; threads?: string });
      const settings = explainSettings(o);
      const p = loadModelOption(o);
      try {
        const progress = new Progress('explain', 1);
        const t0 = performance.now();
        const es = await explain(p, images, {
          explain: settings, target: o.target as string | undefined, classify: { seed: o.seed as number, n: o.n as number },
          onStep: (s, n) => progress.update(s / n, `step ${s}/${n}`),
        });
        progress.stop();
        const seconds = (performance.now() - t0) / 1000;
        const page = await writeExplanations(o.out as string, es, {
          ids: images, classNames: p.classNames,
          note: `${images.length} image(s), ${seconds.toFixed(1)} s; settings ${JSON.stringify({ ...settings, tExplain: es[0]?.tExplain })}; model ${path.resolve(p.dir ?? '')} (${p.weights} weights)`,
        });
        for (const [i, e] of es.entries()) {
          process.stdout.write(`${images[i]}: ${p.classNames[e.factual]} → ${p.classNames[e.target]} ${e.flipped ? '(flipped)' : '(not flipped)'}, mean |Δ| ${e.proximity.meanAbsDiff.toFixed(3)}\n`);
        }
        process.stdout.write(`wrote ${path.resolve(page)} (${(seconds / images.length).toFixed(2)} s/image)\n`);
      } finally {
        p.dispose();
      }
    });
}
