import yargs from 'yargs';
import { isUserError } from '../pipelines/errors.js';
import { commands } from './commands/index.js';

/** Runs the CLI with the given arguments and resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const parser = yargs(argv)
    .scriptName('refinery')
    .usage('$0 <command> [options]\n\nEvaluate and bias-probe SDXL base + refiner on ONNX Runtime.')
    .command(commands)
    .demandCommand(1, 'Name a command (see the list above).')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .fail((message, error) => {
      if (error) throw error;
      console.error(`${message}\n\nRun 'refinery --help' or 'refinery <command> --help'.`);
      exitCode = 2;
    });
  try {
    await parser.parseAsync();
  } catch (error) {
    if (isUserError(error)) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    throw error;
  }
  return exitCode || (typeof process.exitCode === 'number' ? process.exitCode : 0);
}
