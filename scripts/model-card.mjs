#!/usr/bin/env node
// Writes <model>/README.md, the model card, from the training run and an evaluation report.
//   node scripts/model-card.mjs <model dir> <run dir> <report dir> "<train command>" "<evaluate command>"
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [modelDir, runDir, reportDir, trainCmd, evalCmd] = process.argv.slice(2);
if (!evalCmd) { console.error('usage: model-card.mjs <model dir> <run dir> <report dir> "<train cmd>" "<eval cmd>"'); process.exit(2); }
const read = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const cfg = read(path.join(modelDir, 'config.json'));
const state = read(path.join(modelDir, 'state.json'));
const runState = read(path.join(runDir, 'checkpoint', 'state.json'));
const rep = read(path.join(reportDir, 'report.json'));
const ci = fs.existsSync(path.join(modelDir, 'ci-check.json')) ? read(path.join(modelDir, 'ci-check.json')) : null;
const paperDir = reportDir.replace(/\/?$/, '-paper');
const paperRep = fs.existsSync(path.join(paperDir, 'report.json')) ? read(path.join(paperDir, 'report.json')) : null;
const cal = fs.existsSync(path.join(modelDir, 'calibration.json')) ? read(path.join(modelDir, 'calibration.json')) : null;
// SELECTED_BY: how the shipped weights were chosen, when not by the defaults below
// TRAINED_AT_REV: the revision the model was trained with, when the card is regenerated later
const rev = process.env.TRAINED_AT_REV || (() => { try { return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim(); } catch { return 'unknown'; } })();
const pct = (x) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const at = (f) => rep.uncertainty.curve.find((p) => Math.abs(p.fraction - f) < 1e-9)?.accuracy;
const minutes = (runState.resume?.elapsedSec ?? 0) / 60;
// training time up to the shipped step, from the run's metrics log
const metrics = fs.existsSync(path.join(runDir, 'metrics.jsonl')) ? fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => { try { return JSON.parse(l); } catch { return {}; } }) : [];
const atShipped = metrics.filter((m) => m.step === state.step && m.elapsedSec).at(-1)?.elapsedSec;
function windowText(cal) {
  const w = cal.window ?? {}, sr = w.searched;
  const full = cal.tRange[0] === 0 && cal.tRange[1] === 1;
  if (full) return ` The time-window search (\`meddiff calibrate --search-t\`) found t ∈ [${sr?.tRange.join(', ')}] best on the ${cal.fittedOn.split} images (${pct(sr?.balancedAccuracy)} against ${pct(w.fullRangeBalancedAccuracy)} over the whole range, paired bootstrap p = ${sr?.pValue.toFixed(3)}, kept only below ${w.significance}), so pairs are drawn over the whole range, the paper's rule.`;
  return ` Pairs are drawn at diffusion times t ∈ [${cal.tRange.join(', ')}], the window that gave the best balanced accuracy on the same ${cal.fittedOn.split} images (${pct(cal.fittedOn.balancedAccuracy)} against ${pct(w.fullRangeBalancedAccuracy)} over the whole range${sr ? `, paired bootstrap p = ${sr.pValue.toFixed(3)}, kept only below ${w.significance}` : ''}; \`meddiff calibrate --search-t\`). \`--t-range 0,1\` restores the paper's rule.`;
}

