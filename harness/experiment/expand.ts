/**
 * Expansion of a resolved experiment into conditions (the sweep's points) and units (condition ×
 * prompt × seed), each unit with its content-addressed key and trajectory key. Pure: the same spec,
 * prompts and model hashes give the same units in the same order.
 *
 * @example
 * const { conditions, units } = expandExperiment(spec, prompts, { base: baseHash, refiner: refinerHash });
 * @module
 */
import type { PromptInstance } from '../../datasets/types.js';
import { UserError } from '../../pipelines/errors.js';
import { resolveSchedulerChoice } from '../../pipelines/schedulers/registry.js';
import { trajectoryKey, unitKey, type KeyInput, type ResolvedSchedulerConfigs } from './keys.js';
import type { Condition, ExperimentSpec, Expansion, ModeSpec, ModelHashes, SeedsSpec, Unit } from './types.js';

export interface ExpandOptions {
  /**
   * The fully resolved scheduler config of a stage. Default: the stage's scheduler_config.json given in
   * `ModelHashes`, the experiment's overrides on top, then the keys the scheduler variant fixes (as
   * `resolveSchedulerChoice` of pipelines/ applies them).
   */
  resolveSchedulerConfig?: (scheduler: string, overrides: Record<string, unknown>, stage: 'base' | 'refiner') => Record<string, unknown>;
}

/** The seeds an experiment runs, in order. */
export function resolveSeeds(seeds: SeedsSpec): number[] {
  if (Array.isArray(seeds)) return [...seeds];
  if ('range' in seeds) return Array.from({ length: seeds.range[1] - seeds.range[0] }, (_, i) => seeds.range[0] + i);
  return Array.from({ length: seeds.count }, (_, i) => seeds.start + i);
}

function parseSize(size: string): { width: number; height: number } {
  const match = /^(\d+)x(\d+)$/.exec(size);
  if (!match) throw new UserError(`sweep.size: '${size}' is not WIDTHxHEIGHT`);
  return { width: Number(match[1]), height: Number(match[2]) };
}

/** The short name of a mode: `base-only`, `handoff=0.8`, `strength=0.3`. */
export function modeLabel(mode: ModeSpec): string {
  if (mode === 'base-only') return 'base-only';
  return 'handoff' in mode ? `handoff=${mode.handoff}` : `strength=${mode.strength}`;
}

function conditionPairs(condition: Omit<Condition, 'id' | 'label'>): [string, string][] {
  const pairs: [string, string][] = [['mode', condition.mode]];
  if (condition.mode === 'ensemble') pairs.push(['handoff', String(condition.handoff)]);
  if (condition.mode === 'sdedit') pairs.push(['strength', String(condition.strength)]);
  pairs.push(
    ['steps', String(condition.steps)],
    ['guidance', String(condition.guidance)],
    ['scheduler', condition.scheduler],
    ['size', `${condition.width}x${condition.height}`],
  );
  if (condition.negativePrompt !== null) pairs.push(['negative', JSON.stringify(condition.negativePrompt)]);
  return pairs;
}

/**
 * The sweep's points: negative prompt, size, scheduler, guidance and steps in the outer loops (they
 * decide the base trajectory), mode innermost, each axis in the order written. Axes absent from the
 * sweep take the generation value.
 */
export function buildConditions(spec: ExperimentSpec): Condition[] {
  const generation = spec.generation;
  const sweep = spec.sweep;
  const negatives = sweep.negative_prompt ?? [generation.negative_prompt];
  const sizes = sweep.size?.map(parseSize) ?? [{ width: generation.width, height: generation.height }];
  const schedulers = sweep.scheduler ?? [generation.scheduler];
  const guidances = sweep.guidance ?? [generation.guidance];
  const stepCounts = sweep.steps ?? [generation.steps];
  const modes = sweep.mode ?? [generation.mode];

  const drafts: Omit<Condition, 'id' | 'label'>[] = [];
  for (const negativePrompt of negatives)
    for (const { width, height } of sizes)
      for (const scheduler of schedulers)
        for (const guidance of guidances)
          for (const steps of stepCounts)
            for (const mode of modes) {
              const draft: Omit<Condition, 'id' | 'label'> = {
                mode: mode === 'base-only' ? 'base-only' : 'handoff' in mode ? 'ensemble' : 'sdedit',
                steps,
                guidance,
                refinerGuidance: generation.refiner_guidance ?? guidance,
                guidanceRescale: generation.guidance_rescale,
                scheduler,
                schedulerConfig: generation.scheduler_config,
                width,
                height,
                negativePrompt,
                aestheticScore: generation.aesthetic_score,
                negativeAestheticScore: generation.negative_aesthetic_score,
              };
              if (mode !== 'base-only' && 'handoff' in mode) draft.handoff = mode.handoff;
              if (mode !== 'base-only' && 'strength' in mode) draft.strength = mode.strength;
              drafts.push(draft);
            }

  const varies = {
    mode: modes.length > 1,
    steps: stepCounts.length > 1,
    guidance: guidances.length > 1,
    scheduler: schedulers.length > 1,
    size: sizes.length > 1,
    negative: negatives.length > 1,
  };
  return drafts.map((draft) => {
    const pairs = conditionPairs(draft);
    const labelParts: string[] = [];
    const mode = draft.mode === 'base-only' ? 'base-only' : draft.mode === 'ensemble' ? `handoff=${draft.handoff}` : `strength=${draft.strength}`;
    if (varies.mode) labelParts.push(mode);
    for (const [key, value] of pairs) {
      if (key !== 'mode' && key !== 'handoff' && key !== 'strength' && varies[key as keyof typeof varies]) labelParts.push(`${key}=${value}`);
    }
    if (varies.negative && draft.negativePrompt === null) labelParts.push('negative=none');
    return {
      id: pairs.map(([key, value]) => `${key}=${value}`).join(','),
      label: labelParts.length > 0 ? labelParts.join(',') : mode,
      ...draft,
    };
  });
}

