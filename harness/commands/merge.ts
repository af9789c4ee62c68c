import type { Argv, CommandModule } from 'yargs';
import { mergeRuns } from '../run/merge.js';
import { displayPath } from '../run/summary.js';

interface MergeArgs {
  runs: string[];
  out: string;
}

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: 'merge <runs..>',
  describe: 'Join shard folders of one experiment into one run folder',
  builder: (yargs: Argv) =>
    yargs
      .positional('runs', { type: 'string', array: true, demandOption: true, describe: 'shard folders, or a folder holding shard-i-of-N folders' })
      .option('out', { type: 'string', demandOption: true, describe: 'new run folder for the merged run' }) as Argv<MergeArgs>,
  handler: async (argv) => {
    const result = mergeRuns(argv.runs, argv.out, (message) => console.error(message));
    console.log(`Merged ${result.shards.length} folder(s) (${result.shards.join(', ')}): ${result.units} units, ${result.samples} samples, ${result.scores} scores, ${result.images} images`);
    if (result.missingShards.length > 0) {
      console.log(`Missing shard(s) ${result.missingShards.join(', ')}: ${result.totalUnits - result.units} of ${result.totalUnits} units are not in the merged run yet`);
    }
    console.log(`Results: ${displayPath(result.outDir)}`);
  },
};
