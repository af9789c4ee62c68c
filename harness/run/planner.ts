/**
 * The work graph: units grouped into base trajectories (one `generate` call each, with all its
 * branches), UNet evaluation counts with and without that sharing, and deterministic shards that
 * keep every trajectory whole.
 * @module
 */
import { UserError } from '../../pipelines/errors.js';
import { planGeneration } from '../../pipelines/plan.js';
import { SDXL_SCHEDULER_CONFIG } from '../../pipelines/schedulers/sdxl-default-config.js';
import { canonicalJson } from '../experiment/keys.js';
import type { Condition, Unit } from '../experiment/types.js';
import type { Branch, TrajectorySpec } from './generator.js';

export interface PlannedUnit {
  unit: Unit;
  branch: Branch;
}

/** One base trajectory and the units that branch from it. */
export interface TrajectoryPlan {
  trajectoryKey: string;
  spec: TrajectorySpec;
  units: PlannedUnit[];
}

export function branchFor(condition: Condition): Branch {
  switch (condition.mode) {
    case 'base-only':
      return { mode: 'base-only' };
    case 'ensemble':
      if (condition.handoff === undefined) throw new Error(`condition ${condition.id}: ensemble without handoff`);
      return { mode: 'ensemble', handoff: condition.handoff };
    case 'sdedit':
      if (condition.strength === undefined) throw new Error(`condition ${condition.id}: sdedit without strength`);
      return { mode: 'sdedit', strength: condition.strength };
  }
}

export function trajectorySpecFor(unit: Unit): TrajectorySpec {
  const c = unit.condition;
  return {
    prompt: unit.prompt.text,
    negativePrompt: c.negativePrompt,
    seed: unit.seed,
    steps: c.steps,
    guidance: c.guidance,
    refinerGuidance: c.refinerGuidance,
    guidanceRescale: c.guidanceRescale,
    scheduler: c.scheduler,
    schedulerConfig: c.schedulerConfig,
    width: c.width,
    height: c.height,
    aestheticScore: c.aestheticScore,
    negativeAestheticScore: c.negativeAestheticScore,
  };
}

/**
 * Groups units by base trajectory. Units of one trajectory that disagree on a refiner-side setting
 * shared by a `generate` call (refiner guidance, aesthetic scores) go to separate groups. Order is
 * deterministic: by trajectory key, then by unit key.
 */
export function planTrajectories(units: readonly Unit[]): TrajectoryPlan[] {
  const groups = new Map<string, TrajectoryPlan>();
  for (const unit of units) {
    const spec = trajectorySpecFor(unit);
    const groupKey = `${unit.trajectoryKey}|${canonicalJson(spec)}`;
    let plan = groups.get(groupKey);
    if (!plan) {
      plan = { trajectoryKey: unit.trajectoryKey, spec, units: [] };
      groups.set(groupKey, plan);
    }
    plan.units.push({ unit, branch: branchFor(unit.condition) });
  }
  const plans = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, plan]) => plan);
  for (const plan of plans) plan.units.sort((a, b) => (a.unit.key < b.unit.key ? -1 : a.unit.key > b.unit.key ? 1 : 0));
  return plans;
}

