/**
 * `refinery run`: load and expand the experiment, pick this shard's units, claim (or resume) the run
 * folder under its lock, execute, write the manifest, print the summary and, when the report module is
 * there, build the report and print its path as the last line.
 *
 * The steps that need other rooms (loading the experiment, the pipeline, the scorers, the report) come
 * in through `RunDependencies`, so tests can run the whole command with fakes.
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import { freemem } from 'node:os';
import { join, resolve } from 'node:path';
import { UserError } from '../../pipelines/errors.js';
import type { Scorer } from '../../probes/types.js';
import { unitSetKey } from '../experiment/keys.js';
import type { ExperimentSpec, ModelHashes, Unit } from '../experiment/types.js';
import { RunStore } from '../store/store.js';
import { writeJsonAtomic } from './atomic.js';
import { formatDryRun, measurePace, planDryRun, type PaceEstimate } from './dry-run.js';
import { execute, type ExecutionOrder } from './executor.js';
import type { ImageGenerator } from './generator.js';
import { checkDeterminism, formatDeterminism } from './determinism.js';
import { claimRunFolder, experimentSpecHash, type RunIdentity } from './identity.js';
import { RunLock } from './lock.js';
import { hostFacts, type RunManifest, type SessionRecord } from './manifest.js';
import { createUnetCallCounter, parseShard, shardFolderName, shardLabel, shardUnits, trajectorySpecFor, type ShardSpec } from './planner.js';
import { Progress, type ProgressSink } from './progress.js';
import { ensureRunFolders, readJsonFile, removeTemporaryFiles, runPaths, type RunPaths } from './run-folder.js';
import { displayPath, formatSummary } from './summary.js';

/** What `run` gets from the pipeline side. */
export interface OpenedGenerator {
  generator: ImageGenerator;
  modelHashes: ModelHashes;
  /** model identity and file sha256s for the manifest */
  modelFiles: unknown;
  /** total bytes of the model files that would be resident together (for the automatic low-memory choice) */
  modelBytes: number;
  executionProvider: string;
}

export interface RunDependencies {
  /** resolved spec, or a UserError listing every problem */
  loadExperiment(file: string, set: readonly string[]): Promise<ExperimentSpec>;
  openGenerator(spec: ExperimentSpec, log: (message: string) => void): Promise<OpenedGenerator>;
  expand(spec: ExperimentSpec, modelHashes: ModelHashes): Promise<Unit[]>;
  createScorers(spec: ExperimentSpec, experimentFile: string, log: (message: string) => void): Promise<Scorer[]>;
  /** builds report.html from a run folder; absent until the report module exists */
  buildReport?(runDir: string): Promise<{ htmlPath: string }>;
}

export interface RunOptions {
  file: string;
  set?: readonly string[];
  shard?: string;
  batch?: number;
  lowMemory?: boolean;
  failFast?: boolean;
  retryFailed?: boolean;
  dryRun?: boolean;
  /** dry run: measure the pace when the run folder has none (default true) */
  measure?: boolean;
  quiet?: boolean;
  out?: string;
  noReport?: boolean;
  /** run every unit through its own generate call instead of sharing base trajectories (tests, benchmarks) */
  independentBranches?: boolean;
  /**
   * at the end, regenerate one stored unit alone and compare its bytes (default true); runs when this
   * session made an image, or when the run is complete and has no check yet
   */
  determinismCheck?: boolean;
  /** the command line, for the manifest */
  commandLine?: string[];
}

export interface RunIo {
  /** summary and result paths */
  stdout: ProgressSink;
  /** progress */
  stderr: ProgressSink;
  /** available memory in bytes (default: process.availableMemory or os.freemem) */
  availableMemory?: () => number;
  /** on SIGINT / SIGTERM, release the run lock and exit (for the CLI; the store needs no cleanup) */
  handleSignals?: boolean;
}

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** Installs handlers that run `cleanup` and exit; returns a function that removes them. */
function onTermination(cleanup: () => void): () => void {
  const handlers = Object.entries(SIGNAL_EXIT_CODES).map(([signal, code]) => {
    const handler = () => {
      cleanup();
      process.stderr.write(`\n${signal}: stopped; the store has every unit finished so far; rerun the same command to resume\n`);
      process.exit(code);
    };
    process.once(signal, handler);
    return () => process.removeListener(signal, handler);
  });
  return () => handlers.forEach((remove) => remove());
}

