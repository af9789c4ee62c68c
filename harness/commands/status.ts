import type { Argv, CommandModule } from 'yargs';
import { formatStatus, runStatus } from '../run/status.js';

interface StatusArgs {
  runs: string[];
}

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: 'status <runs..>',
  describe: 'Show done / failed / missing units of a run folder or a set of shards',
  builder: (yargs: Argv) =>
    yargs.positional('runs', { type: 'string', array: true, demandOption: true, describe: 'run folders, or a folder holding shard-i-of-N folders' }) as Argv<StatusArgs>,
  handler: async (argv) => {
    for (const line of formatStatus(runStatus(argv.runs))) console.log(line);
  },
};
