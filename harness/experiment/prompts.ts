/**
 * The prompt instances of an experiment, in source order, read through datasets/ (`loadPromptSet`).
 * @module
 */
import { loadPromptSet } from '../../datasets/index.js';
import type { PromptInstance } from '../../datasets/types.js';
import { isUserError, UserError } from '../../pipelines/errors.js';
import type { Problem } from './schema.js';
import type { ExperimentSpec } from './types.js';

export interface ResolvedPrompts {
  prompts: PromptInstance[];
  /** one per source that failed, with its path (`prompts[2]`) */
  problems: Problem[];
}

/**
 * Reads every prompt source; a source that fails is reported and the others are still read. File
 * paths in a loaded spec are absolute; `baseDir` only matters for specs built by hand.
 */
export function collectPrompts(spec: ExperimentSpec, baseDir = process.cwd()): ResolvedPrompts {
  const prompts: PromptInstance[] = [];
  const problems: Problem[] = [];
  spec.prompts.forEach((source, index) => {
    try {
      prompts.push(...loadPromptSet(source, baseDir));
    } catch (error) {
      if (!isUserError(error)) throw error;
      problems.push({ path: `prompts[${index}]`, message: error.message });
    }
  });
  return { prompts, problems };
}

/** Like `collectPrompts`, but throws one UserError listing every failed source. */
export function resolvePrompts(spec: ExperimentSpec, baseDir = process.cwd()): PromptInstance[] {
  const { prompts, problems } = collectPrompts(spec, baseDir);
  if (problems.length > 0) throw new UserError(problems.map((problem) => `${problem.path}: ${problem.message}`).join('; '));
  return prompts;
}

