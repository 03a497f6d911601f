import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { isBaselineFolder, loadBaselinePipeline, loadPipeline, resolveModelDir, upgradeModelFolder } from '../pipeline/index.ts';
import { portablePath } from '../util/index.ts';
import { startRuntime, stderrLogger, withRuntimeOptions } from './common.ts';

export function exportCommand(): Command {
  return withRuntimeOptions(new Command('export'))
    .description('Write a model folder for shipping: one set of weights (validation-chosen or EMA), optionally fp16, no optimizer state')
    .requiredOption('--model <dir>', 'training run folder, its best/ or checkpoint/')
    .option('--out <dir>', 'model folder to write')
    .option('--weights <which>', 'ema, raw or selected (what validation chose; default)', 'selected')
    .option('--fp16', 'store weights as float16 (half the size)')
    .option('--upgrade', "rewrite --model's config.json in the current format in place (weights, calibration and other files untouched)")
    .addHelpText('after', `
Examples:
  meddiff export --model runs/pneu --out models/pneumoniamnist-unet --fp16
  meddiff export --model models/old-model --upgrade
`)
    .action(async (o: { model: string; out?: string; weights: string; fp16?: boolean; upgrade?: boolean; backend?: string; threads?: string }) => {
      if (o.upgrade) {
        if (o.out) throw new Error('--upgrade rewrites --model in place; drop --out');
        const r = upgradeModelFolder(o.model);
        process.stdout.write(r.changed ? `upgraded ${path.resolve(r.file)}\n` : `${path.resolve(r.file)} is already current\n`);
        return;
      }
      await startRuntime(o, false);
      if (!o.out) throw new Error("--out is required (or --upgrade to rewrite --model's config.json in place)");
      if (o.weights !== 'selected' && o.weights !== 'ema' && o.weights !== 'raw') throw new Error(`--weights must be ema, raw or selected, got '${o.weights}'`);
      const dir = resolveModelDir(o.model);
      if (isBaselineFolder(dir)) {
        if (o.weights !== 'selected') throw new Error('--weights applies to diffusion models (raw or EMA); a baseline folder has one set of weights');
        const b = loadBaselinePipeline(dir, { logger: stderrLogger });
        try {
          const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as { info?: Record<string, unknown>; dataFingerprint?: string };
          b.save(o.out, { dtype: o.fp16 ? 'F16' : 'F32', dataFingerprint: state.dataFingerprint, info: { ...(state.info ?? {}), exportedFrom: portablePath(dir) }, keepCalibration: true });
          const bytes = fs.readdirSync(o.out).reduce((a, f) => a + fs.statSync(path.join(o.out!, f)).size, 0);
          process.stdout.write(`wrote ${path.resolve(o.out)} (${b.arch} from step ${b.step}${o.fp16 ? ', fp16' : ''}, ${(bytes / 1e6).toFixed(1)} MB${b.calibration ? ', with its temperature' : ''})\n`);
        } finally {
          b.dispose();
        }
        return;
      }
      // a calibration fitted for exactly these weights travels with them (re-tied to the written file)
      const p = loadPipeline(dir, { weights: o.weights === 'selected' ? undefined : o.weights, logger: stderrLogger });
      try {
        const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as { info?: Record<string, unknown>; dataFingerprint?: string };
        p.save(o.out, { dtype: o.fp16 ? 'F16' : 'F32', dataFingerprint: state.dataFingerprint, info: { ...(state.info ?? {}), exportedFrom: portablePath(dir) } });
        const bytes = fs.readdirSync(o.out).reduce((a, f) => a + fs.statSync(path.join(o.out!, f)).size, 0);
        process.stdout.write(`wrote ${path.resolve(o.out)} (${p.weights} weights from step ${p.step}${o.fp16 ? ', fp16' : ''}, ${(bytes / 1e6).toFixed(1)} MB${p.calibration ? ', with calibration' : ''})\n`);
      } finally {
        p.dispose();
      }
    });
}
