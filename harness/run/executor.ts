/**
 * The executor loop: runs the units of a run folder that the store does not have yet, trajectory by
 * trajectory, writes each image atomically before its sample row, records failures without stopping
 * (unless fail-fast), and scores stored images through the `Scorer` interface.
 *
 * Two orders:
 * - shared: one `generate(spec, branches)` per trajectory, both UNets resident;
 * - model-major (low memory): per chunk, `runBase` for every trajectory (stages persisted under
 *   `stages/`), `releaseBase()`, then `runRefiner` for every branch, `releaseRefiner()`; at most one
 *   UNet is resident, and a crash between the phases keeps the persisted base work.
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { decodePng, encodePng, encodePngAsync, type RgbImage } from '../../pipelines/image/png.js';
import type { ScorableSample, Scorer, ScoringContext } from '../../probes/types.js';
import { contentKey } from '../experiment/keys.js';
import type { Unit } from '../experiment/types.js';
import type { RunStore, SampleRow, UnitRow } from '../store/store.js';
import { writeFileAtomic } from './atomic.js';
import { branchLabel, type Branch, type BranchResult, type ImageGenerator } from './generator.js';
import { peakRssBytes } from './manifest.js';
import { chunkTrajectories, planTrajectories, type PlannedUnit, type TrajectoryPlan } from './planner.js';
import { baseBatchItems, batchRequest, groupUnetBatches, type BaseBatchItem } from './unet-batches.js';
import type { Progress } from './progress.js';
import { imageRelativePath, scorableSample, type RunPaths } from './run-folder.js';

export type ExecutionOrder = 'shared' | 'model-major';

/** Model-major phases hold at least this many units, so models are not swapped for every trajectory. */
export const MODEL_MAJOR_MIN_CHUNK = 32;

export interface ExecuteOptions {
  paths: RunPaths;
  store: RunStore;
  progress: Progress;
  /** the units of this run (or shard); those already in the store are skipped */
  units: readonly Unit[];
  /** "i/N" when running a shard, recorded with each unit */
  shard: string | null;
  generator: ImageGenerator;
  scorers: readonly Scorer[];
  /**
   * trajectories whose base halves share a UNet batch (when the generator can batch and their settings
   * agree), and images handed to scorers together; model-major phases hold at least MODEL_MAJOR_MIN_CHUNK units
   */
  batch: number;
  order: ExecutionOrder;
  failFast: boolean;
  /** run units whose stored sample failed again (default: failed units count as done) */
  retryFailed?: boolean;
  /** does a scheduler let branches share a base trajectory exactly? (default: yes) */
  canShareTrajectory?: (plan: TrajectoryPlan) => boolean;
  now?: () => number;
}

export interface ExecuteResult {
  order: ExecutionOrder;
  /** units of this run (or shard) */
  total: number;
  /** already in the store when the session started */
  skipped: number;
  ok: number;
  failed: number;
  /** scorer calls that threw (their samples stay unscored and are retried on the next run) */
  scoreFailures: number;
  /** true when --fail-fast stopped the run at a failure */
  stoppedEarly: boolean;
  seconds: number;
  /** UNet evaluations this session actually ran, as the generator counted them */
  unetCalls: { base: number; refiner: number };
  /** mean seconds per unit of each stage the generator reported */
  stageMeans: Record<string, number>;
  /** total seconds each scorer spent in this session */
  scoreSeconds: Record<string, number>;
  peakRssBytes: number;
}

interface StoredImage {
  unit: Unit;
  image: RgbImage;
}

function unitRow(unit: Unit, shard: string | null): UnitRow {
  return {
    key: unit.key,
    conditionId: unit.condition.id,
    condition: unit.condition,
    prompt: unit.prompt,
    seed: unit.seed,
    trajectoryKey: unit.trajectoryKey,
    shard,
  };
}

export function unitLabel(unit: Unit): string {
  return `${unit.condition.label || unit.condition.id} ${unit.prompt.id} seed=${unit.seed}`;
}

/** The PNG bytes the run folder stores for an image, and their sha256 (the sample's `imageSha256`). */
export function encodeStoredImage(image: RgbImage, pngTexts: BranchResult['pngTexts']): { png: Uint8Array; sha256: string } {
  const png = encodePng(image, pngTexts);
  return { png, sha256: createHash('sha256').update(png).digest('hex') };
}

/** An image encoded ahead of storing, with the seconds its own encoding took. */
interface EncodedImage {
  png: Uint8Array;
  sha256: string;
  seconds: number;
}

