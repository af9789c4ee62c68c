/** Hand-built units and a fake generator for executor tests (no ONNX models involved). */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expandUnits, loadExperimentOrThrow } from '../../harness/run/dependencies.js';
import type { RunDependencies } from '../../harness/run/run-experiment.js';
import { canonicalJson, trajectoryKey, unitKey } from '../../harness/experiment/keys.js';
import type { Condition, ConditionMode, Unit } from '../../harness/experiment/types.js';
import type { Branch, BranchResult, ImageGenerator, TrajectorySpec } from '../../harness/run/generator.js';
import type { ScorableSample, Scorer, ScoreRecord } from '../../probes/types.js';
import { afterEach, beforeEach } from 'vitest';
import type { ExecuteOptions } from '../../harness/run/executor.js';
import { Progress } from '../../harness/run/progress.js';
import { ensureRunFolders, runPaths, type RunPaths } from '../../harness/run/run-folder.js';
import { RunStore } from '../../harness/store/store.js';

export type ModeInput = 'base-only' | { handoff: number } | { strength: number };

export function condition(mode: ModeInput, overrides: Partial<Condition> = {}): Condition {
  const kind: ConditionMode = mode === 'base-only' ? 'base-only' : 'handoff' in mode ? 'ensemble' : 'sdedit';
  const label = mode === 'base-only' ? 'base-only' : 'handoff' in mode ? `handoff=${mode.handoff}` : `strength=${mode.strength}`;
  return {
    id: `mode=${kind},${label},steps=8`,
    label,
    mode: kind,
    ...(mode !== 'base-only' && 'handoff' in mode ? { handoff: mode.handoff } : {}),
    ...(mode !== 'base-only' && 'strength' in mode ? { strength: mode.strength } : {}),
    steps: 8,
    guidance: 5,
    refinerGuidance: 5,
    guidanceRescale: 0,
    scheduler: 'euler',
    schedulerConfig: {},
    width: 8,
    height: 8,
    negativePrompt: null,
    aestheticScore: 6,
    negativeAestheticScore: 2.5,
    ...overrides,
  };
}

export function makeUnits(prompts: string[], seeds: number[], modes: ModeInput[]): Unit[] {
  const models = { base: 'base-hash', refiner: 'refiner-hash' };
  const units: Unit[] = [];
  for (const [p, text] of prompts.entries()) {
    for (const seed of seeds) {
      for (const mode of modes) {
        const c = condition(mode);
        const input = { condition: c, promptText: text, seed, models, schedulerConfigs: { base: {}, refiner: {} } };
        units.push({
          key: unitKey(input),
          condition: c,
          prompt: { id: `inline/${String(p).padStart(4, '0')}`, text, suite: 'inline', category: 'test' },
          seed,
          trajectoryKey: trajectoryKey(input),
        });
      }
    }
  }
  return units;
}

function pixelsFor(spec: TrajectorySpec, branch: Branch): Uint8Array {
  const out = new Uint8Array(spec.width * spec.height * 3);
  let block = createHash('sha256').update(canonicalJson({ spec, branch })).digest();
  for (let i = 0; i < out.length; i++) {
    if (i % 32 === 0 && i > 0) block = createHash('sha256').update(block).digest();
    out[i] = block[i % 32];
  }
  return out;
}

function baseSteps(spec: TrajectorySpec, branch: Branch): number {
  return branch.mode === 'ensemble' ? Math.round(spec.steps * branch.handoff) : spec.steps;
}

function refinerSteps(spec: TrajectorySpec, branch: Branch): number {
  if (branch.mode === 'ensemble') return spec.steps - Math.round(spec.steps * branch.handoff);
  if (branch.mode === 'sdedit') return Math.floor(spec.steps * branch.strength);
  return 0;
}

export interface FakeStage {
  prompt: string;
  latents: Float32Array;
}

