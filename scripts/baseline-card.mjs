#!/usr/bin/env node
// Writes models/<name>/README.md for a shipped baseline from its folder, its training run's
// metrics.jsonl and its test report (so every number on the card is one a command wrote).
//   node scripts/baseline-card.mjs models/pneumoniamnist-resnet18 reports/pneumoniamnist-resnet18-test "<train command>" [run dir]
import fs from 'node:fs';
import path from 'node:path';

const [dir, reportDir, trainCmd, runDir] = process.argv.slice(2);
if (!dir || !reportDir || !trainCmd) { console.error('usage: baseline-card.mjs <model dir> <report dir> "<train command>" [run dir]'); process.exit(2); }
const read = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const cfg = read(path.join(dir, 'config.json')), state = read(path.join(dir, 'state.json')), rep = read(path.join(reportDir, 'report.json'));
const cal = fs.existsSync(path.join(dir, 'calibration.json')) ? read(path.join(dir, 'calibration.json')) : null;
const pc = (x) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const at = (curve, f) => curve.find((p) => Math.abs(p.fraction - f) < 1e-9)?.accuracy;
const name = path.basename(dir), t = cfg.train, a = t.augment, m = cfg.model;
let epochs = null;
if (runDir && fs.existsSync(path.join(runDir, 'metrics.jsonl'))) {
  const lines = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  epochs = lines.filter((l) => l.validation).length;
}
const label = { resnet18: 'ResNet-18', resnet50: 'ResNet-50', 'efficientnet-b0': 'EfficientNet-B0', 'vit-s16': 'ViT-S/16' }[m.kind] ?? m.kind;
const aug = [a.rotate ? `rotation ±${a.rotate}°` : null, a.hflip ? 'horizontal flips' : null, a.vflip ? 'vertical flips' : null,
  a.blur ? `Gaussian blur (kernel ${a.blur.kernel}, σ ∈ [${a.blur.sigma.join(', ')}], p = ${a.blur.p})` : null].filter(Boolean).join(', ') || 'none';
const out = [
  `# ${name}`, '',
  `A discriminative ${label} (${(state.info.parameters / 1e6).toFixed(2)} M parameters) trained **from scratch** by \`meddiff baseline train\` on ${cfg.data.path} (${cfg.classNames.join(' vs ')}), as the comparison for the diffusion classifier. No pretrained weights (none are reachable offline; the paper fine-tunes ImageNet weights). Weights stored as float16.`, '',
  '## How it was made', '', '```sh', trainCmd,
  `meddiff export --model ${state.info.exportedFrom.replace(/\/best$/, '')} --out ${dir} --fp16`,
  `meddiff calibrate --model ${dir} --data ${cfg.data.path}`, '```', '',
  `- input ${m.imageSize}² × ${m.inChannels}${m.smallInputStem ? ' (MedMNIST small-input stem: 3×3 stride-1 first conv, no max-pool)' : ''}; dropout ${m.dropout} before the head`,
  `- Adam lr ${t.optimizer.lr}, weight decay ${t.optimizer.weightDecay} (L2), batch ${t.batchSize}, seed ${t.seed}; augmentations: ${aug}`,
  `- shipped weights: the epoch with the best validation balanced accuracy (${pc(state.info.validation?.balancedAccuracy)}, AUROC ${state.info.validation?.auroc?.toFixed(3)}) at step ${state.step}${epochs ? ` of ${epochs} validations (one per epoch, plus one at the time limit)` : ''}`,
  `- training time: ${(state.info.trainingSeconds / 60).toFixed(1)} minutes (the whole run) on 2 CPU cores`, '',
  '## Results', '', '```sh', `meddiff evaluate --model ${dir} --data ${cfg.data.path} --split test --mc-dropout ${rep.settings.mcDropout ?? 20} --out ${reportDir}`, '```', '',
  `${rep.data.images} test images.`, '',
  '| method | accuracy | balanced accuracy | macro F1 | AUROC | sensitivity | specificity |', '|---|---|---|---|---|---|---|',
  ...rep.methods.map((x) => `| ${x.method} | ${pc(x.metrics.accuracy)} | ${pc(x.metrics.balancedAccuracy)} | ${x.metrics.macroF1.toFixed(3)} | ${x.metrics.auroc.toFixed(3)} | ${pc(x.metrics.sensitivity)} | ${pc(x.metrics.specificity)} |`),
  '', '| method · score | error-detection AUROC | AURC | ECE | accuracy after removing 10 / 25 / 45% |', '|---|---|---|---|---|',
  ...rep.methods.flatMap((x) => x.uncertainty.map((u) => `| ${x.method} · ${u.score} | ${u.errorDetectionAuroc.toFixed(3)} | ${u.aurc.toFixed(4)} | ${u.ece.toFixed(3)} | ${[0.1, 0.25, 0.45].map((f) => pc(at(u.removal, f))).join(' / ')} |`)),
  '',
  cal ? `\`calibration.json\`: temperature ${cal.temperature.toFixed(3)} fitted on ${cal.fittedOn.images} ${cal.fittedOn.split} images (NLL ${cal.fittedOn.nllBefore.toFixed(4)} → ${cal.fittedOn.nllAfter.toFixed(4)}, ECE ${pc(cal.fittedOn.eceBefore)} → ${pc(cal.fittedOn.eceAfter)}); it changes confidences, never predictions.` : '',
  `Evaluation with MC dropout took ${rep.timing.secondsPerImage.toFixed(3)} s per image for ${rep.timing.forwardPassesPerImage} forward passes.`, '',
  `CI check (\`ci-check.json\`, re-measured by \`test/models/shipped.test.ts\`): accuracy on ${read(path.join(dir, 'ci-check.json')).images} evenly spread test images.`, '',
  '## Licence and intended use', '',
  'Trained on MedMNIST v2 (CC BY 4.0; Yang et al., Sci. Data 2023) and its source data set (see the project README). A research baseline on 28×28 images: not a medical device, not for diagnosis.', '',
];
fs.writeFileSync(path.join(dir, 'README.md'), out.join('\n'));
console.log(`wrote ${path.join(dir, 'README.md')}`);