/** Splits trajectories into chunks of at most `maxUnits` units (a trajectory is never split). */
export function chunkTrajectories(plans: readonly TrajectoryPlan[], maxUnits: number): TrajectoryPlan[][] {
  const chunks: TrajectoryPlan[][] = [];
  let current: TrajectoryPlan[] = [];
  let size = 0;
  for (const plan of plans) {
    if (current.length > 0 && size + plan.units.length > maxUnits) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(plan);
    size += plan.units.length;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

// ---- UNet evaluation counts ----

export type UnetCalls = { base: number; refiner: number };

/**
 * Counts UNet evaluations per stage the way the pipeline will run them (`planGeneration`: diffusers'
 * denoising_end / denoising_start and img2img splits, second-order schedulers included; one evaluation
 * per step, CFG batched into it). `modelSchedulerConfig` is the base model's scheduler_config.json
 * (default: SDXL's); a condition's overrides go on top. Results are cached per distinct setting.
 */
export function createUnetCallCounter(modelSchedulerConfig?: Record<string, unknown>): (condition: Condition) => UnetCalls {
  const cache = new Map<string, UnetCalls>();
  return (condition) => {
    const request = {
      scheduler: condition.scheduler,
      config: { ...(modelSchedulerConfig ?? SDXL_SCHEDULER_CONFIG), ...condition.schedulerConfig },
      steps: condition.steps,
      mode: condition.mode,
      ...(condition.mode === 'ensemble' ? { handoff: condition.handoff } : {}),
      ...(condition.mode === 'sdedit' ? { strength: condition.strength } : {}),
      guidance: condition.guidance,
      refinerGuidance: condition.refinerGuidance,
    };
    const id = canonicalJson(request);
    let calls = cache.get(id);
    if (!calls) {
      const plan = planGeneration(request);
      calls = { base: plan.base?.unetCalls ?? 0, refiner: plan.refiner?.unetCalls ?? 0 };
      cache.set(id, calls);
    }
    return calls;
  };
}

/** UNet evaluations of one unit run on its own (SDXL scheduler config under the condition's overrides). */
export function unetCallsFor(condition: Condition): UnetCalls {
  return createUnetCallCounter()(condition);
}

export interface EvaluationCounts {
  /** UNet evaluations when each trajectory is computed once and branched */
  shared: { base: number; refiner: number; total: number };
  /** UNet evaluations when every unit runs on its own */
  independent: { base: number; refiner: number; total: number };
}

/** Base evaluations a trajectory needs when shared: as far as its furthest branch goes. */
export function sharedBaseCalls(plan: TrajectoryPlan, count = createUnetCallCounter()): number {
  return Math.max(0, ...plan.units.map(({ unit }) => count(unit.condition).base));
}

export function countEvaluations(plans: readonly TrajectoryPlan[], count = createUnetCallCounter()): EvaluationCounts {
  let sharedBase = 0;
  let refiner = 0;
  let independentBase = 0;
  for (const plan of plans) {
    sharedBase += sharedBaseCalls(plan, count);
    for (const { unit } of plan.units) {
      const calls = count(unit.condition);
      independentBase += calls.base;
      refiner += calls.refiner;
    }
  }
  return {
    shared: { base: sharedBase, refiner, total: sharedBase + refiner },
    independent: { base: independentBase, refiner, total: independentBase + refiner },
  };
}

// ---- shards ----

export interface ShardSpec {
  /** 0-based */
  index: number;
  count: number;
}

/** Parses `i/N` (0 ≤ i < N), e.g. from `--shard 0/4` or a job array index. */
export function parseShard(text: string): ShardSpec {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!match) throw new UserError(`--shard: expected i/N with 0 ≤ i < N (e.g. 0/4), got "${text}"`);
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1 || index >= count) throw new UserError(`--shard: expected i/N with 0 ≤ i < N (e.g. 0/4), got "${text}"`);
  return { index, count };
}

export function shardLabel(shard: ShardSpec): string {
  return `${shard.index}/${shard.count}`;
}

export function shardFolderName(shard: ShardSpec): string {
  return `shard-${shard.index}-of-${shard.count}`;
}

/**
 * The units of one shard. Whole trajectories are dealt out, largest (most UNet evaluations) first, each
 * to the least-loaded shard (ties: lower index), so shards are balanced, every trajectory stays in one
 * shard, and every process computes the same assignment from the same units.
 */
export function shardUnits(units: readonly Unit[], shard: ShardSpec, count = createUnetCallCounter()): Unit[] {
  if (shard.count === 1) return [...units];
  const plans = planTrajectories(units);
  const byTrajectory = new Map<string, { cost: number; units: Unit[] }>();
  for (const plan of plans) {
    const entry = byTrajectory.get(plan.trajectoryKey) ?? { cost: 0, units: [] };
    entry.cost += sharedBaseCalls(plan, count) + plan.units.reduce((sum, { unit }) => sum + count(unit.condition).refiner, 0);
    entry.units.push(...plan.units.map(({ unit }) => unit));
    byTrajectory.set(plan.trajectoryKey, entry);
  }
  const ordered = [...byTrajectory.entries()].sort(([keyA, a], [keyB, b]) => b.cost - a.cost || (keyA < keyB ? -1 : keyA > keyB ? 1 : 0));
  const load = new Array<number>(shard.count).fill(0);
  const mine = new Set<string>();
  for (const [, entry] of ordered) {
    let target = 0;
    for (let i = 1; i < shard.count; i++) if (load[i] < load[target]) target = i;
    load[target] += entry.cost;
    if (target === shard.index) for (const unit of entry.units) mine.add(unit.key);
  }
  return units.filter((unit) => mine.has(unit.key));
}
