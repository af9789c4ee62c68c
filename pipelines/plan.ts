import { UserError } from './errors.js';
import type { SchedulerConfigInput } from './schedulers/config.js';
import { roundHalfEven } from './schedulers/float32.js';
import { createScheduler, resolveSchedulerChoice, type SchedulerName } from './schedulers/registry.js';
import { SDXL_PIPELINE_DEFAULTS, SDXL_SCHEDULER_CONFIG } from './schedulers/sdxl-default-config.js';
import type { DiffusionScheduler, SchedulerClassName } from './schedulers/types.js';

/**
 * How a generation splits its denoising schedule between the SDXL base and refiner (spec §7, §8),
 * as pure functions of the scheduler's timesteps. The same arithmetic as diffusers' SDXL pipelines:
 *   ensemble  base keeps t ≥ cutoff, cutoff = round(T − h·T) (half-even); the refiner takes the rest
 *             from a fresh scheduler with begin index t_start and adds no noise;
 *   sdedit    the base runs the full schedule, the refiner re-noises the result to the level of
 *             step t_start = N − int(N·s) and denoises the last int(N·s) steps;
 *   refiner-only  SDEdit of a given image by the refiner alone.
 */

export type GenerationMode = 'base-only' | 'ensemble' | 'sdedit' | 'refiner-only';
export const GENERATION_MODES: readonly GenerationMode[] = ['base-only', 'ensemble', 'sdedit', 'refiner-only'];

/**
 * The discrete timestep where the base hands over: Python `round(T − h·T)` (half to even, so 0.8 →
 * 200). h = 1 gives 0, which keeps every timestep with the base (base-only).
 */
export function handoffCutoff(fraction: number, numTrainTimesteps = 1000): number {
  if (typeof fraction !== 'number' || !Number.isFinite(fraction) || fraction <= 0 || fraction > 1) {
    throw new UserError(`handoff must be a number in (0, 1], got ${fraction}`, '0.8 is the SDXL recipe; 1 means base only');
  }
  return roundHalfEven(numTrainTimesteps - fraction * numTrainTimesteps);
}

export interface EnsembleSplit {
  readonly cutoff: number;
  /** Leading timesteps with t ≥ cutoff, run by the base. */
  readonly baseSteps: number;
  /** Timesteps with t < cutoff (plus one for an even count on an order-2 scheduler). */
  readonly refinerSteps: number;
  /** Index of the refiner's first timestep: its begin index. */
  readonly refinerStartIndex: number;
}

/** diffusers' `denoising_end` / `denoising_start` split of one descending schedule. */
export function ensembleSplit(timesteps: ArrayLike<number>, cutoff: number, schedulerOrder = 1): EnsembleSplit {
  let baseSteps = 0;
  let refinerSteps = 0;
  for (let i = 0; i < timesteps.length; i++) {
    if (timesteps[i] >= cutoff) baseSteps++;
    else refinerSteps++;
  }
  if (schedulerOrder === 2 && refinerSteps % 2 === 0) refinerSteps++;
  refinerSteps = Math.min(refinerSteps, timesteps.length);
  return { cutoff, baseSteps, refinerSteps, refinerStartIndex: timesteps.length - refinerSteps };
}

export interface SdeditSplit {
  /** int(N·s), capped at N: how many steps of the schedule the refinement covers. */
  readonly initSteps: number;
  /** max(N − init, 0): the step whose noise level the image is re-noised to. */
  readonly startStep: number;
  /** startStep·order: the refiner's begin index into its timesteps. */
  readonly beginIndex: number;
  /** Timesteps the refiner runs (the schedule from beginIndex on). */
  readonly refinerSteps: number;
}

