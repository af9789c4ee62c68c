import { relative } from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { listSuites } from '../../datasets/index.js';
import { UserError } from '../../pipelines/errors.js';
import { checkReportSelectors, expandExperiment, summarizeExpansion } from '../experiment/expand.js';
import { loadExperiment } from '../experiment/load.js';
import { collectPrompts } from '../experiment/prompts.js';
import { formatProblem, type Problem } from '../experiment/schema.js';
import type { ModelHashes } from '../experiment/types.js';

interface ValidateArgs {
  file: string;
  set?: string[];
}

export interface ValidationReport {
  ok: boolean;
  /** every problem (`path: message`) when not ok, else the summary lines */
  lines: string[];
}

// keys need real model hashes only when images are made; validation only counts units
const PLACEHOLDER_HASHES: ModelHashes = { base: 'validate:base', refiner: 'validate:refiner' };

/** Everything `refinery validate` checks, as lines to print: schema, files, suites, prompts, expansion. */
export function validateExperimentFile(file: string, set: readonly string[] = [], cwd = process.cwd()): ValidationReport {
  const suites = listSuites().map((suite) => ({ id: suite.id, categories: suite.categories }));
  const loaded = loadExperiment(file, { set, cwd, suites });
  const fail = (problems: Problem[]): ValidationReport => ({
    ok: false,
    lines: [...problems.map(formatProblem), `${problems.length} problem${problems.length === 1 ? '' : 's'} in ${file}`],
  });
  if (!loaded.spec) return fail(loaded.issues);
  const spec = loaded.spec;
  const { prompts, problems } = collectPrompts(spec, cwd);
  if (problems.length > 0) return fail(problems);
  let expansion;
  try {
    expansion = expandExperiment(spec, prompts, PLACEHOLDER_HASHES);
  } catch (error) {
    if (error instanceof UserError) return fail([{ path: '', message: error.message }]);
    throw error;
  }
  const selectorProblems = checkReportSelectors(spec, expansion.conditions);
  if (selectorProblems.length > 0) return fail(selectorProblems.map((line) => ({ path: '', message: line })));

  const summary = summarizeExpansion(spec, prompts, expansion);
  const sources = [...new Map(prompts.map((prompt) => [prompt.suite, 0])).keys()]
    .map((suite) => `${suite} ×${prompts.filter((prompt) => prompt.suite === suite).length}`)
    .join(', ');
  const shown = (path: string) => relative(cwd, path) || '.';
  const lines = [
    `${file}: valid${loaded.sourceFiles.length > 1 ? ` (extends ${loaded.sourceFiles.slice(1).map(shown).join(' → ')})` : ''}`,
    `  prompts     ${summary.prompts} (${sources})`,
    `  seeds       ${summary.seeds}`,
    `  conditions  ${summary.conditions}${
      summary.conditions <= 6
        ? `: ${expansion.conditions.map((condition) => condition.label).join(', ')}`
        : expansion.conditions.map((condition) => `\n                ${condition.label}`).join('')
    }`,
    `  units       ${summary.units} (${summary.trajectories} base trajectories)`,
    `  scorers     ${spec.scorers.map((scorer) => scorer.id).join(', ') || '(none)'}`,
    `  models      base ${spec.models.base}${spec.models.refiner ? `, refiner ${spec.models.refiner}` : ''} on ${spec.models.device}`,
    `  run folder  ${shown(spec.run.out_dir)}`,
  ];
  return { ok: true, lines };
}

/** `refinery validate`: every problem of an experiment file with its path, or a short summary. */
export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: 'validate <file>',
  describe: 'Check an experiment file and print every problem with its path, or a summary of what it would run',
  builder: (yargs: Argv<object>) =>
    yargs
      .positional('file', { type: 'string', demandOption: true, describe: 'Experiment file (YAML or JSON)' })
      .option('set', {
        type: 'string',
        array: true,
        describe: 'Override a field: PATH=VALUE, e.g. --set generation.steps=20 --set "sweep.handoff=[0.9,0.7]"',
      }) as Argv<ValidateArgs>,
  handler: (args: ArgumentsCamelCase<ValidateArgs>) => {
    const report = validateExperimentFile(args.file, args.set ?? []);
    if (!report.ok) {
      console.error(report.lines.slice(0, -1).join('\n'));
      throw new UserError(report.lines[report.lines.length - 1]);
    }
    console.log(report.lines.join('\n'));
  },
};
