/**
 * The real implementations of `RunDependencies`: the experiment loader and expansion (harness/experiment),
 * the pipeline (pipelines/), the scorer registry (probes/) and the report (reports/).
 * @module
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SdxlEnsemble } from '../../pipelines/ensemble.js';
import type { ModelFolderHash } from '../../pipelines/model-folder.js';
import { ensureTinyModels, type TinyModelOptions } from '../../pipelines/tiny/tiny-models.js';
import { UserError } from '../../pipelines/errors.js';
import { createScorer, loadScorerRegistry, SharedScorerResources, type ScorerFactoryContext } from '../../probes/registry.js';
import { ensureTinyOwlFolder } from '../../pipelines/tiny/owlvit.js';
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

/** Model references as an experiment (or a run's spec.json) names them: folder paths or `tiny`. */
export interface ModelRefs {
  base?: string;
  refiner?: string;
  clip?: string;
  detector?: string;
}

/**
 * The model folders scorers see (`ScorerFactoryContext.models`): `tiny` resolved to the generated
 * folders under the cache (the tiny OWL-ViT for `detector: tiny`), paths resolved.
 */
export async function resolveModelFolders(refs: ModelRefs, cacheDir: string, tinyModels?: TinyModelOptions): Promise<Partial<Record<string, string>>> {
  const modelsDir = join(cacheDir, 'models');
  const usesTiny = [refs.base, refs.refiner, refs.clip].includes('tiny');
  const tiny = usesTiny ? await ensureTinyModels(modelsDir, tinyModels) : null;
  const folders: Partial<Record<string, string>> = {};
  for (const role of ['base', 'refiner', 'clip'] as const) {
    const ref = refs[role];
    if (ref) folders[role] = ref === 'tiny' ? tiny![role] : resolve(ref);
  }
  if (refs.detector) folders.detector = refs.detector === 'tiny' ? ensureTinyOwlFolder(modelsDir) : resolve(refs.detector);
  return folders;
}

/** Where `run` (and `score`) cache model file hashes between runs. */
export function hashCacheFileIn(cacheDir: string): string {
  return join(cacheDir, 'model-hashes.json');
}

/**
 * Scorers named by the experiment, from the registry; relative paths in their options resolve against
 * the experiment file. They share one set of per-run resources (e.g. one CLIP model per folder, so an
 * image is embedded once for every CLIP-based scorer); if one cannot be made, those made are disposed.
 */
export async function createScorers(spec: ExperimentSpec, experimentFile: string, log: (message: string) => void, places: RunPlaces = defaultPlaces()): Promise<Scorer[]> {
  if (spec.scorers.length === 0) return [];
  const registry = await loadScorerRegistry();
  for (const scorer of spec.scorers) registry.get(scorer.id);
  mkdirSync(places.cacheDir, { recursive: true });
  const context: ScorerFactoryContext = {
    baseDir: dirname(resolve(experimentFile)),
    models: await resolveModelFolders(spec.models, places.cacheDir, places.tinyModels),
    device: spec.models.device,
    log,
    shared: new SharedScorerResources(),
    hashCacheFile: hashCacheFileIn(places.cacheDir),
  };
  const scorers: Scorer[] = [];
  try {
    for (const scorer of spec.scorers) scorers.push(await createScorer(scorer.id, scorer.options, context, registry));
  } catch (error) {
    for (const scorer of scorers) await scorer.dispose?.();
    throw error;
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

/** Opens the SDXL pipeline (`SdxlEnsemble`) for the experiment's models and hashes their files. */
export async function openSdxlGenerator(spec: ExperimentSpec, log: (message: string) => void, places: RunPlaces): Promise<OpenedGenerator> {
  const dirs = await resolveModelFolders({ base: spec.models.base, refiner: spec.models.refiner }, places.cacheDir, places.tinyModels);
  const hashCacheFile = hashCacheFileIn(places.cacheDir);
  mkdirSync(places.cacheDir, { recursive: true });
  const generator = await SdxlEnsemble.load({ base: dirs.base!, refiner: dirs.refiner, device: spec.models.device, log, hashCacheFile });
  try {
    // the ensemble validated the folders while loading; its hashes are the ones its images record
    const { base: baseInfo, refiner: refinerInfo } = generator.folders();
    const hashes = await generator.hashFolders();
    const baseHash = hashes.base;
    const refinerHash = hashes.refiner ?? null;
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