/**
 * Deterministic pixels from (spec, branch). Prompts containing "NaN" give a null image, "THROW" makes
 * the call throw. Tracks which UNets are resident to check model-major order.
 */
export class FakeGenerator implements ImageGenerator<FakeStage> {
  readonly calls = { generate: 0, runBase: 0, runRefiner: 0, releaseBase: 0, releaseRefiner: 0 };
  readonly resident = new Set<'base' | 'refiner'>();
  maxResident = 0;
  constructor(private readonly hooks: { onGenerate?: () => void | Promise<void>; onReleaseBase?: () => void } = {}) {}

  private load(model: 'base' | 'refiner'): void {
    this.resident.add(model);
    this.maxResident = Math.max(this.maxResident, this.resident.size);
  }

  private result(spec: TrajectorySpec, branch: Branch): BranchResult {
    const unetCalls = { base: baseSteps(spec, branch), refiner: refinerSteps(spec, branch) };
    if (spec.prompt.includes('NaN')) return { branch, image: null, error: 'NaN in the decoded image', pngTexts: [], timings: { total: 0.01 }, unetCalls };
    return {
      branch,
      image: { width: spec.width, height: spec.height, data: pixelsFor(spec, branch) },
      pngTexts: [{ keyword: 'prompt', text: spec.prompt }],
      timings: { base: 0.01, refiner: 0.01, total: 0.02 },
      unetCalls,
    };
  }

  async generate(spec: TrajectorySpec, branches: Branch[]): Promise<BranchResult[]> {
    this.calls.generate += 1;
    await this.hooks.onGenerate?.();
    if (spec.prompt.includes('THROW')) throw new Error('session.run failed: out of memory');
    this.load('base');
    if (branches.some((branch) => branch.mode !== 'base-only')) this.load('refiner');
    return branches.map((branch) => this.result(spec, branch));
  }

  async runBase(spec: TrajectorySpec, _branches: Branch[]): Promise<FakeStage> {
    this.calls.runBase += 1;
    if (spec.prompt.includes('THROW')) throw new Error('session.run failed: out of memory');
    this.load('base');
    return { prompt: spec.prompt, latents: new Float32Array([spec.seed, 0.5, -1]) };
  }

  async runRefiner(spec: TrajectorySpec, stage: FakeStage, branch: Branch): Promise<BranchResult> {
    this.calls.runRefiner += 1;
    if (!(stage.latents instanceof Float32Array) || stage.prompt !== spec.prompt) throw new Error('stage did not survive persistence');
    if (branch.mode !== 'base-only') this.load('refiner');
    return this.result(spec, branch);
  }

  async releaseBase(): Promise<void> {
    this.calls.releaseBase += 1;
    this.hooks.onReleaseBase?.();
    this.resident.delete('base');
  }

  async releaseRefiner(): Promise<void> {
    this.calls.releaseRefiner += 1;
    this.resident.delete('refiner');
  }

  async dispose(): Promise<void> {
    this.resident.clear();
  }

  describe(): unknown {
    return { kind: 'fake' };
  }
}

/** A scorer that scores the mean pixel value; applies only to prompts without "skip-score". */
export class FakeScorer implements Scorer {
  readonly id = 'fake-mean';
  readonly version = '1';
  readonly description = 'mean pixel value (test only)';
  readonly metrics = [{ name: 'mean_pixel', description: 'mean pixel value', higherIsBetter: null, range: [0, 255] as [number, number], kind: 'continuous' as const }];
  calls = 0;
  scored: string[] = [];
  failNext = false;

  appliesTo(sample: ScorableSample): boolean {
    return !sample.prompt.text.includes('skip-score');
  }

  async score(samples: ScorableSample[], context: { loadImage(sample: ScorableSample): Promise<{ data: Uint8Array }> }): Promise<ScoreRecord[]> {
    this.calls += 1;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('scorer model crashed');
    }
    const records: ScoreRecord[] = [];
    for (const sample of samples) {
      const image = await context.loadImage(sample);
      const mean = image.data.reduce((a, b) => a + b, 0) / image.data.length;
      this.scored.push(sample.key);
      records.push({ sampleKey: sample.key, scorer: this.id, metric: 'mean_pixel', value: mean });
    }
    return records;
  }
}

