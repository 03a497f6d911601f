import path from 'node:path';
import { Command } from 'commander';
import { compareReports, compareText } from '../eval/index.ts';

export function compareCommand(): Command {
  return new Command('compare')
    .description('Compare report folders (diffusion and baseline): Table 1 metrics and cost, uncertainty metrics (AURC, ECE, …), removal curves; writes compare.html')
    .argument('<reports...>', 'report folders (each with report.json; diffusion reports also need predictions.csv)')
    .requiredOption('--out <dir>', 'folder for compare.json, compare.html and the plots')
    .option('--title <text>', 'page title', 'Model comparison')
    .option('--json', "print compare.json's contents to stdout")
    .addHelpText('after', `
Examples:
  meddiff compare reports/pneumoniamnist-test reports/breastmnist-test --out reports/compare
  meddiff compare reports/pneu-unet reports/pneu-resnet18 reports/pneu-resnet18-ensemble --out reports/pneu-compare --title 'PneumoniaMNIST'
`)
    .action(async (dirs: string[], o: { out: string; title: string; json?: boolean }) => {
      const summary = await compareReports(dirs, { out: o.out, title: o.title });
      if (o.json) {
        process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
        return;
      }
      process.stdout.write(compareText(summary));
      process.stdout.write(`comparison: ${path.resolve(o.out, 'compare.html')}\n`);
    });
}
