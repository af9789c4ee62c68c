/**
 * The real implementations of `RunDependencies`: the experiment loader and expansion (harness/experiment),
 * the pipeline (pipelines/), the scorer registry (probes/) and the report (reports/).
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SdxlEnsemble } from '../../pipelines/ensemble.js';
import { hashModelFolder, validateSdxlFolder, type ModelFolderHash } from '../../pipelines/model-folder.js';
import { ensureTinyModels, type TinyModelOptions } from '../../pipelines/tiny/tiny-models.js';
import { UserError } from '../../pipelines/errors.js';
import { createScorer } from '../../probes/registry.js';
import { buildReport } from '../../reports/build.js';
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
export async function createScorers(spec: ExperimentSpec, experimentFile: string, log: (message: string) => void, places: RunPlaces = defaultPlaces()): Promise<Scorer[]> {
  if (spec.scorers.length === 0) return [];
  const dirs = await resolveModelDirs(spec, places);
  const models: Partial<Record<string, string>> = {};
  if (dirs.clip) models.clip = dirs.clip;
  if (dirs.detector) models.detector = dirs.detector;
  const scorers: Scorer[] = [];
  for (const scorer of spec.scorers) {
    scorers.push(await createScorer(scorer.id, scorer.options, { baseDir: dirname(resolve(experimentFile)), models, device: spec.models.device, log }));
  }
  return scorers;
}

/** Where `run` keeps things it can regenerate: tiny models, model hash cache. */
export interface RunPlaces {
  /** default: .cache/refinery under the current folder */
  cacheDir: string;
  /** tiny model options for `models: tiny` (the benchmark raises the UNet width) */
  tinyModels?: TinyModelOptions;
}

export function defaultPlaces(): RunPlaces {
  return { cacheDir: resolve('.cache/refinery') };
}

/** Resolves `tiny` model references to generated folders (generated once per cache folder). */
async function resolveModelDirs(spec: ExperimentSpec, places: RunPlaces): Promise<{ base: string; refiner?: string; clip?: string; detector?: string }> {
  const refs = spec.models;
  const usesTiny = [refs.base, refs.refiner, refs.clip].includes('tiny');
  const tiny = usesTiny ? await ensureTinyModels(join(places.cacheDir, 'models'), places.tinyModels) : null;
  const pick = (ref: string | undefined, kind: 'base' | 'refiner' | 'clip') => (ref === 'tiny' ? tiny![kind] : ref);
  return {
    base: pick(refs.base, 'base')!,
    ...(refs.refiner ? { refiner: pick(refs.refiner, 'refiner') } : {}),
    ...(refs.clip ? { clip: pick(refs.clip, 'clip') } : {}),
    ...(refs.detector ? { detector: refs.detector } : {}),
  };
}

/** Opens the SDXL pipeline (`SdxlEnsemble`) for the experiment's models and hashes their files. */
export async function openSdxlGenerator(spec: ExperimentSpec, log: (message: string) => void, places: RunPlaces): Promise<OpenedGenerator> {
  const dirs = await resolveModelDirs(spec, places);
  const hashCacheFile = join(places.cacheDir, 'model-hashes.json');
  mkdirSync(places.cacheDir, { recursive: true });
  const generator = await SdxlEnsemble.load({ base: dirs.base, refiner: dirs.refiner, device: spec.models.device, log, hashCacheFile });
  try {
    const baseInfo = await validateSdxlFolder(dirs.base, 'base');
    const refinerInfo = dirs.refiner ? await validateSdxlFolder(dirs.refiner, 'refiner') : null;
    const baseHash = await hashModelFolder(baseInfo, hashCacheFile);
    const refinerHash = refinerInfo ? await hashModelFolder(refinerInfo, hashCacheFile) : null;
    const modelHashes: ModelHashes = {
      base: baseHash.digest,
      schedulerConfig: baseInfo.schedulerConfig,
      ...(refinerHash && refinerInfo ? { refiner: refinerHash.digest, refinerSchedulerConfig: refinerInfo.schedulerConfig } : {}),
    };
    const bytes = (hash: ModelFolderHash | null) => (hash ? hash.files.reduce((sum, file) => sum + file.size, 0) : 0);
    const described = generator.describe();
    return {
      generator,
      modelHashes,
      modelFiles: {
        base: { dir: baseInfo.dir, digest: baseHash.digest, files: baseHash.files },
        ...(refinerHash && refinerInfo ? { refiner: { dir: refinerInfo.dir, digest: refinerHash.digest, files: refinerHash.files } } : {}),
      },
      modelBytes: bytes(baseHash) + bytes(refinerHash),
      executionProvider: described.provider,
    };
  } catch (error) {
    await generator.dispose();
    throw error;
  }
}

/** The real dependencies of `refinery run`. */
export async function defaultDependencies(places: RunPlaces = defaultPlaces()): Promise<RunDependencies> {
  return {
    loadExperiment: loadExperimentOrThrow,
    openGenerator: (spec, log) => openSdxlGenerator(spec, log, places),
    expand: expandUnits,
    createScorers: (spec, file, log) => createScorers(spec, file, log, places),
    buildReport: async (runDir) => ({ htmlPath: (await buildReport(runDir)).htmlPath }),
  };
}