/** diffusers' img2img `get_timesteps` for a strength s (product truncated: 100·0.29 → 28). */
export function sdeditSplit(steps: number, strength: number, schedulerOrder = 1): SdeditSplit {
  if (typeof strength !== 'number' || !Number.isFinite(strength) || strength <= 0 || strength > 1) {
    throw new UserError(`refine strength must be a number in (0, 1], got ${strength}`, 'the SDXL refiner default is 0.3');
  }
  const initSteps = Math.min(Math.trunc(steps * strength), steps);
  if (initSteps < 1) {
    throw new UserError(
      `refine strength ${strength} at ${steps} steps leaves no refiner step (int(${steps}·${strength}) = 0)`,
      'raise the strength or the step count',
    );
  }
  const startStep = Math.max(steps - initSteps, 0);
  const beginIndex = startStep * schedulerOrder;
  return { initSteps, startStep, beginIndex, refinerSteps: steps * schedulerOrder - beginIndex };
}

export interface PlanRequest {
  /** Short id or diffusers class name; defaults to the config's `_class_name`. */
  readonly scheduler?: string;
  /** A diffusers scheduler_config.json object; defaults to the SDXL base config. */
  readonly config?: SchedulerConfigInput;
  readonly steps: number;
  readonly mode: GenerationMode;
  /** Ensemble only: the base's share h of the schedule (default 0.8). */
  readonly handoff?: number;
  /** SDEdit / refiner-only: the refinement strength s (default 0.3). */
  readonly strength?: number;
  /** Classifier-free guidance scale; CFG (a doubled UNet batch) runs when it is above 1. */
  readonly guidance?: number;
  /** The refiner's own guidance scale (default: `guidance`). */
  readonly refinerGuidance?: number;
}

export interface StagePlan {
  readonly model: 'base' | 'refiner';
  /** Where the stage's starting latents come from. */
  readonly input: 'noise' | 'base-latents' | 'noised-image';
  readonly timesteps: number[];
  /** Noise levels from the stage's start to its end (steps + 1 values), null for DDIM. */
  readonly sigmas: number[] | null;
  /** Index into the full schedule of the stage's first timestep. */
  readonly beginIndex: number;
  /** SDEdit re-noises the image to the level of `timesteps[0]`; the other stages add no noise. */
  readonly addsNoise: boolean;
  readonly guidance: number;
  readonly classifierFreeGuidance: boolean;
  /** One UNet call per step; with CFG each call carries two batch rows (uncond, cond) per image. */
  readonly unetCalls: number;
  readonly unetBatchRows: number;
}

export interface GenerationPlan {
  readonly scheduler: {
    readonly name: SchedulerName | null;
    readonly className: SchedulerClassName;
    readonly order: number;
    readonly config: Readonly<Record<string, unknown>>;
  };
  readonly steps: number;
  /** The mode as run: an ensemble with handoff 1 is base-only. */
  readonly mode: GenerationMode;
  readonly requestedMode: GenerationMode;
  readonly handoff: number | null;
  readonly cutoff: number | null;
  readonly strength: number | null;
  /** The full N-step schedule both stages index into. */
  readonly schedule: { readonly timesteps: number[]; readonly sigmas: number[] | null };
  /** Scale of the base's initial noise (Euler: √(σmax² + 1) for "leading"). */
  readonly initNoiseSigma: number;
  readonly base: StagePlan | null;
  readonly refiner: StagePlan | null;
  readonly unetEvaluations: { readonly calls: number; readonly batchRows: number };
}