/**
 * The conditions a selector names: a condition id or label, a mode (`base-only`, `handoff=0.8`,
 * `strength=0.3`), or comma-separated key=value pairs all of which must hold (`handoff=0.8,steps=20`).
 */
export function selectConditions(conditions: readonly Condition[], selector: string): Condition[] {
  const exact = conditions.filter((condition) => condition.id === selector || condition.label === selector);
  if (exact.length > 0) return exact;
  const wanted = selector.split(',').map((part) => part.trim()).filter(Boolean);
  return conditions.filter((condition) => {
    const pairs = new Set(conditionPairs(condition).map(([key, value]) => `${key}=${value}`));
    if (condition.mode === 'base-only') pairs.add('base-only');
    if (condition.negativePrompt === null) pairs.add('negative=none');
    return wanted.every((part) => {
      if (pairs.has(part)) return true;
      const [key, value] = part.split('=');
      // numbers compare by value: handoff=0.80 names handoff=0.8
      return value !== undefined && value.trim() !== '' && !Number.isNaN(Number(value)) && pairs.has(`${key}=${Number(value)}`);
    });
  });
}

function checkPrompts(prompts: readonly PromptInstance[]): void {
  if (prompts.length === 0) throw new UserError('prompts: the prompt sources gave no prompts (check limit and categories)');
  const byId = new Map<string, PromptInstance>();
  const byText = new Map<string, PromptInstance>();
  for (const prompt of prompts) {
    const sameId = byId.get(prompt.id);
    if (sameId) throw new UserError(`prompts: two prompts have the id '${prompt.id}' ("${sameId.text}" and "${prompt.text}"); give them distinct ids or names`);
    byId.set(prompt.id, prompt);
    const sameText = byText.get(prompt.text);
    if (sameText) {
      throw new UserError(`prompts: '${prompt.text}' appears twice (${sameText.id} and ${prompt.id}); identical prompts give identical images, so keep one`);
    }
    byText.set(prompt.text, prompt);
  }
}

/** Expands an experiment into its conditions and units (prompt, then seed, then trajectory, then branch). */
export function expandExperiment(
  spec: ExperimentSpec,
  prompts: readonly PromptInstance[],
  models: ModelHashes,
  options: ExpandOptions = {},
): Expansion {
  checkPrompts(prompts);
  const seeds = resolveSeeds(spec.seeds);
  const conditions = buildConditions(spec);
  const resolveConfig =
    options.resolveSchedulerConfig ??
    ((scheduler: string, overrides: Record<string, unknown>, stage: 'base' | 'refiner') =>
      resolveSchedulerChoice(scheduler, {
        ...((stage === 'refiner' ? models.refinerSchedulerConfig : undefined) ?? models.schedulerConfig ?? {}),
        ...overrides,
      }).config);
  if (conditions.some((condition) => condition.mode !== 'base-only') && models.refiner === undefined) {
    throw new UserError('models.refiner: the sweep uses the refiner, but no refiner model hash was given');
  }
  const configs = conditions.map((condition): ResolvedSchedulerConfigs => {
    const resolved: ResolvedSchedulerConfigs = { base: resolveConfig(condition.scheduler, condition.schedulerConfig, 'base') };
    if (condition.mode !== 'base-only') resolved.refiner = resolveConfig(condition.scheduler, condition.schedulerConfig, 'refiner');
    return resolved;
  });

  const units: Unit[] = [];
  for (const prompt of prompts) {
    for (const seed of seeds) {
      conditions.forEach((condition, index) => {
        const input: KeyInput = { condition, promptText: prompt.text, seed, models, schedulerConfigs: configs[index] };
        units.push({ key: unitKey(input), condition, prompt, seed, trajectoryKey: trajectoryKey(input) });
      });
    }
  }

  const expected = prompts.length * seeds.length * conditions.length;
  if (units.length !== expected) throw new Error(`expansion made ${units.length} units, expected ${expected}`);
  const keys = new Set(units.map((unit) => unit.key));
  if (keys.size !== units.length) throw new Error(`expansion made ${units.length - keys.size} duplicate unit keys`);
  const conditionIds = new Set(conditions.map((condition) => condition.id));
  if (conditionIds.size !== conditions.length) throw new Error('expansion made two conditions with the same id');
  return { conditions, units };
}

/** Problems with the report's condition selectors, as messages with paths. */
export function checkReportSelectors(spec: ExperimentSpec, conditions: readonly Condition[]): string[] {
  const problems: string[] = [];
  const available = conditions.map((condition) => condition.label).join(', ');
  if (selectConditions(conditions, spec.report.reference_condition).length === 0) {
    problems.push(`report.reference_condition: '${spec.report.reference_condition}' names no condition; the conditions are: ${available}`);
  }
  spec.report.compare?.forEach((selector, index) => {
    if (selectConditions(conditions, selector).length === 0) problems.push(`report.compare[${index}]: '${selector}' names no condition; the conditions are: ${available}`);
  });
  return problems;
}

/** The counts `refinery validate` prints. */
export interface ExpansionSummary {
  prompts: number;
  seeds: number;
  conditions: number;
  units: number;
  trajectories: number;
}

export function summarizeExpansion(spec: ExperimentSpec, prompts: readonly PromptInstance[], expansion: Expansion): ExpansionSummary {
  return {
    prompts: prompts.length,
    seeds: resolveSeeds(spec.seeds).length,
    conditions: expansion.conditions.length,
    units: expansion.units.length,
    trajectories: new Set(expansion.units.map((unit) => unit.trajectoryKey)).size,
  };
}
