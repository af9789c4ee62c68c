/**
 * The determinism check at the end of `refinery run`: one stored unit is regenerated on its own (its
 * base run only as far as its branch needs, no shared trajectory), encoded exactly as the executor
 * stores it, and its sha256 compared with the stored image's. Same key ⇒ same bytes on the same
 * execution provider, so a mismatch means the pipeline or the provider is not deterministic (or
 * trajectory sharing changed the image). The result goes into `manifest.json` as `determinism`,
 * where the report's reproducibility section reads it.
 * @module
 */
import type { Unit } from '../experiment/types.js';
import type { RunStore } from '../store/store.js';
import { encodeStoredImage, unitLabel } from './executor.js';
import type { ImageGenerator } from './generator.js';
import { branchFor, trajectorySpecFor } from './planner.js';

export const DETERMINISM_METHOD =
  'regenerated alone (runBase with this branch only, then runRefiner: no shared trajectory), PNG-encoded as stored, sha256 compared';

export interface DeterminismCheck {
  unitKey: string;
  /** condition label, prompt id and seed of the unit, for readers */
  unit: string;
  imagePath: string;
  /** sha256 the store recorded for the image */
  expectedSha256: string;
  /** sha256 of the regenerated image; null when regeneration failed */
  actualSha256: string | null;
  identical: boolean;
  /** why regeneration produced no image */
  error?: string;
  provider: string;
  method: string;
  checkedAt: string;
  /** the shard folder the check ran in (set by merge) */
  shard?: string | null;
}

/** The determinism entry of a merged run: one check per shard that recorded one. */
export interface MergedDeterminism {
  identical: boolean;
  checks: DeterminismCheck[];
  /** shards without a check */
  unchecked: string[];
}

export interface DeterminismOptions {
  store: RunStore;
  /** the units of this run folder */
  units: readonly Unit[];
  generator: ImageGenerator;
  provider: string;
  /** model-major runs: release the base UNet before the refiner loads, so one UNet stays resident */
  releaseBaseBeforeRefiner?: boolean;
  now?: () => number;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * How much of the pipeline regenerating `unit` alone cross-checks (lower is more): 0 for a refiner
 * branch of a trajectory the run shared with other branches (sharing, the refiner and the base all
 * checked), 1 for another refiner branch, 2 for a base-only image.
 */
function checkCoverage(unit: Unit, unitsPerTrajectory: ReadonlyMap<string, number>): number {
  const branch = branchFor(unit.condition);
  const usesRefiner = branch.mode === 'sdedit' || (branch.mode === 'ensemble' && branch.handoff < 1);
  if (!usesRefiner) return 2;
  return (unitsPerTrajectory.get(unit.trajectoryKey) ?? 0) > 1 ? 0 : 1;
}

/**
 * The unit the check regenerates, chosen deterministically: among ok samples, the best-covering kind
 * (`checkCoverage`), then the smallest key. Null when no sample is ok.
 */
export function pickDeterminismUnit(store: RunStore, units: readonly Unit[]): { unit: Unit; imagePath: string; sha256: string } | null {
  const byKey = new Map(units.map((unit) => [unit.key, unit]));
  const unitsPerTrajectory = new Map<string, number>();
  for (const unit of units) unitsPerTrajectory.set(unit.trajectoryKey, (unitsPerTrajectory.get(unit.trajectoryKey) ?? 0) + 1);
  let best: { unit: Unit; imagePath: string; sha256: string; coverage: number } | null = null;
  // samples come in key order, so the first of each coverage is the smallest key
  for (const sample of store.samples('ok')) {
    const unit = byKey.get(sample.key);
    if (!unit || !sample.imagePath || !sample.imageSha256) continue;
    const coverage = checkCoverage(unit, unitsPerTrajectory);
    if (best === null || coverage < best.coverage) best = { unit, imagePath: sample.imagePath, sha256: sample.imageSha256, coverage };
    if (coverage === 0) break;
  }
  return best && { unit: best.unit, imagePath: best.imagePath, sha256: best.sha256 };
}

/** Regenerates one stored unit independently and compares bytes; never throws for a mismatch or a failed regeneration. */
export async function checkDeterminism(options: DeterminismOptions): Promise<DeterminismCheck | null> {
  const picked = pickDeterminismUnit(options.store, options.units);
  if (!picked) return null;
  const { unit } = picked;
  const spec = trajectorySpecFor(unit);
  const branch = branchFor(unit.condition);
  let actualSha256: string | null = null;
  let error: string | undefined;
  try {
    const stage = await options.generator.runBase(spec, [branch]);
    if (options.releaseBaseBeforeRefiner) await options.generator.releaseBase();
    const result = await options.generator.runRefiner(spec, stage, branch);
    if (result.image) actualSha256 = encodeStoredImage(result.image, result.pngTexts).sha256;
    else error = result.error ?? 'the pipeline returned no image and no error';
  } catch (caught) {
    error = errorMessage(caught);
  }
  return {
    unitKey: unit.key,
    unit: unitLabel(unit),
    imagePath: picked.imagePath,
    expectedSha256: picked.sha256,
    actualSha256,
    identical: actualSha256 === picked.sha256,
    ...(error !== undefined ? { error } : {}),
    provider: options.provider,
    method: DETERMINISM_METHOD,
    checkedAt: new Date((options.now ?? Date.now)()).toISOString(),
  };
}

/** One summary line; a mismatch starts with WARNING so it stands out (and survives --quiet). */
export function formatDeterminism(check: DeterminismCheck): string {
  const key = check.unitKey.slice(0, 12);
  if (check.identical) {
    return `Determinism check: unit ${key} (${check.unit}) regenerated alone gives the stored bytes (sha256 ${check.expectedSha256.slice(0, 12)}…, ${check.provider})`;
  }
  if (check.actualSha256 === null) {
    return `WARNING: determinism check could not regenerate unit ${key} (${check.unit}): ${check.error ?? 'no image'}; see manifest.json "determinism"`;
  }
  return (
    `WARNING: determinism check FAILED: unit ${key} (${check.unit}) regenerated alone on ${check.provider} gives sha256 ${check.actualSha256.slice(0, 12)}…, ` +
    `the stored image has ${check.expectedSha256.slice(0, 12)}…; the same key should give the same bytes on the same provider (see manifest.json "determinism")`
  );
}

/** Joins the checks of merged shards: identical only when every shard's check was. */
export function mergeDeterminism(shards: { shard: string | null; determinism: unknown }[]): MergedDeterminism | null {
  const checks: DeterminismCheck[] = [];
  const unchecked: string[] = [];
  for (const { shard, determinism } of shards) {
    if (isDeterminismCheck(determinism)) checks.push({ ...determinism, shard });
    else if (isMergedDeterminism(determinism)) checks.push(...determinism.checks);
    else unchecked.push(shard ?? 'unsharded');
  }
  if (checks.length === 0) return null;
  return { identical: checks.every((check) => check.identical), checks, unchecked };
}

function isDeterminismCheck(value: unknown): value is DeterminismCheck {
  return value !== null && typeof value === 'object' && typeof (value as DeterminismCheck).unitKey === 'string' && typeof (value as DeterminismCheck).identical === 'boolean';
}

function isMergedDeterminism(value: unknown): value is MergedDeterminism {
  return value !== null && typeof value === 'object' && Array.isArray((value as MergedDeterminism).checks) && typeof (value as MergedDeterminism).identical === 'boolean';
}
