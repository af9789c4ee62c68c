import yargs from 'yargs';
import { isUserError } from '../pipelines/errors.js';
import { commands } from './commands/index.js';

/** A usage error found by yargs (unknown flag, bad choice): thrown so no command handler runs. */
class UsageError extends Error {}

/** Runs the CLI with the given arguments and resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
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
      // yargs passes a message for validation failures (its own and those thrown by .check()),
      // and none for errors thrown by a command handler, which keep their own handling below
      if (message || !error) throw new UsageError(message ?? 'invalid arguments');
      throw error;
    });
  try {
    await parser.parseAsync();
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${error.message}\n\nRun 'refinery --help' or 'refinery <command> --help'.`);
      return 2;
    }
    if (isUserError(error)) {
      console.error(`error: ${error.message}`);
      return 1;
    }
    throw error;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}
