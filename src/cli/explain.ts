import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { writeFileAtomic } from '../runtime/index.ts';
import { loadTrainedModel } from '../train/index.ts';
import { loadForModel, loadCalibration, applyCalibratedSettings, type ClassifyConfig } from '../classify/index.ts';
import { explainImages, explanationGridPng, explanationPage, explanationTable, EXPLAIN_QUALITY, type ExplainConfig } from '../explain/index.ts';
import { startRuntime, withRuntimeOptions, intOption, floatOption } from './common.ts';
import { classIndex } from './sample.ts';
import { weightsFrom } from './classify.ts';
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
      const tm = loadTrainedModel(o.model as string, { weights: weightsFrom(o) });
      const target = o.target === undefined ? undefined : classIndex(o.target as string, tm.classNames);
      const px = tm.imageSize * tm.imageSize * tm.channels;
      const batch = new Float32Array(images.length * px);
      for (const [i, f] of images.entries()) batch.set(await loadForModel(f, tm), i * px);
      const progress = new Progress('explain', 1);
      const t0 = performance.now();
      const es = explainImages(tm, batch, images.length, { explain: settings, target, classify: applyCalibratedSettings<Partial<ClassifyConfig>>({ seed: o.seed as number, n: o.n as number }, loadCalibration(tm.dir, tm.weightsSha256), () => {}).cfg, onStep: (s, n) => progress.update(s / n, `step ${s}/${n}`) });
      progress.stop();
      const seconds = (performance.now() - t0) / 1000;
      const out = o.out as string;
      fs.mkdirSync(out, { recursive: true });
      const names = images.map((f, i) => `${String(i).padStart(3, '0')}_${path.basename(f).replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_')}`);
      for (const [i, e] of es.entries()) writeFileAtomic(path.join(out, `${names[i]}.png`), await explanationGridPng([e]));
      const body = await explanationTable(es, tm.classNames, images);
      writeFileAtomic(path.join(out, 'index.html'), explanationPage(`meddiff explanations (${tm.classNames.join(' vs ')})`, body + `<p><small>${images.length} image(s), ${seconds.toFixed(1)} s; settings ${JSON.stringify({ ...settings, tExplain: es[0]?.tExplain })}; model ${path.resolve(tm.dir)} (${tm.weights} weights)</small></p>`));
      writeFileAtomic(path.join(out, 'explanations.json'), JSON.stringify(es.map((e, i) => ({
        file: images[i], prediction: tm.classNames[e.factual], voteShare: e.prediction.shares[e.factual], entropy: e.prediction.entropy,
        target: tm.classNames[e.target], tExplain: e.tExplain, flipped: e.flipped, counterfactualVoteShare: e.counterfactualPrediction.shares[e.target],
        ...e.proximity, panels: `${names[i]}.png`,
      })), null, 2) + '\n');
      for (const [i, e] of es.entries()) {
        process.stdout.write(`${images[i]}: ${tm.classNames[e.factual]} → ${tm.classNames[e.target]} ${e.flipped ? '(flipped)' : '(not flipped)'}, mean |Δ| ${e.proximity.meanAbsDiff.toFixed(3)}\n`);
      }
      process.stdout.write(`wrote ${path.resolve(out, 'index.html')} (${(seconds / images.length).toFixed(2)} s/image)\n`);
      tm.model.dispose();
    });
}
