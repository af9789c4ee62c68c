/**
 * UNet batching across trajectories (`--batch N`, `run.batch`): trajectories that agree on every
 * setting the base UNet batch shares (steps, guidance, guidance rescale, scheduler + config, size)
 * run their base halves together, N at a time; prompts, negative prompts and seeds may differ (each
 * trajectory keeps its own conditioning rows, seeded generator and scheduler state).
 * @module
 */
import { canonicalJson } from '../experiment/keys.js';
import type { TrajectorySpec } from './generator.js';
import type { PlannedUnit, TrajectoryPlan } from './planner.js';

/** One base trajectory to run in a UNet batch, with the units its branches make. */
export interface BaseBatchItem {
  plan: TrajectoryPlan;
  /** all units of the plan, or (sharing off) just one: that branch then runs its own base */
  units: PlannedUnit[];
}

/** Trajectories with equal keys can share a base UNet batch. */
export function unetBatchKey(spec: TrajectorySpec): string {
  return canonicalJson({
    steps: spec.steps,
    guidance: spec.guidance,
    guidanceRescale: spec.guidanceRescale ?? 0,
    scheduler: spec.scheduler,
    schedulerConfig: spec.schedulerConfig ?? {},
    width: spec.width,
    height: spec.height,
  });
}

/** The base runs of `plans`: one per trajectory, or one per unit where the trajectory may not be shared. */
export function baseBatchItems(plans: readonly TrajectoryPlan[], canShare: (plan: TrajectoryPlan) => boolean): BaseBatchItem[] {
  return plans.flatMap((plan) => (canShare(plan) ? [{ plan, units: plan.units }] : plan.units.map((planned) => ({ plan, units: [planned] }))));
}

/**
 * Groups items into batches of at most `size` items with equal `unetBatchKey`s. Deterministic: items
 * keep their order inside a batch, and batches are ordered by their first item.
 */
export function groupUnetBatches(items: readonly BaseBatchItem[], size: number): BaseBatchItem[][] {
  if (!Number.isInteger(size) || size < 1) throw new Error(`UNet batch size must be a whole number ≥ 1, got ${size}`);
  const batches: BaseBatchItem[][] = [];
  const open = new Map<string, BaseBatchItem[]>();
  for (const item of items) {
    const key = unetBatchKey(item.plan.spec);
    let batch = open.get(key);
    if (!batch) {
      batch = [];
      open.set(key, batch);
      batches.push(batch);
    }
    batch.push(item);
    if (batch.length === size) open.delete(key);
  }
  return batches;
}

/** What a generator's batched calls take for one item. */
export function batchRequest(item: BaseBatchItem): { spec: TrajectorySpec; branches: PlannedUnit['branch'][] } {
  return { spec: item.plan.spec, branches: item.units.map((planned) => planned.branch) };
}
