/**
 * The real implementations of `RunDependencies`: the experiment loader and expansion (harness/experiment),
 * the pipeline (pipelines/), the scorer registry (probes/) and the report (reports/).
 * @module
 */
import { dirname, resolve } from 'node:path';
import { UserError } from '../../pipelines/errors.js';
import { createScorer } from '../../probes/registry.js';
import type { Scorer } from '../../probes/types.js';
import { listSuites } from '../../datasets/index.js';
import { checkReportSelectors, expandExperiment } from '../experiment/expand.js';
import { loadExperiment } from '../experiment/load.js';
import { resolvePrompts } from '../experiment/prompts.js';
import { formatProblem } from '../experiment/schema.js';
import type { ExperimentSpec, ModelHashes, Unit } from '../experiment/types.js';
import type { OpenedGenerator, RunDependencies } from './run-experiment.js';

/** Loads and validates an experiment file; every problem goes into one UserError, one per line. */
export async function loadExperimentOrThrow(file: string, set: readonly string[]): Promise<ExperimentSpec> {
  const suites = listSuites().map((suite) => ({ id: suite.id, categories: suite.categories }));
  const loaded = loadExperiment(file, { set, suites });
  if (!loaded.spec) {
    throw new UserError(`${file} has ${loaded.issues.length} problem(s):\n  ${loaded.issues.map(formatProblem).join('\n  ')}`);
  }
  return loaded.spec;
}

/** The experiment's units; report selectors that name no condition are refused before any compute. */
export async function expandUnits(spec: ExperimentSpec, modelHashes: ModelHashes): Promise<Unit[]> {
  const expansion = expandExperiment(spec, resolvePrompts(spec), modelHashes);
  const problems = checkReportSelectors(spec, expansion.conditions);
  if (problems.length > 0) throw new UserError(problems.join('; '));
  return expansion.units;
}

/** Scorers named by the experiment, from the registry; relative paths in their options resolve against the experiment file. */
export async function createScorers(spec: ExperimentSpec, experimentFile: string, log: (message: string) => void): Promise<Scorer[]> {
  const models: Partial<Record<string, string>> = {};
  if (spec.models.clip) models.clip = spec.models.clip;
  if (spec.models.detector) models.detector = spec.models.detector;
  const scorers: Scorer[] = [];
  for (const scorer of spec.scorers) {
    scorers.push(await createScorer(scorer.id, scorer.options, { baseDir: dirname(resolve(experimentFile)), models, device: spec.models.device, log }));
  }
  return scorers;
}

/**
 * Opens the SDXL pipeline for the experiment's models.
 * HOOK: wired to `SdxlEnsemble` (pipelines/ensemble.ts) once that module lands.
 */
export async function openSdxlGenerator(_spec: ExperimentSpec, _log: (message: string) => void): Promise<OpenedGenerator> {
  throw new UserError('refinery run: the SDXL pipeline (pipelines/ensemble.ts) is not available in this build yet');
}

/** The real dependencies of `refinery run`. */
export async function defaultDependencies(): Promise<RunDependencies> {
  return {
    loadExperiment: loadExperimentOrThrow,
    openGenerator: openSdxlGenerator,
    expand: expandUnits,
    createScorers,
    // HOOK: reports/ buildReport(runDir, { out }) → { htmlPath } once the report module lands
  };
}
