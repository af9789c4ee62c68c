import type { Argv, CommandModule } from 'yargs';
import { buildReport } from '../../reports/build.js';
import { displayPath } from '../run/summary.js';

interface ReportArgs {
  run: string;
  out?: string;
  compare?: string;
  reference?: string;
  resamples?: number;
  seed?: number;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <run>',
  describe: 'Build report.html, summary.md, scores.csv, stats.csv and report.json from a run folder (never generates or scores)',
  builder: (yargs: Argv) =>
    yargs
      .positional('run', { type: 'string', demandOption: true, describe: 'run folder (or merged shard run) holding refinery.sqlite' })
      .option('out', { type: 'string', describe: 'output folder (default: RUN/report)' })
      .option('compare', { type: 'string', describe: 'another run folder to put side by side (paired on condition label, prompt text, seed)' })
      .option('reference', { type: 'string', describe: "reference condition: id, label, mode or handoff=h (default: the experiment's report.reference_condition, else base-only)" })
      .option('resamples', { type: 'number', describe: "bootstrap resamples (default: the experiment's report.bootstrap_resamples, else 2000)" })
      .option('seed', { type: 'number', describe: "bootstrap seed (default: the experiment's report.seed, else 0)" })
      .check((argv) => {
        if (argv.resamples !== undefined && (!Number.isInteger(argv.resamples) || argv.resamples < 1)) throw new Error('--resamples must be a positive integer');
        if (argv.seed !== undefined && (!Number.isSafeInteger(argv.seed) || argv.seed < 0)) throw new Error('--seed must be a non-negative integer');
        return true;
      }) as Argv<ReportArgs>,
  handler: async (argv) => {
    const result = await buildReport(argv.run, {
      out: argv.out,
      compare: argv.compare,
      reference: argv.reference,
      resamples: argv.resamples,
      seed: argv.seed,
    });
    console.log(`Wrote ${result.files.length} files (summary.md, scores.csv, stats.csv, report.json, charts/*.vl.json)`);
    console.log(displayPath(result.htmlPath));
  },
};