/** Real experiment loading and expansion; a fake pipeline (and optionally fake scorers). */
export function fakeDependencies(options: { generator?: () => FakeGenerator; scorers?: () => Scorer[] } = {}): RunDependencies {
  return {
    loadExperiment: loadExperimentOrThrow,
    openGenerator: async () => ({
      generator: (options.generator ?? (() => new FakeGenerator()))(),
      modelHashes: { base: 'fake-base', refiner: 'fake-refiner' },
      modelFiles: { base: { 'unet/model.onnx': 'fake' } },
      modelBytes: 1024,
      executionProvider: 'cpu',
    }),
    expand: expandUnits,
    createScorers: async () => (options.scorers ?? (() => []))(),
  };
}

/** A sink that keeps what was written. */
export function collectingSink(): { write(text: string): void; text(): string; lines(): string[] } {
  const chunks: string[] = [];
  return {
    write: (text: string) => void chunks.push(text),
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter((line) => line.length > 0),
  };
}

/** Writes a small experiment file (tiny models, inline prompts) and returns its path. */
export function writeExperiment(dir: string, body: { prompts?: string[]; seeds?: number[]; sweep?: string; name?: string; extra?: string } = {}): string {
  const prompts = body.prompts ?? ['a red cube left of a blue ball', 'a cat above a dog', 'a green cup'];
  const yaml = [
    `name: ${body.name ?? 'fake-run'}`,
    'models:',
    '  base: tiny',
    '  refiner: tiny',
    'prompts:',
    '  - inline:',
    ...prompts.map((p) => `      - ${JSON.stringify(p)}`),
    `seeds: ${JSON.stringify(body.seeds ?? [1, 2])}`,
    'generation:',
    '  steps: 8',
    '  width: 64',
    '  height: 64',
    'sweep:',
    body.sweep ?? '  mode: [base-only, {handoff: 0.8}, {handoff: 0.6}, {strength: 0.3}]',
    body.extra ?? '',
  ].join('\n');
  const file = join(dir, `${body.name ?? 'fake-run'}.yaml`);
  writeFileSync(file, `${yaml}\n`);
  return file;
}

/** The repository root, and the cache folder tests share for the generated tiny models. */
export const repoRoot = resolve(import.meta.dirname, '../..');
export const testPlaces = { cacheDir: join(repoRoot, '.cache', 'refinery') };

/**
 * A fresh run folder and store per test (vitest hooks registered in the calling describe), and
 * `options()` for `execute` with a fake generator writing its progress into `lines`.
 */
export function executorFixture(prefix: string, defaults: { batch: number }) {
  const run = {
    dir: '',
    paths: undefined as unknown as RunPaths,
    store: undefined as unknown as RunStore,
    lines: [] as string[],
    options(units: Unit[], generator: FakeGenerator, extra: Partial<ExecuteOptions> = {}): ExecuteOptions {
      return {
        paths: run.paths,
        store: run.store,
        progress: new Progress({ sink: { write: (text) => run.lines.push(text) }, logPath: run.paths.log }),
        units,
        shard: null,
        generator,
        scorers: [],
        batch: defaults.batch,
        order: 'shared',
        failFast: false,
        ...extra,
      };
    },
  };
  beforeEach(() => {
    run.dir = mkdtempSync(join(tmpdir(), prefix));
    run.paths = runPaths(run.dir);
    ensureRunFolders(run.paths);
    run.store = RunStore.open(run.paths.db);
    run.lines = [];
  });
  afterEach(() => {
    run.store.close();
    rmSync(run.dir, { recursive: true, force: true });
  });
  return run;
}