const lines = [
  `# ${path.basename(modelDir)}`,
  '',
  `A class-conditional wavelet diffusion model (${cfg.model.kind === 'dit' ? `DiT with adaLN-Zero, ${cfg.model.depth} blocks of width ${cfg.model.hiddenSize}, ${cfg.model.numHeads} heads, patch ${cfg.model.patchSize}` : `UNet, ${cfg.model.baseChannels} base channels, channel multipliers ${JSON.stringify(cfg.model.channelMult)}`}) used as a classifier of ${cfg.classNames.join(' vs ')} by meddiff. ${state.info?.fp16 ? 'Weights stored as float16.' : ''}`,
  '',
  '## How it was made',
  '',
  '```sh',
  trainCmd,
  ...(trainCmd.includes('meddiff export') ? [] : [`meddiff export --model ${runDir} --out ${modelDir} --fp16`]),
  '```',
  '',
  `- data: ${cfg.data.path.split('/').slice(-2).join('/')} (${cfg.classNames.join(', ')}), ${cfg.data.imageSize}² × ${cfg.data.channels} (28² padded to 32²)`,
  `- seed ${cfg.train.seed}; batch ${cfg.train.batchSize};${cfg.train.hflip ? ' random left–right flips;' : ''}${cfg.train.shift ? ` random shifts of up to ${cfg.train.shift} px;` : ''} Adam lr ${cfg.train.optimizer.lr}, warm-up ${cfg.train.optimizer.warmupSteps} steps, clip ${cfg.train.optimizer.clipNorm}; EMA ${JSON.stringify(cfg.train.ema)}; class dropout ${cfg.train.condDropout}; min-SNR γ ${cfg.train.minSnrGamma}`,
  `- shipped weights: ${state.info?.selectedWeights ?? 'ema'} weights at step ${state.step} (${process.env.SELECTED_BY ? process.env.SELECTED_BY : state.info?.validation ? `chosen by validation balanced accuracy: ${pct(state.info.validation.balancedAccuracy)}` : cal ? `chosen over the run's best/ by balanced accuracy on ${cal.fittedOn.images} ${cal.fittedOn.split} images with the fitted window and threshold: ${pct(cal.fittedOn.balancedAccuracy)}` : 'the final EMA'}); the run went to step ${runState.step}`,
  `- training time: ${atShipped ? `${(atShipped / 60).toFixed(0)} minutes to the shipped step ${state.step} (the whole run: ${minutes.toFixed(0)} minutes)` : `${minutes.toFixed(0)} minutes`} on ${os.cpus()[0]?.model ?? 'CPU'} (${os.availableParallelism?.() ?? os.cpus().length} cores), backend native (oneDNN), meddiff git ${rev}`,
  '',
  '## Results',
  '',
  '```sh',
  evalCmd,
  '```',
  '',
  `${rep.data.images} test images, N = ${rep.settings.N} noise samples per image${rep.settings.tRange && (rep.settings.tRange[0] > 0 || rep.settings.tRange[1] < 1) ? ` at t ∈ [${rep.settings.tRange.join(', ')}]` : ''}${rep.settings.mirror ? ' (odd-numbered pairs on the left–right mirror image)' : ''}, seed ${rep.settings.seed}.`,
  '',
  '| | accuracy | balanced accuracy | macro F1 | AUROC | sensitivity | specificity |',
  '|---|---|---|---|---|---|---|',
  ...['vote', 'mean'].map((k) => `| ${k === 'vote' ? 'majority vote' : 'mean error'} | ${pct(rep[k].accuracy)} | ${pct(rep[k].balancedAccuracy)} | ${rep[k].macroF1.toFixed(3)} | ${rep[k].auroc.toFixed(3)} | ${pct(rep[k].sensitivity)} | ${pct(rep[k].specificity)} |`),
  ...(rep.calibrated ? [`| vote, calibrated (threshold ${rep.calibrated.calibration.threshold.toFixed(3)} fitted on val${rep.calibrated.calibration.objective === 'accuracy' ? ' for accuracy, Platt' : ''}) | ${pct(rep.calibrated.accuracy)} | ${pct(rep.calibrated.balancedAccuracy)} | ${rep.calibrated.macroF1.toFixed(3)} | | ${pct(rep.calibrated.sensitivity)} | ${pct(rep.calibrated.specificity)} |`] : []),
  '',
  `Vote accuracy after setting aside the 10 / 25 / 45% most uncertain images: ${pct(at(0.1))} / ${pct(at(0.25))} / ${pct(at(0.45))}; uncertainty detects errors with AUROC ${rep.uncertainty.errorDetectionAuroc.toFixed(3)}.`,
  ...(rep.explanations ? ['', `Counterfactual explanations of ${rep.explanations.images} test images: flip rate ${pct(rep.explanations.flipRate)}, mean |Δ| ${rep.explanations.meanAbsDiff.toFixed(3)}, ${rep.explanations.secondsPerImage.toFixed(2)} s per image.`] : []),
  `Classification took ${rep.timing.secondsPerImage?.toFixed(2)} s per image (${rep.timing.forwardPassesPerSecond?.toFixed(0)} forward passes/s).`,
  ...(cal ? ['', `\`calibration.json\`: predict '${cfg.classNames[cal.positive]}' when its vote share ≥ ${cal.threshold.toFixed(3)} (fitted on ${cal.fittedOn.images} ${cal.fittedOn.split} images, N = ${cal.fittedOn.n}${cal.mirror ? ', with the mirror view' : ''}, ${cal.objective === 'accuracy' ? `for accuracy: Platt scaling of the vote share, P('${cfg.classNames[cal.positive]}') = σ(${cal.platt.a.toFixed(2)}·(share − 0.5) ${cal.platt.b < 0 ? '−' : '+'} ${Math.abs(cal.platt.b).toFixed(2)}), threshold where P = 0.5; ${cal.fittedOn.split} accuracy ${pct(cal.fittedOn.uncalibratedAccuracy)} → ${pct(cal.fittedOn.accuracy)}` : `for balanced accuracy: ${pct(cal.fittedOn.uncalibratedBalancedAccuracy)} → ${pct(cal.fittedOn.balancedAccuracy)} on ${cal.fittedOn.split}`}).`
    + (cal.tRange ? windowText(cal) : '')] : []),
  ...(paperRep ? ['', `The paper's rule (t over the whole range, no threshold; \`--t-range 0,1\`) on the same test images: vote accuracy ${pct(paperRep.vote.accuracy)}, balanced ${pct(paperRep.vote.balancedAccuracy)}, AUROC ${paperRep.vote.auroc.toFixed(3)}; mean-error accuracy ${pct(paperRep.mean.accuracy)}.`] : []),
  ...(ci ? ['', `CI check (\`ci-check.json\`, re-measured by \`test/models/shipped.test.ts\`): ${ci.images} evenly spread test images, N = ${ci.n}: accuracy ${pct(ci.accuracy)} ± ${pct(ci.tolerance)} of ${ci.calibrated ? 'the calibrated decision (what \`meddiff classify\` answers)' : 'the majority vote'}.`] : []),
  '',
  '## Licence and intended use',
  '',
  'Trained on MedMNIST v2 (CC BY 4.0; Yang et al., Sci. Data 2023) and its source data set (see the project README). A research model on 28×28 images: not a medical device, not for diagnosis.',
  '',
];
fs.writeFileSync(path.join(modelDir, 'README.md'), lines.join('\n'));
console.log(`wrote ${path.join(modelDir, 'README.md')}`);
