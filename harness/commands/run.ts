import type { Argv, CommandModule } from 'yargs';
import { defaultDependencies } from '../run/dependencies.js';
import { runExperiment } from '../run/run-experiment.js';

interface RunArgs {
  file: string;
  set?: string[];
  shard?: string;
  batch?: number;
  'low-memory'?: boolean;
  'fail-fast'?: boolean;
  'retry-failed'?: boolean;
  'dry-run'?: boolean;
  measure: boolean;
  quiet?: boolean;
  out?: string;
  report: boolean;
  'determinism-check': boolean;
}

export const runCommand: CommandModule<object, RunArgs> = {
  command: 'run <file>',
  describe: 'Run an experiment into a run folder; rerun the same command to resume after a crash',
  builder: (yargs: Argv) =>
    yargs
      .positional('file', { type: 'string', demandOption: true, describe: 'experiment file (YAML or JSON)' })
      .option('set', { type: 'string', array: true, describe: 'override a field: --set generation.steps=20 (repeatable)' })
      .option('shard', { type: 'string', describe: 'run slice i of N (0-based, e.g. 0/4) into <out>/shard-i-of-N; trajectories stay whole' })
      .option('batch', {
        type: 'number',
        describe: 'trajectories per base UNet batch where steps, guidance, scheduler and size agree (bit-identical to 1 on CPU), and images per scorer call (default: run.batch)',
      })
      .option('low-memory', { type: 'boolean', describe: 'model-major order: all base work of a chunk, release the base, then the refiner (one UNet resident)' })
      .option('fail-fast', { type: 'boolean', describe: 'stop at the first failing unit instead of recording it and going on' })
      .option('retry-failed', { type: 'boolean', describe: 'run units whose stored sample failed again' })
      .option('dry-run', { type: 'boolean', describe: 'print units, UNet evaluations with and without sharing, how --batch groups trajectories, and an estimated time; run nothing' })
      .option('measure', { type: 'boolean', default: true, describe: 'dry run: time a few UNet steps when the run folder has no timings (--no-measure to skip)' })
      .option('quiet', { type: 'boolean', describe: 'no progress output; print only where the results are' })
      .option('out', { type: 'string', describe: 'run folder (default: run.out_dir of the experiment, runs/<name>)' })
      .option('report', { type: 'boolean', default: true, describe: 'build report.html at the end (--no-report to skip)' })
      .option('determinism-check', {
        type: 'boolean',
        default: true,
        describe: 'at the end, regenerate one stored unit alone and compare its sha256 (--no-determinism-check to skip)',
      }) as Argv<RunArgs>,
  handler: async (argv) => {
    const outcome = await runExperiment(
      {
        file: argv.file,
        set: argv.set ?? [],
        shard: argv.shard,
        batch: argv.batch,
        lowMemory: argv['low-memory'],
        failFast: argv['fail-fast'],
        retryFailed: argv['retry-failed'],
        dryRun: argv['dry-run'],
        measure: argv.measure,
        quiet: argv.quiet,
        out: argv.out,
        noReport: !argv.report,
        determinismCheck: argv['determinism-check'],
        commandLine: ['refinery', ...process.argv.slice(2)],
      },
      await defaultDependencies(),
      { stdout: process.stdout, stderr: process.stderr, handleSignals: true },
    );
    process.exitCode = outcome.exitCode;
  },
};