export interface RunOutcome {
  exitCode: number;
  runDir: string;
  reportPath: string | null;
}

/** Model-major order is chosen automatically when the models take more than this share of free memory. */
export const AUTO_LOW_MEMORY_FRACTION = 0.6;

function availableMemoryBytes(): number {
  const fromProcess = (process as unknown as { availableMemory?: () => number }).availableMemory?.();
  return typeof fromProcess === 'number' && fromProcess > 0 ? fromProcess : freemem();
}

export function chooseOrder(
  lowMemoryFlag: boolean,
  modelBytes: number,
  availableBytes: number,
): { order: ExecutionOrder; reason: string | null } {
  if (lowMemoryFlag) return { order: 'model-major', reason: '--low-memory' };
  if (modelBytes > AUTO_LOW_MEMORY_FRACTION * availableBytes) {
    const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
    return {
      order: 'model-major',
      reason: `automatic: the models (${gib(modelBytes)}) exceed ${AUTO_LOW_MEMORY_FRACTION * 100}% of free memory (${gib(availableBytes)})`,
    };
  }
  return { order: 'shared', reason: null };
}

/** The run folder for the options: `--out` (or the spec's out_dir), plus `shard-i-of-N` when sharded. */
export function runFolderFor(spec: ExperimentSpec, out: string | undefined, shard: ShardSpec | null): string {
  const base = resolve(out ?? spec.run.out_dir);
  return shard ? join(base, shardFolderName(shard)) : base;
}

function seedsOf(units: readonly Unit[]): number[] {
  return [...new Set(units.map((unit) => unit.seed))].sort((a, b) => a - b);
}

function writeLine(sink: ProgressSink, line: string): void {
  sink.write(`${line}\n`);
}

interface PreparedUnits {
  units: Unit[];
  identity: RunIdentity;
  countCalls: ReturnType<typeof createUnetCallCounter>;
}

async function prepareUnits(spec: ExperimentSpec, file: string, shard: ShardSpec | null, opened: OpenedGenerator, deps: RunDependencies): Promise<PreparedUnits> {
  const allUnits = await deps.expand(spec, opened.modelHashes);
  if (allUnits.length === 0) throw new UserError(`${file}: the experiment expands to no units (check prompts, seeds and sweep)`);
  const countCalls = createUnetCallCounter(opened.modelHashes.schedulerConfig);
  const units = shard ? shardUnits(allUnits, shard, countCalls) : allUnits;
  const identity: RunIdentity = {
    experimentName: spec.name,
    specSha256: experimentSpecHash(spec),
    unitsSha256: unitSetKey(allUnits.map((unit) => unit.key)),
    totalUnits: allUnits.length,
    shard: shard ? shardLabel(shard) : null,
    folderUnits: units.length,
  };
  return { units, identity, countCalls };
}

