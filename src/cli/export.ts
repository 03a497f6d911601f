import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { loadCheckpoint, saveCheckpoint, resolveModelDir } from '../train/index.ts';
import { loadCalibration, saveCalibration } from '../classify/index.ts';

export function exportCommand(): Command {
  return new Command('export')
    .description('Write a model folder for shipping: one set of weights (validation-chosen or EMA), optionally fp16, no optimizer state')
    .requiredOption('--model <dir>', 'training run folder, its best/ or checkpoint/')
    .requiredOption('--out <dir>', 'model folder to write')
    .option('--weights <which>', 'ema, raw or selected (what validation chose; default)', 'selected')
    .option('--fp16', 'store weights as float16 (half the size)')
    .addHelpText('after', `
Examples:
  meddiff export --model runs/pneu --out models/pneumoniamnist-unet --fp16
`)
    .action((o: { model: string; out: string; weights: string; fp16?: boolean }) => {
      const dir = resolveModelDir(o.model);
      const ck = loadCheckpoint(dir, { optimizer: false });
      const info = (ck.state.info ?? {}) as { selectedWeights?: 'ema' | 'raw' };
      const which = o.weights === 'selected' ? (ck.ema ? 'ema' : info.selectedWeights ?? 'raw') : o.weights;
      if (which !== 'ema' && which !== 'raw') throw new Error(`--weights must be ema, raw or selected, got '${o.weights}'`);
      const weights = which === 'ema' ? ck.ema ?? (info.selectedWeights === 'ema' ? ck.model : undefined) : ck.model;
      if (!weights) throw new Error(`${dir} has no ${which} weights`);
      saveCheckpoint(o.out, {
        config: ck.config, model: weights,
        state: {
          step: ck.state.step, classNames: ck.state.classNames, dataFingerprint: ck.state.dataFingerprint, resume: {},
          info: { ...(ck.state.info ?? {}), selectedWeights: which, exportedFrom: path.resolve(dir), fp16: Boolean(o.fp16) },
        },
      }, { dtype: o.fp16 ? 'F16' : undefined });
      // a calibration fitted for exactly these weights travels with them (the hash changes with fp16)
      const usedFile = which === 'ema' && ck.ema ? 'ema.safetensors' : 'model.safetensors';
      const cal = loadCalibration(dir, ck.state.files[usedFile]?.sha256);
      if (cal) {
        const shipped = loadCheckpoint(o.out, { optimizer: false });
        saveCalibration(o.out, { ...cal, weightsSha256: shipped.state.files['model.safetensors']?.sha256 });
      }
      const bytes = fs.readdirSync(o.out).reduce((a, f) => a + fs.statSync(path.join(o.out, f)).size, 0);
      process.stdout.write(`wrote ${path.resolve(o.out)} (${which} weights from step ${ck.state.step}${o.fp16 ? ', fp16' : ''}, ${(bytes / 1e6).toFixed(1)} MB${cal ? ', with calibration' : ''})\n`);
    });
}
