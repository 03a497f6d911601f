import { Command, CommanderError } from 'commander';
import { infoCommand } from './info.ts';
import { trainCommand } from './train.ts';
import { sampleCommand } from './sample.ts';
import { classifyCommand } from './classify.ts';
import { evaluateCommand } from './evaluate.ts';
import { explainCommand } from './explain.ts';
import { calibrateCommand } from './calibrate.ts';
import { exportCommand } from './export.ts';
import { serveCommand } from './serve.ts';
import { compareCommand } from './compare.ts';
import { baselineCommand } from './baseline.ts';

export function buildProgram(): Command {
  const program = new Command('meddiff')
    .description('Diffusion-model medical image classifiers that explain themselves and say how sure they are')
    .showHelpAfterError('(run with --help for usage)');
  program.addCommand(infoCommand());
  program.addCommand(trainCommand());
  program.addCommand(sampleCommand());
  program.addCommand(classifyCommand());
  program.addCommand(evaluateCommand());
  program.addCommand(explainCommand());
  program.addCommand(calibrateCommand());
  program.addCommand(exportCommand());
  program.addCommand(serveCommand());
  program.addCommand(compareCommand());
  program.addCommand(baselineCommand());
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode);
    process.stderr.write(`meddiff: error: ${(err as Error).message}\n`);
    if (process.env.MEDDIFF_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(1);
  }
}