export async function runExperiment(options: RunOptions, deps: RunDependencies, io: RunIo): Promise<RunOutcome> {
  const spec = await deps.loadExperiment(options.file, options.set ?? []);
  const shard = options.shard ? parseShard(options.shard) : null;
  const batch = options.batch ?? spec.run.batch;
  if (!Number.isInteger(batch) || batch < 1) throw new UserError(`--batch: must be a whole number ≥ 1 (got ${batch})`);
  const failFast = options.failFast ?? spec.run.fail_fast;
  const runDir = runFolderFor(spec, options.out, shard);
  const paths = runPaths(runDir);
  const earlyLog = (message: string) => {
    if (!options.quiet) writeLine(io.stderr, message);
  };

  if (options.dryRun) {
    const opened = await deps.openGenerator(spec, earlyLog);
    try {
      const { units, identity, countCalls } = await prepareUnits(spec, options.file, shard, opened, deps);
      // as the executor would: batching needs the shared order and a generator that batches the base
      const { order } = chooseOrder(options.lowMemory ?? spec.run.low_memory, opened.modelBytes, (io.availableMemory ?? availableMemoryBytes)());
      const unetBatch = order === 'shared' && opened.generator.generateBatch !== undefined ? batch : 1;
      await dryRun(options, spec, identity, units, paths, opened.generator, io, countCalls, unetBatch);
      return { exitCode: 0, runDir, reportPath: null };
    } finally {
      await opened.generator.dispose();
    }
  }

  // the lock comes first: a second process is refused before it loads any model
  mkdirSync(runDir, { recursive: true });
  const lock = RunLock.acquire(runDir, { command: (options.commandLine ?? process.argv).join(' ') });
  const removeSignalHandlers = io.handleSignals ? onTermination(() => lock.release()) : () => {};
  let store: RunStore | undefined;
  try {
    const opened = await deps.openGenerator(spec, earlyLog);
    let scorers: Scorer[] = [];
    try {
      const { units, identity } = await prepareUnits(spec, options.file, shard, opened, deps);
      // scorers are resolved before any image is made, so an unknown scorer or a missing CLIP folder fails now
      scorers = await deps.createScorers(spec, options.file, earlyLog);

      ensureRunFolders(paths);
      const progress = new Progress({ sink: io.stderr, quiet: options.quiet, logPath: paths.log });
      if (lock.tookOverFrom) progress.log(`took over a stale lock: ${lock.tookOverFrom.reason}`);
      const removed = removeTemporaryFiles(paths);
      if (removed > 0) progress.log(`removed ${removed} temporary file(s) left by an interrupted run`);
      store = RunStore.open(paths.db);
      const claim = claimRunFolder(store, paths, identity, spec);
      if (claim.specChanged) progress.log('spec.json updated: the experiment changed in ways that change no image (e.g. report settings or scorers)');
      if (claim.resumed) progress.log(`resuming ${displayPath(runDir)}`);

      const { order, reason } = chooseOrder(
        options.lowMemory ?? spec.run.low_memory,
        opened.modelBytes,
        (io.availableMemory ?? availableMemoryBytes)(),
      );
      if (reason) progress.log(`model-major order (${reason})`);
      const session: SessionRecord = {
        pid: process.pid,
        host: lock.info.hostname,
        commandLine: options.commandLine ?? process.argv,
        startedAt: new Date().toISOString(),
        endedAt: null,
        order,
        lowMemoryReason: reason,
        unitsRun: 0,
        ok: 0,
        failed: 0,
        peakRssBytes: null,
      };
      const manifest = startManifest(paths, identity, opened, units, session);
      writeJsonAtomic(paths.manifest, manifest);

      const result = await execute({
        paths,
        store,
        progress,
        units,
        shard: identity.shard,
        generator: opened.generator,
        scorers,
        batch,
        order,
        failFast,
        retryFailed: options.retryFailed,
        ...(options.independentBranches ? { canShareTrajectory: () => false } : {}),
      });

      Object.assign(session, {
        unitsRun: result.ok + result.failed,
        ok: result.ok,
        failed: result.failed,
        peakRssBytes: result.peakRssBytes,
      });
      const counts = store.counts();
      const determinismDue = result.ok > 0 || (counts.missing === 0 && manifest.determinism === undefined);
      let determinismLine: string | null = null;
      if (options.determinismCheck !== false && !result.stoppedEarly && determinismDue) {
        progress.log('determinism check: regenerating one stored unit alone');
        const check = await checkDeterminism({
          store,
          units,
          generator: opened.generator,
          provider: opened.executionProvider,
          releaseBaseBeforeRefiner: order === 'model-major',
        });
        if (check) {
          manifest.determinism = check;
          determinismLine = formatDeterminism(check);
        }
      }
      session.endedAt = new Date().toISOString();
      manifest.endedAt = session.endedAt;
      writeJsonAtomic(paths.manifest, manifest);

      const lines = formatSummary({ runDir, result, store: counts, lowMemoryReason: reason });
      if (determinismLine) lines.splice(lines.length - 1, 0, determinismLine);
      const warnings = lines.filter((line) => line.startsWith('WARNING'));
      for (const line of options.quiet ? [...warnings, ...lines.slice(-1)] : lines) writeLine(io.stdout, line);

      let reportPath: string | null = null;
      if (deps.buildReport && !options.noReport && !shard && !result.stoppedEarly) {
        store.checkpoint();
        reportPath = (await deps.buildReport(runDir)).htmlPath;
        writeLine(io.stdout, `Report: ${displayPath(reportPath)}`);
      } else if (shard) {
        writeLine(io.stdout, `This is shard ${identity.shard}; when all shards are done: refinery merge ${displayPath(resolve(runDir, '..'))}/shard-*-of-${shard.count} --out <dir>`);
      }
      return { exitCode: result.stoppedEarly ? 1 : 0, runDir, reportPath };
    } finally {
      for (const scorer of scorers) await scorer.dispose?.();
      await opened.generator.dispose();
    }
  } finally {
    removeSignalHandlers();
    store?.close();
    lock.release();
  }
}