/**
 * `encodeStoredImage` for every image of a trajectory at once: the compression runs on libuv's worker
 * threads, so the branches' PNGs encode in parallel (same bytes). null where a result has no image.
 */
async function encodeStoredImages(results: readonly BranchResult[], now: () => number): Promise<(EncodedImage | null)[]> {
  return Promise.all(
    results.map(async (result) => {
      if (!result.image) return null;
      const started = now();
      const png = await encodePngAsync(result.image, result.pngTexts);
      return { png, sha256: createHash('sha256').update(png).digest('hex'), seconds: (now() - started) / 1000 };
    }),
  );
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class StopRun extends Error {}

/** Base evaluations a trajectory ran: the furthest any branch went (shared), plus every refiner call. */
function trajectoryUnetCalls(results: BranchResult[]): { base: number; refiner: number } {
  return {
    base: Math.max(0, ...results.map((result) => result.unetCalls.base)),
    refiner: results.reduce((sum, result) => sum + result.unetCalls.refiner, 0),
  };
}

export class Executor {
  private readonly now: () => number;
  private ok = 0;
  private failed = 0;
  private scoreFailures = 0;
  private stoppedEarly = false;
  private readonly unetCalls = { base: 0, refiner: 0 };
  private readonly scoreSeconds: Record<string, number> = {};
  /** samples a scorer threw on in this session: not retried until the next run */
  private readonly scoreFailedKeys = new Map<string, Set<string>>();

  constructor(private readonly options: ExecuteOptions) {
    this.now = options.now ?? Date.now;
  }

  async run(): Promise<ExecuteResult> {
    const { store, units, progress, scorers } = this.options;
    const startedAt = this.now();
    store.addUnits(units.map((unit) => unitRow(unit, this.options.shard)));
    const pendingKeys = new Set(store.pendingUnits({ retryFailed: this.options.retryFailed }).map((row) => row.key));
    const pending = units.filter((unit) => pendingKeys.has(unit.key));
    const skipped = units.length - pending.length;
    for (const scorer of scorers) store.recordMetrics(scorer, scorer.metrics);

    progress.start(pending.length, skipped);
    try {
      // samples stored by an earlier, interrupted session but not yet scored
      await this.scorePending(new Map());
      const plans = planTrajectories(pending);
      if (this.options.order === 'shared' && this.unetBatch > 1) {
        // each UNet batch is a chunk: its images are scored before the next batch runs
        for (const group of groupUnetBatches(baseBatchItems(plans, (plan) => this.canShare(plan)), this.unetBatch)) {
          const images = new Map<string, StoredImage>();
          await this.runUnetBatch(group, images);
          await this.scorePending(images);
        }
      } else {
        const chunkSize = this.options.order === 'model-major' ? Math.max(this.options.batch, MODEL_MAJOR_MIN_CHUNK) : Math.max(this.options.batch, 1);
        for (const chunk of chunkTrajectories(plans, chunkSize)) {
          const images = new Map<string, StoredImage>();
          if (this.options.order === 'model-major') await this.runModelMajor(chunk, images);
          else await this.runShared(chunk, images);
          await this.scorePending(images);
        }
      }
    } catch (error) {
      if (!(error instanceof StopRun)) throw error;
      this.stoppedEarly = true;
    } finally {
      progress.finish();
    }
    return {
      order: this.options.order,
      total: units.length,
      skipped,
      ok: this.ok,
      failed: this.failed,
      scoreFailures: this.scoreFailures,
      stoppedEarly: this.stoppedEarly,
      seconds: (this.now() - startedAt) / 1000,
      unetCalls: { ...this.unetCalls },
      stageMeans: progress.stageMeans(),
      scoreSeconds: { ...this.scoreSeconds },
      peakRssBytes: peakRssBytes(),
    };
  }

  // ---- shared order ----

  private async runShared(chunk: TrajectoryPlan[], images: Map<string, StoredImage>): Promise<void> {
    const { generator, store } = this.options;
    for (const plan of chunk) {
      const branches = plan.units.map((planned) => planned.branch);
      const started = this.now();
      let results: BranchResult[];
      const calls = { base: 0, refiner: 0 };
      try {
        // one call per trajectory, or (sharing off) one per branch, each running its own base
        const groups = (this.options.canShareTrajectory?.(plan) ?? true) ? [branches] : branches.map((branch) => [branch]);
        results = [];
        for (const group of groups) {
          const groupResults = await generator.generate(plan.spec, group);
          const groupCalls = trajectoryUnetCalls(groupResults);
          calls.base += groupCalls.base;
          calls.refiner += groupCalls.refiner;
          results.push(...groupResults);
        }
        checkResults(plan, results);
      } catch (error) {
        this.failPlan(plan.units, error);
        continue;
      }
      const seconds = (this.now() - started) / 1000;
      store.recordTiming('generate', seconds, plan.trajectoryKey);
      store.addGenerationPace(seconds, calls.base + calls.refiner);
      this.unetCalls.base += calls.base;
      this.unetCalls.refiner += calls.refiner;
      await this.storeResults(plan.units, results, images);
    }
  }

  // ---- UNet batches across trajectories (--batch N) ----

  /** Trajectories per base UNet batch: `batch` when the generator can batch them, else 1. */
  private get unetBatch(): number {
    const { generator, order, batch } = this.options;
    const supported = order === 'model-major' ? generator.runBaseBatch !== undefined : generator.generateBatch !== undefined;
    return supported ? Math.max(batch, 1) : 1;
  }

  private canShare(plan: TrajectoryPlan): boolean {
    return this.options.canShareTrajectory?.(plan) ?? true;
  }

  /** Shared order: the base halves of `group` in one UNet batch, then every branch of each. */
  private async runUnetBatch(group: BaseBatchItem[], images: Map<string, StoredImage>): Promise<void> {
    const { generator, store } = this.options;
    if (group.length === 1) return this.runAlone(group[0], images);
    const started = this.now();
    let results: BranchResult[][];
    try {
      results = await generator.generateBatch!(group.map(batchRequest));
      if (results.length !== group.length) throw new Error(`the generator returned ${results.length} trajectories for a batch of ${group.length}`);
      group.forEach((item, i) => checkResults({ ...item.plan, units: item.units }, results[i]));
    } catch (error) {
      // one trajectory's failure must not fail its neighbours: each runs alone and keeps its own error
      this.options.progress.log(`a UNet batch of ${group.length} trajectories failed (${errorMessage(error)}); running them one at a time`);
      for (const item of group) await this.runAlone(item, images);
      return;
    }
    const seconds = (this.now() - started) / 1000;
    const calls = { base: 0, refiner: 0 };
    for (const [i, item] of group.entries()) {
      const itemCalls = trajectoryUnetCalls(results[i]);
      calls.base += itemCalls.base;
      calls.refiner += itemCalls.refiner;
      store.recordTiming('generate', seconds / group.length, item.plan.trajectoryKey);
    }
    store.addGenerationPace(seconds, calls.base + calls.refiner);
    this.unetCalls.base += calls.base;
    this.unetCalls.refiner += calls.refiner;
    for (const [i, item] of group.entries()) await this.storeResults(item.units, results[i], images);
  }

  private async runAlone(item: BaseBatchItem, images: Map<string, StoredImage>): Promise<void> {
    const { generator, store } = this.options;
    const started = this.now();
    let results: BranchResult[];
    try {
      results = await generator.generate(item.plan.spec, item.units.map((planned) => planned.branch));
      checkResults({ ...item.plan, units: item.units }, results);
    } catch (error) {
      this.failPlan(item.units, error);
      return;
    }
    const seconds = (this.now() - started) / 1000;
    const calls = trajectoryUnetCalls(results);
    store.recordTiming('generate', seconds, item.plan.trajectoryKey);
    store.addGenerationPace(seconds, calls.base + calls.refiner);
    this.unetCalls.base += calls.base;
    this.unetCalls.refiner += calls.refiner;
    await this.storeResults(item.units, results, images);
  }

  // ---- model-major order ----

  private stagePath(plan: TrajectoryPlan): string {
    return join(this.options.paths.stages, `${contentKey({ trajectory: plan.trajectoryKey, spec: plan.spec as unknown as Record<string, unknown> })}.stage`);
  }

  /** A persisted stage if it exists, is readable and covers every branch we need; else null. */
  private loadStage(plan: TrajectoryPlan): unknown | null {
    const path = this.stagePath(plan);
    if (!existsSync(path)) return null;
    try {
      const saved = deserialize(readFileSync(path)) as { branches: string[]; stage: unknown };
      const covered = new Set(saved.branches);
      return plan.units.every((planned) => covered.has(branchLabel(planned.branch))) ? saved.stage : null;
    } catch {
      return null;
    }
  }

  private async runModelMajor(chunk: TrajectoryPlan[], images: Map<string, StoredImage>): Promise<void> {
    const { generator, store } = this.options;
    const baseFailed = new Set<TrajectoryPlan>();
    let chunkCalls = 0;
    const phaseStarted = this.now();
    const todo = chunk.filter((plan) => this.loadStage(plan) === null);
    for (const group of groupUnetBatches(baseBatchItems(todo, () => true), this.unetBatch)) {
      const plans = group.map((item) => item.plan);
      if (plans.length > 1 && (await this.runBaseBatch(plans))) continue;
      for (const plan of plans) await this.runBaseAlone(plan, baseFailed);
    }
    if (todo.length > 0) await generator.releaseBase();
    store.recordTiming('base-phase', (this.now() - phaseStarted) / 1000);

    const refinerStarted = this.now();
    for (const plan of chunk) {
      if (baseFailed.has(plan)) continue;
      const stage = this.loadStage(plan);
      if (stage === null) {
        this.failPlan(plan.units, new Error(`the persisted base stage ${this.stagePath(plan)} is missing or unreadable`));
        continue;
      }
      const results: BranchResult[] = [];
      for (const planned of plan.units) {
        const started = this.now();
        let result: BranchResult;
        try {
          result = await generator.runRefiner(plan.spec, stage, planned.branch);
          checkResults({ ...plan, units: [planned] }, [result]);
        } catch (error) {
          this.failPlan([planned], error);
          continue;
        }
        store.recordTiming('refiner', (this.now() - started) / 1000, plan.trajectoryKey);
        results.push(result);
        this.storeResult(planned, result, images);
      }
      const calls = trajectoryUnetCalls(results);
      chunkCalls += calls.base + calls.refiner;
      this.unetCalls.base += calls.base;
      this.unetCalls.refiner += calls.refiner;
      rmSync(this.stagePath(plan), { force: true });
    }
    await generator.releaseRefiner();
    const seconds = (this.now() - phaseStarted) / 1000;
    store.recordTiming('refiner-phase', (this.now() - refinerStarted) / 1000);
    if (chunkCalls > 0) store.addGenerationPace(seconds, chunkCalls);
  }

  /** Persists the base stages of `plans` run in one UNet batch; false (nothing failed yet) when the batch call threw. */
  private async runBaseBatch(plans: TrajectoryPlan[]): Promise<boolean> {
    const { generator, store } = this.options;
    const started = this.now();
    try {
      const requests = plans.map((plan) => ({ spec: plan.spec, branches: plan.units.map((planned) => planned.branch) }));
      const stages = await generator.runBaseBatch!(requests);
      if (stages.length !== plans.length) throw new Error(`the generator returned ${stages.length} stages for a batch of ${plans.length}`);
      plans.forEach((plan, i) => writeFileAtomic(this.stagePath(plan), serialize({ branches: requests[i].branches.map(branchLabel), stage: stages[i] })));
    } catch (error) {
      this.options.progress.log(`a UNet batch of ${plans.length} base trajectories failed (${errorMessage(error)}); running them one at a time`);
      return false;
    }
    const seconds = (this.now() - started) / 1000;
    for (const plan of plans) store.recordTiming('base', seconds / plans.length, plan.trajectoryKey);
    return true;
  }

  private async runBaseAlone(plan: TrajectoryPlan, baseFailed: Set<TrajectoryPlan>): Promise<void> {
    const { generator, store } = this.options;
    const started = this.now();
    try {
      const branches = plan.units.map((planned) => planned.branch);
      const stage = await generator.runBase(plan.spec, branches);
      writeFileAtomic(this.stagePath(plan), serialize({ branches: branches.map(branchLabel), stage }));
    } catch (error) {
      baseFailed.add(plan);
      this.failPlan(plan.units, error);
      return;
    }
    store.recordTiming('base', (this.now() - started) / 1000, plan.trajectoryKey);
  }

  // ---- outcomes ----

  /** `storeResult` for the units of one trajectory, their PNGs encoded in parallel first. */
  private async storeResults(units: readonly PlannedUnit[], results: readonly BranchResult[], images: Map<string, StoredImage>): Promise<void> {
    const encoded = await encodeStoredImages(results, this.now);
    units.forEach((planned, i) => this.storeResult(planned, results[i], images, encoded[i] ?? undefined));
  }

  private storeResult(planned: PlannedUnit, result: BranchResult, images: Map<string, StoredImage>, encoded?: EncodedImage): void {
    const { unit } = planned;
    const { paths, store, progress } = this.options;
    const timings = { ...result.timings };
    let sample: SampleRow;
    if (result.image) {
      const started = this.now();
      const { png, sha256 } = encoded ?? encodeStoredImage(result.image, result.pngTexts);
      const relative = imageRelativePath(unit.key);
      writeFileAtomic(join(paths.dir, relative), png);
      timings.write = (encoded?.seconds ?? 0) + (this.now() - started) / 1000;
      sample = {
        key: unit.key,
        imagePath: relative,
        imageSha256: sha256,
        status: 'ok',
        error: null,
        timings,
        unetCalls: result.unetCalls,
        createdAt: new Date(this.now()).toISOString(),
      };
    } else {
      sample = {
        key: unit.key,
        imagePath: null,
        imageSha256: null,
        status: 'failed',
        error: result.error ?? 'the pipeline returned no image and no error',
        timings,
        unetCalls: result.unetCalls,
        createdAt: new Date(this.now()).toISOString(),
      };
    }
    store.recordSample(sample);
    if (sample.status === 'ok') {
      this.ok += 1;
      images.set(unit.key, { unit, image: result.image! });
    } else {
      this.failed += 1;
    }
    progress.unit({ key: unit.key, status: sample.status, label: unitLabel(unit), error: sample.error, timings });
    if (sample.status === 'failed' && this.options.failFast) {
      progress.log(`stopping at the first failure (--fail-fast): ${unitLabel(unit)}: ${sample.error}`);
      throw new StopRun();
    }
  }

  private failPlan(units: PlannedUnit[], error: unknown): void {
    const message = errorMessage(error);
    if (error instanceof Error && error.stack) this.options.progress.log(`generation failed: ${error.stack}`);
    for (const planned of units) {
      this.storeResult(planned, { branch: planned.branch, image: null, error: message, pngTexts: [], timings: {}, unetCalls: { base: 0, refiner: 0 } }, new Map());
    }
  }

  // ---- scoring ----

  /** Scores every ok sample each scorer has not scored yet, `batch` samples per call. */
  private async scorePending(images: Map<string, StoredImage>): Promise<void> {
    const { scorers, store, paths, progress } = this.options;
    if (scorers.length === 0) return;
    const context: ScoringContext = {
      loadImage: async (sample) => images.get(sample.key)?.image ?? decodePng(readFileSync(sample.imagePath), sample.imagePath).image,
      log: (message) => progress.log(message),
    };
    const batch = Math.max(this.options.batch, 1);
    for (const scorer of scorers) {
      const failedKeys = this.scoreFailedKeys.get(scorer.id) ?? new Set<string>();
      this.scoreFailedKeys.set(scorer.id, failedKeys);
      const todo = store.unscoredSamples(scorer).filter(({ sample }) => !failedKeys.has(sample.key));
      for (let i = 0; i < todo.length; i += batch) {
        const slice = todo.slice(i, i + batch);
        const samples: ScorableSample[] = slice.map(({ unit, sample }) => scorableSample(paths.dir, unit, sample));
        const applicable = samples.filter((sample) => scorer.appliesTo?.(sample) ?? true);
        const started = this.now();
        try {
          const records = applicable.length > 0 ? await scorer.score(applicable, context) : [];
          store.recordScores(scorer, samples.map((sample) => sample.key), records);
        } catch (error) {
          this.scoreFailures += 1;
          for (const sample of samples) failedKeys.add(sample.key);
          progress.log(`scorer ${scorer.id} failed on ${samples.length} sample(s); they stay unscored and are retried on the next run: ${errorMessage(error)}`);
          if (this.options.failFast) throw new StopRun();
          continue;
        }
        const seconds = (this.now() - started) / 1000;
        this.scoreSeconds[scorer.id] = (this.scoreSeconds[scorer.id] ?? 0) + seconds;
        store.recordTiming(`score:${scorer.id}`, seconds);
      }
    }
  }
}

function checkResults(plan: TrajectoryPlan, results: BranchResult[]): void {
  if (results.length !== plan.units.length) {
    throw new Error(`the generator returned ${results.length} result(s) for ${plan.units.length} branch(es)`);
  }
  plan.units.forEach((planned: PlannedUnit, i) => {
    const expected: Branch = planned.branch;
    if (branchLabel(results[i].branch) !== branchLabel(expected)) {
      throw new Error(`the generator returned branch ${branchLabel(results[i].branch)} where ${branchLabel(expected)} was asked`);
    }
  });
}

/** Runs the pending units of a run folder. */
export function execute(options: ExecuteOptions): Promise<ExecuteResult> {
  return new Executor(options).run();
}