export function planGeneration(request: PlanRequest): GenerationPlan {
  const { mode, steps } = request;
  if (!GENERATION_MODES.includes(mode)) {
    throw new UserError(`unknown mode "${String(mode)}"`, `use one of ${GENERATION_MODES.join(', ')}`);
  }
  if (request.handoff !== undefined && mode !== 'ensemble') {
    throw new UserError(`handoff applies to the ensemble mode only (mode is ${mode})`);
  }
  if (request.strength !== undefined && mode !== 'sdedit' && mode !== 'refiner-only') {
    throw new UserError(`refine strength applies to the sdedit and refiner-only modes only (mode is ${mode})`);
  }
  const guidance = checkGuidance(request.guidance ?? SDXL_PIPELINE_DEFAULTS.guidanceScale, 'guidance');
  const refinerGuidance = checkGuidance(request.refinerGuidance ?? guidance, 'refiner guidance');

  const choice = resolveSchedulerChoice(request.scheduler, request.config ?? SDXL_SCHEDULER_CONFIG);
  const scheduler = createScheduler(choice.className, choice.config);
  scheduler.setTimesteps(steps);
  const timesteps = Array.from(scheduler.timesteps);
  const sigmas = scheduler.sigmas ? Array.from(scheduler.sigmas) : null;
  const trainSteps = Number(scheduler.config.num_train_timesteps);

  const stage = (
    model: 'base' | 'refiner',
    input: StagePlan['input'],
    beginIndex: number,
    count: number,
    stageGuidance: number,
  ): StagePlan => {
    const cfg = stageGuidance > 1;
    return {
      model,
      input,
      timesteps: timesteps.slice(beginIndex, beginIndex + count),
      sigmas: sigmas ? sigmas.slice(beginIndex, beginIndex + count + 1) : null,
      beginIndex,
      addsNoise: input === 'noised-image',
      guidance: stageGuidance,
      classifierFreeGuidance: cfg,
      unetCalls: count,
      unetBatchRows: count * (cfg ? 2 : 1),
    };
  };

  let effectiveMode = mode;
  let handoff: number | null = null;
  let cutoff: number | null = null;
  let strength: number | null = null;
  let base: StagePlan | null = null;
  let refiner: StagePlan | null = null;

  if (mode === 'ensemble') {
    handoff = request.handoff ?? SDXL_PIPELINE_DEFAULTS.handoff;
    cutoff = handoffCutoff(handoff, trainSteps);
    if (handoff === 1) {
      effectiveMode = 'base-only';
    } else {
      const split = ensembleSplit(timesteps, cutoff, scheduler.order);
      base = stage('base', 'noise', 0, split.baseSteps, guidance);
      refiner = stage('refiner', 'base-latents', split.refinerStartIndex, split.refinerSteps, refinerGuidance);
    }
  }
  if (mode === 'sdedit' || mode === 'refiner-only') {
    strength = request.strength ?? SDXL_PIPELINE_DEFAULTS.refineStrength;
    const split = sdeditSplit(steps, strength, scheduler.order);
    refiner = stage('refiner', 'noised-image', split.beginIndex, split.refinerSteps, refinerGuidance);
  }
  if (effectiveMode === 'base-only' || mode === 'sdedit') base = stage('base', 'noise', 0, timesteps.length, guidance);

  const stages = [base, refiner].filter((s): s is StagePlan => s !== null);
  return {
    scheduler: { name: choice.name, className: scheduler.className, order: scheduler.order, config: scheduler.config },
    steps,
    mode: effectiveMode,
    requestedMode: mode,
    handoff,
    cutoff,
    strength,
    schedule: { timesteps, sigmas },
    initNoiseSigma: scheduler.initNoiseSigma,
    base,
    refiner,
    unetEvaluations: {
      calls: stages.reduce((sum, s) => sum + s.unetCalls, 0),
      batchRows: stages.reduce((sum, s) => sum + s.unetBatchRows, 0),
    },
  };
}

function checkGuidance(value: number, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new UserError(`${name} must be a number ≥ 0, got ${value}`, 'SDXL uses 5.0; values ≤ 1 turn classifier-free guidance off');
  }
  return value;
}

/** A scheduler set up for one stage of a plan: a fresh instance at the stage's begin index. */
export function schedulerForStage(plan: GenerationPlan, stage: StagePlan): DiffusionScheduler {
  const scheduler = createScheduler(plan.scheduler.className, plan.scheduler.config);
  scheduler.setTimesteps(plan.steps);
  scheduler.setBeginIndex(stage.beginIndex);
  return scheduler;
}