function startManifest(paths: RunPaths, identity: RunIdentity, opened: OpenedGenerator, units: readonly Unit[], session: SessionRecord): RunManifest {
  const previous = existsSync(paths.manifest) ? readJsonFile<RunManifest>(paths.manifest) : null;
  const facts = hostFacts();
  return {
    ...facts,
    executionProvider: opened.executionProvider,
    models: opened.modelFiles,
    generator: opened.generator.describe(),
    experiment: { name: identity.experimentName, specSha256: identity.specSha256, unitsSha256: identity.unitsSha256, totalUnits: identity.totalUnits },
    shard: identity.shard,
    shardUnits: identity.folderUnits,
    seeds: seedsOf(units),
    startedAt: previous?.startedAt ?? session.startedAt,
    endedAt: null,
    commandLine: session.commandLine,
    sessions: [...(previous?.sessions ?? []), session],
    ...(previous?.determinism !== undefined ? { determinism: previous.determinism } : {}),
  };
}

async function dryRun(
  options: RunOptions,
  spec: ExperimentSpec,
  identity: RunIdentity,
  units: Unit[],
  paths: RunPaths,
  generator: ImageGenerator,
  io: RunIo,
  countCalls: ReturnType<typeof createUnetCallCounter>,
  unetBatch: number,
): Promise<void> {
  let pending = units;
  let pace: PaceEstimate | null = null;
  if (existsSync(paths.db)) {
    const store = RunStore.open(paths.db, { readonly: true });
    try {
      const done = new Set<string>();
      for (const sample of store.samples()) done.add(sample.key);
      pending = units.filter((unit) => !done.has(unit.key));
      const measured = store.generationPace();
      if (measured && measured.unetCalls > 0) {
        pace = {
          secondsPerEvaluation: measured.seconds / measured.unetCalls,
          secondsPerImage: 0,
          source: `measured in this run folder: ${measured.seconds.toFixed(1)} s of generation over ${measured.unetCalls} UNet evaluations (per-image costs included)`,
        };
      }
    } finally {
      store.close();
    }
  }
  if (!pace && options.measure !== false && pending.length > 0) pace = await measurePace(generator, pending[0], trajectorySpecFor);
  const report = planDryRun(pending, units.length, pace, countCalls, unetBatch);
  const header =
    `Experiment ${spec.name}: ${identity.totalUnits} unit(s)` +
    (identity.shard ? `; shard ${identity.shard} has ${units.length}` : '') +
    ` → ${displayPath(paths.dir)}`;
  for (const line of formatDryRun(report, header)) writeLine(io.stdout, line);
}
