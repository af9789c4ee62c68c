import { dirname, relative } from 'node:path';
import { baseBatchKey, runSdxlBaseBatch } from './batched-base.js';
import { EmbeddingCache } from './embedding-cache.js';
import { UserError } from './errors.js';
import { generationTexts, type GenerationRecord } from './image/metadata.js';
import type { PngText, RgbImage } from './image/png.js';
import { hashModelFolder, validateSdxlFolder, type ModelFolderHash, type SdxlFolderInfo } from './model-folder.js';
import { TorchGenerator } from './noise/torch-generator.js';
import { ensembleSplit, handoffCutoff, sdeditSplit } from './plan.js';
import { createScheduler, resolveSchedulerChoice } from './schedulers/registry.js';
import type { DiffusionScheduler } from './schedulers/types.js';
import { checkSize, runSdxlBase, type BaseRequest, type BaseResult, type PipelineContext, type SdxlModel } from './sdxl-base.js';
import { runSdxlRefiner, type RefinerStart } from './sdxl-refiner.js';
import { LazySession, OnnxSession, type HostTensor } from './session.js';
import type { TextEncoder } from './text-encoding.js';
import { ClipTokenizer } from './tokenizer/clip-tokenizer.js';
import { decodeLatents, type DecodeResult } from './vae.js';

/**
 * SDXL base + refiner as one object: shares one base trajectory across all branches of a
 * (prompt, seed, steps, scheduler, guidance, size) — snapshots of the base latents at each handoff
 * cut, the finished base image when a base-only or SDEdit branch needs it — and finishes each
 * branch with the refiner. Every branch result is bit-identical to running that branch alone
 * (`generateIndependently`).
 *
 * Random streams (what a diffusers run with CPU generators reproduces):
 *   base:    `generator = torch.Generator().manual_seed(seed)` — the initial latents are its first
 *            draw ([1, 4, H/8, W/8]); stochastic schedulers continue it in `step`;
 *   refiner: a fresh `torch.Generator().manual_seed(seed)` per refiner call — SDEdit draws the VAE
 *            latent sample first and the add-noise tensor second; the ensemble refiner draws
 *            nothing (except in stochastic `step`s).
 */

export type Branch = { mode: 'base-only' } | { mode: 'ensemble'; handoff: number } | { mode: 'sdedit'; strength: number };

export interface TrajectorySpec {
  prompt: string;
  /** null: no negative prompt (the base then conditions the negative branch on zeros) */
  negativePrompt: string | null;
  seed: number;
  steps: number;
  guidance: number;
  /** the refiner's guidance scale; default: `guidance` */
  refinerGuidance?: number;
  guidanceRescale?: number;
  /** scheduler short id (euler, ddim, …) or diffusers class name */
  scheduler: string;
  /** overrides merged over each model folder's scheduler_config.json */
  schedulerConfig?: Record<string, unknown>;
  width: number;
  height: number;
  aestheticScore?: number;
  negativeAestheticScore?: number;
}

export interface BranchResult {
  branch: Branch;
  /** null when the branch failed or its pixels were not finite; `error` says why */
  image: RgbImage | null;
  error?: string;
  pngTexts: PngText[];
  /**
   * Seconds per stage, as this branch alone would spend them (a shared base reports the time up to
   * this branch's cut): textEncode, baseDenoise, baseDecode, refinerTextEncode, vaeEncode,
   * refinerDenoise, vaeDecode, total.
   */
  timings: Record<string, number>;
  /** UNet evaluations this image depends on (each a guided [uncond; cond] batch) */
  unetCalls: { base: number; refiner: number };
}

/** The base half of a trajectory, serialisable with `v8.serialize` (plain objects and typed arrays). */
export interface BaseStage {
  /** the full schedule length N the base ran against */
  steps: number;
  latentDims: number[];
  /** base latents after `afterStep` steps, one per distinct ensemble cut */
  snapshots: Array<{ afterStep: number; latents: Float32Array; denoiseSeconds: number }>;
  /** present when a base-only or SDEdit branch needs the finished base */
  final?: {
    latents: Float32Array;
    /** null when the decoded pixels were not finite */
    image: RgbImage | null;
    error?: string;
    denoiseSeconds: number;
    decodeSeconds: number;
  };
  textEncodeSeconds: number;
}

export interface EnsembleLoadOptions {
  base: string;
  refiner?: string;
  /** execution provider for every session (cpu default); falls back to cpu with a log line */
  device?: string;
  log?: (line: string) => void;
  /** release the base UNet before the refiner runs in `generate` (one UNet resident) */
  unloadBaseBeforeRefiner?: boolean;
  /** ONNX Runtime intra-op threads per session (default: ORT's choice, one per core) */
  intraOpNumThreads?: number;
  /** add up process CPU time inside `session.run` for `sessionRunTotals` (benchmarks; costs time per run) */
  measureSessionCpu?: boolean;
  /** keep ORT's CPU thread pools spinning after each run (ORT's default; see `SessionOptions.spinBetweenRuns`) */
  spinBetweenRuns?: boolean;
  /** where model file hashes are cached between runs (optional) */
  hashCacheFile?: string;
  /** bound on the embedding cache */
  embeddingCacheBytes?: number;
  /** test hook: sees (and may change) every UNet feed */
  inspectUnetFeeds?: (stage: 'base' | 'refiner', feeds: Record<string, HostTensor>) => void;
}

interface LoadedModel {
  info: SdxlFolderInfo;
  model: EnsembleModel;
}

const SECONDS = 1 / 1000;

export class SdxlEnsemble {
  private folderHashes: Promise<{ base: ModelFolderHash; refiner?: ModelFolderHash }> | null = null;
  private readonly context: PipelineContext;

  private readonly base: LoadedModel;
  private readonly refiner: LoadedModel | null;
  private readonly provider: string;

  private constructor(
    baseInfo: SdxlFolderInfo,
    refinerInfo: SdxlFolderInfo | null,
    private readonly options: EnsembleLoadOptions,
    baseUnet: OnnxSession,
  ) {
    const log = options.log ?? (() => {});
    // every session uses the provider the base UNet actually got (one fallback message, not one per session)
    const sessionOptions = {
      provider: baseUnet.provider,
      log,
      ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      ...(options.measureSessionCpu ? { measureCpu: true } : {}),
      ...(options.spinBetweenRuns ? { spinBetweenRuns: true } : {}),
    };
    const cacheId = (role: 'base' | 'refiner', encoder: string, tokenizer: string) => () => this.encoderCacheId(role, encoder, tokenizer);
    this.base = { info: baseInfo, model: toModel(baseInfo, sessionOptions, cacheId, baseUnet) };
    this.refiner = refinerInfo ? { info: refinerInfo, model: toModel(refinerInfo, sessionOptions, cacheId) } : null;
    this.provider = baseUnet.provider;
    this.context = {
      cache: new EmbeddingCache({ maxBytes: options.embeddingCacheBytes }),
      log,
      createGenerator: (seed) => new TorchGenerator(seed),
      inspectUnetFeeds: options.inspectUnetFeeds,
    };
  }

  /**
   * Validates the folders (a refiner folder passed as base is an error), then opens the base UNet
   * so a broken model or provider fails here; the other sessions open on first use.
   */
  static async load(options: EnsembleLoadOptions): Promise<SdxlEnsemble> {
    const log = options.log ?? (() => {});
    const baseInfo = await validateSdxlFolder(options.base, 'base');
    const refinerInfo = options.refiner ? await validateSdxlFolder(options.refiner, 'refiner') : null;
    for (const info of [baseInfo, refinerInfo]) for (const warning of info?.warnings ?? []) log(`warning: ${info!.dir}: ${warning}`);
    const baseUnet = await OnnxSession.create(baseInfo.unet.modelPath, {
      provider: options.device ?? 'cpu',
      log,
      label: 'base/unet',
      ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
      ...(options.measureSessionCpu ? { measureCpu: true } : {}),
      ...(options.spinBetweenRuns ? { spinBetweenRuns: true } : {}),
    });
    return new SdxlEnsemble(baseInfo, refinerInfo, options, baseUnet);
  }

  describe(): { provider: string; baseDir: string; refinerDir?: string } {
    return { provider: this.provider, baseDir: this.base.info.dir, ...(this.refiner ? { refinerDir: this.refiner.info.dir } : {}) };
  }

  /** Folder digests (sha256 over every file's sha256): `{ base, refiner? }`. */
  async modelHashes(): Promise<Record<string, string>> {
    const hashes = await this.hashFolders();
    return { base: hashes.base.digest, ...(hashes.refiner ? { refiner: hashes.refiner.digest } : {}) };
  }

  /** The model folders as `load` validated them (layout, scheduler config, files), so callers need not validate again. */
  folders(): { base: SdxlFolderInfo; refiner?: SdxlFolderInfo } {
    return { base: this.base.info, ...(this.refiner ? { refiner: this.refiner.info } : {}) };
  }

  /** Every file's sha256, hashed once per instance (and cached across runs with `hashCacheFile`). */
  hashFolders(): Promise<{ base: ModelFolderHash; refiner?: ModelFolderHash }> {
    this.folderHashes ??= (async () => ({
      base: await hashModelFolder(this.base.info, this.options.hashCacheFile),
      ...(this.refiner ? { refiner: await hashModelFolder(this.refiner.info, this.options.hashCacheFile) } : {}),
    }))();
    return this.folderHashes;
  }

  /**
   * The embedding-cache identity of a text encoder: the sha256s of its graph files and tokenizer
   * files, so identical encoders (SDXL's base and refiner share text_encoder_2) share entries.
   */
  private async encoderCacheId(role: 'base' | 'refiner', encoderFolder: string, tokenizerFolder: string): Promise<string> {
    const hashes = await this.hashFolders();
    const files = (role === 'base' ? hashes.base : hashes.refiner!).files;
    return files
      .filter((file) => file.path.startsWith(`${encoderFolder}/`) || file.path.startsWith(`${tokenizerFolder}/`))
      .map((file) => `${file.path.replace(/^[^/]+/, (folder) => (folder === encoderFolder ? 'encoder' : 'tokenizer'))}=${file.sha256}`)
      .join(';');
  }

  /** Runs one shared base trajectory and finishes every branch from it. */
  async generate(spec: TrajectorySpec, branches: Branch[]): Promise<BranchResult[]> {
    this.checkRequest(spec, branches);
    const stage = await this.runBase(spec, branches);
    if (this.options.unloadBaseBeforeRefiner && branches.some((b) => needsRefiner(b))) await this.releaseBase();
    const results: BranchResult[] = [];
    for (const branch of branches) results.push(await this.runRefiner(spec, stage, branch));
    return results;
  }

  /**
   * The base half for `branches`: runs the base only as far as the latest ensemble cut, unless a
   * base-only or SDEdit branch needs the finished (and decoded) base.
   */
  async runBase(spec: TrajectorySpec, branches: Branch[]): Promise<BaseStage> {
    this.checkRequest(spec, branches);
    const plan = this.planBase(spec, branches);
    const result = await runSdxlBase(this.base.model, plan.request, this.context);
    return this.toStage(spec, result, plan.needsFinal);
  }

  /**
   * The base halves of several trajectories in one UNet batch (`runSdxlBaseBatch`): each gets the
   * stage `runBase` would give it. The trajectories must agree on steps, guidance, guidance rescale,
   * scheduler (+ config) and size (`baseBatchKeyOf`); prompts, negative prompts and seeds may differ.
   */
  async runBaseBatch(trajectories: ReadonlyArray<{ spec: TrajectorySpec; branches: Branch[] }>): Promise<BaseStage[]> {
    for (const { spec, branches } of trajectories) this.checkRequest(spec, branches);
    const plans = trajectories.map(({ spec, branches }) => this.planBase(spec, branches));
    const results = await runSdxlBaseBatch(this.base.model, plans.map((plan) => plan.request), this.context);
    const stages: BaseStage[] = [];
    for (const [i, { spec }] of trajectories.entries()) stages.push(await this.toStage(spec, results[i], plans[i].needsFinal));
    return stages;
  }

  /** `generate` for several trajectories whose base halves share UNet batches; one result list per trajectory. */
  async generateBatch(trajectories: ReadonlyArray<{ spec: TrajectorySpec; branches: Branch[] }>): Promise<BranchResult[][]> {
    const stages = await this.runBaseBatch(trajectories);
    if (this.options.unloadBaseBeforeRefiner && trajectories.some(({ branches }) => branches.some((b) => needsRefiner(b)))) await this.releaseBase();
    const results: BranchResult[][] = [];
    for (const [i, { spec, branches }] of trajectories.entries()) {
      const trajectoryResults: BranchResult[] = [];
      for (const branch of branches) trajectoryResults.push(await this.runRefiner(spec, stages[i], branch));
      results.push(trajectoryResults);
    }
    return results;
  }

  /** Trajectories with equal keys can share a base UNet batch (`runBaseBatch`). */
  baseBatchKeyOf(spec: TrajectorySpec): string {
    return baseBatchKey({ ...spec, scheduler: this.scheduler(this.base.info, spec) });
  }

  /** The base request for `branches`: how far to run and where to snapshot the latents. */
  private planBase(spec: TrajectorySpec, branches: Branch[]): { request: BaseRequest; needsFinal: boolean } {
    const scheduler = this.scheduler(this.base.info, spec);
    scheduler.setTimesteps(spec.steps);
    const cuts = new Set<number>();
    let needsFinal = false;
    for (const branch of branches) {
      const cut = this.baseCut(branch, scheduler);
      if (cut === null) needsFinal = true;
      else cuts.add(cut);
    }
    const request: BaseRequest = {
      prompt: spec.prompt,
      negativePrompt: spec.negativePrompt,
      seed: spec.seed,
      steps: spec.steps,
      guidance: spec.guidance,
      guidanceRescale: spec.guidanceRescale,
      width: spec.width,
      height: spec.height,
      scheduler: this.scheduler(this.base.info, spec),
      stopAfter: needsFinal ? spec.steps : Math.max(...cuts),
      snapshotAfter: [...cuts],
    };
    return { request, needsFinal };
  }

  /** The stage of a base run: its snapshots, and the decoded finished base when a branch needs it. */
  private async toStage(spec: TrajectorySpec, result: BaseResult, needsFinal: boolean): Promise<BaseStage> {
    const stage: BaseStage = {
      steps: spec.steps,
      latentDims: result.latentDims,
      snapshots: [...result.snapshots].map(([afterStep, snapshot]) => ({
        afterStep,
        latents: snapshot.latents,
        denoiseSeconds: snapshot.denoiseMs * SECONDS,
      })),
      textEncodeSeconds: result.timings.textEncodeMs * SECONDS,
    };
    if (needsFinal) {
      const decodeStart = performance.now();
      const decoded = await this.decode(this.base, result.latents, result.latentDims);
      stage.final = {
        latents: result.latents,
        image: decoded.image,
        ...(decoded.error ? { error: decoded.error } : {}),
        denoiseSeconds: result.timings.denoiseMs * SECONDS,
        decodeSeconds: (performance.now() - decodeStart) * SECONDS,
      };
    }
    return stage;
  }

  /** Finishes one branch from a base stage (base-only branches just take the decoded base image). */
  async runRefiner(spec: TrajectorySpec, stage: BaseStage, branch: Branch): Promise<BranchResult> {
    // 1. check inputs
    this.checkRequest(spec, [branch]);
    const scheduler = this.scheduler(this.base.info, spec);
    scheduler.setTimesteps(spec.steps);
    const cut = this.baseCut(branch, scheduler);
    const record = await this.record(spec, branch);
    const timings: Record<string, number> = { textEncode: stage.textEncodeSeconds };

    // 2. base-only (and handoff 1): the decoded base image
    if (!needsRefiner(branch)) {
      const final = requireFinal(stage, branch);
      timings.baseDenoise = final.denoiseSeconds;
      timings.baseDecode = final.decodeSeconds;
      return this.result(branch, final.image, final.error, record, timings, { base: spec.steps, refiner: 0 });
    }
    const refiner = this.requireRefiner(branch);
    const refinerScheduler = this.scheduler(refiner.info, spec);

    // 3. where the refiner starts: the base latents at the cut (ensemble) or the base image (SDEdit)
    let start: RefinerStart;
    let beginIndex: number;
    let baseCalls: number;
    if (branch.mode === 'ensemble') {
      const snapshot = stage.snapshots.find((s) => s.afterStep === cut);
      if (!snapshot) throw new Error(`the base stage has no latents after step ${cut} (it was run for other branches)`);
      timings.baseDenoise = snapshot.denoiseSeconds;
      refinerScheduler.setTimesteps(spec.steps);
      beginIndex = ensembleSplit(refinerScheduler.timesteps, handoffCutoff(branch.handoff), refinerScheduler.order).refinerStartIndex;
      start = { kind: 'latents', latents: snapshot.latents, latentDims: stage.latentDims };
      baseCalls = cut!;
    } else {
      const final = requireFinal(stage, branch);
      timings.baseDenoise = final.denoiseSeconds;
      timings.baseDecode = final.decodeSeconds;
      if (!final.image) return this.result(branch, null, `base image not usable for SDEdit: ${final.error}`, record, timings, { base: spec.steps, refiner: 0 });
      beginIndex = sdeditSplit(spec.steps, (branch as { strength: number }).strength, refinerScheduler.order).beginIndex;
      start = { kind: 'image', image: final.image };
      baseCalls = spec.steps;
    }

    // 4. refine
    const refined = await runSdxlRefiner(
      refiner.model,
      {
        prompt: spec.prompt,
        negativePrompt: spec.negativePrompt,
        seed: spec.seed,
        steps: spec.steps,
        guidance: spec.refinerGuidance ?? spec.guidance,
        guidanceRescale: spec.guidanceRescale,
        aestheticScore: spec.aestheticScore,
        negativeAestheticScore: spec.negativeAestheticScore,
        scheduler: refinerScheduler,
        beginIndex,
        start,
      },
      this.context,
    );
    timings.refinerTextEncode = refined.timings.textEncodeMs * SECONDS;
    if (refined.timings.vaeEncodeMs > 0) timings.vaeEncode = refined.timings.vaeEncodeMs * SECONDS;
    timings.refinerDenoise = refined.timings.denoiseMs * SECONDS;

    // 5. decode with the refiner's VAE
    const decodeStart = performance.now();
    const decoded = await this.decode(refiner, refined.latents, refined.latentDims);
    timings.vaeDecode = (performance.now() - decodeStart) * SECONDS;
    if (!refined.reproducible) record.noise += '; the VAE encoder samples inside the graph (unseeded): not reproducible';
    return this.result(branch, decoded.image, decoded.error, record, timings, { base: baseCalls, refiner: refined.stepsRun });
  }

  async releaseBase(): Promise<void> {
    await this.base.model.unet.release();
  }

  async releaseRefiner(): Promise<void> {
    await this.refiner?.model.unet.release();
  }

  /** Milliseconds inside `session.run` for each UNet so far (for overhead accounting). */
  async unetRunMs(): Promise<{ base: number; refiner: number }> {
    return { base: await this.base.model.unet.runMs(), refiner: this.refiner ? await this.refiner.model.unet.runMs() : 0 };
  }

  /** Wall and process-CPU milliseconds inside `session.run`, summed over every session of both models. */
  async sessionRunTotals(): Promise<{ wallMs: number; cpuMs: number }> {
    let wallMs = 0;
    let cpuMs = 0;
    for (const loaded of [this.base, this.refiner]) {
      if (!loaded) continue;
      for (const session of sessionsOf(loaded.model)) {
        wallMs += await session.runMs();
        cpuMs += await session.runCpuMs();
      }
    }
    return { wallMs, cpuMs };
  }

  async dispose(): Promise<void> {
    for (const loaded of [this.base, this.refiner]) {
      if (!loaded) continue;
      for (const session of sessionsOf(loaded.model)) await session.release();
    }
    this.context.cache.clear();
  }

  // ---------------------------------------------------------------------------------------------

  private checkRequest(spec: TrajectorySpec, branches: Branch[]): void {
    checkTrajectorySpec(spec);
    if (branches.length === 0) throw new UserError('no branches to generate', 'pass base-only, ensemble or sdedit');
    for (const branch of branches) {
      if (branch.mode === 'ensemble') handoffCutoff(branch.handoff);
      else if (branch.mode === 'sdedit') sdeditSplit(spec.steps, branch.strength);
      else if (branch.mode !== 'base-only') throw new UserError(`unknown branch mode ${JSON.stringify((branch as { mode: unknown }).mode)}`);
      if (needsRefiner(branch) && !this.refiner && !(branch.mode === 'ensemble' && branch.handoff === 1)) {
        throw new UserError(`${branch.mode} needs a refiner model`, 'load the ensemble with a refiner folder');
      }
    }
  }

  /** Base steps an ensemble branch keeps, or null when the branch needs the finished base. */
  private baseCut(branch: Branch, scheduler: DiffusionScheduler): number | null {
    if (branch.mode !== 'ensemble' || branch.handoff === 1) return null;
    return ensembleSplit(scheduler.timesteps, handoffCutoff(branch.handoff), scheduler.order).baseSteps;
  }

  private scheduler(info: SdxlFolderInfo, spec: TrajectorySpec): DiffusionScheduler {
    return createScheduler(spec.scheduler, { ...info.schedulerConfig, ...(spec.schedulerConfig ?? {}) });
  }

  private requireRefiner(branch: Branch): LoadedModel {
    if (!this.refiner) throw new UserError(`${branch.mode} needs a refiner model`, 'load the ensemble with a refiner folder');
    return this.refiner;
  }

  private async decode(loaded: LoadedModel, latents: Float32Array, dims: readonly number[]): Promise<DecodeResult> {
    const decoder = await loaded.model.vaeDecoder.get();
    return decodeLatents(decoder, latents, dims, loaded.model.vaeScalingFactor, this.context.log);
  }

  private async record(spec: TrajectorySpec, branch: Branch): Promise<GenerationRecord & { noise: string }> {
    const hashes = await this.modelHashes();
    const mode = branch.mode === 'ensemble' && branch.handoff === 1 ? 'base-only' : branch.mode;
    const choice = resolveSchedulerChoice(spec.scheduler, { ...this.base.info.schedulerConfig, ...(spec.schedulerConfig ?? {}) });
    const usesRefiner = mode !== 'base-only';
    return {
      prompt: spec.prompt,
      negativePrompt: spec.negativePrompt,
      seed: spec.seed,
      steps: spec.steps,
      scheduler: spec.scheduler,
      schedulerConfig: choice.config,
      guidance: spec.guidance,
      ...(usesRefiner ? { refinerGuidance: spec.refinerGuidance ?? spec.guidance } : {}),
      ...(spec.guidanceRescale ? { guidanceRescale: spec.guidanceRescale } : {}),
      mode,
      ...(branch.mode === 'ensemble' ? { handoff: branch.handoff } : {}),
      ...(branch.mode === 'sdedit' ? { strength: branch.strength } : {}),
      width: spec.width,
      height: spec.height,
      ...(usesRefiner
        ? { aestheticScore: spec.aestheticScore ?? 6, negativeAestheticScore: spec.negativeAestheticScore ?? 2.5 }
        : {}),
      models: {
        base: { hash: hashes.base },
        ...(usesRefiner && hashes.refiner ? { refiner: { hash: hashes.refiner } } : {}),
      },
      provider: this.provider,
      noise:
        'torch CPU generator: base = Generator().manual_seed(seed), initial latents first draw' +
        (usesRefiner ? '; refiner = fresh Generator().manual_seed(seed)' + (mode === 'sdedit' ? ', VAE sample then add-noise draws' : '') : ''),
    };
  }

  private result(
    branch: Branch,
    image: RgbImage | null,
    error: string | undefined,
    record: GenerationRecord,
    timings: Record<string, number>,
    unetCalls: { base: number; refiner: number },
  ): BranchResult {
    timings.total = Object.values(timings).reduce((a, b) => a + b, 0);
    return { branch, image, ...(error ? { error } : {}), pngTexts: generationTexts(record), timings, unetCalls };
  }
}

/**
 * One branch without sharing: the base runs only as far as this branch needs. The reference for
 * "shared ≡ independent" and the benchmark's baseline.
 */
export async function generateIndependently(ensemble: SdxlEnsemble, spec: TrajectorySpec, branch: Branch): Promise<BranchResult> {
  const stage = await ensemble.runBase(spec, [branch]);
  return ensemble.runRefiner(spec, stage, branch);
}

/** Validates a trajectory spec (UserError naming the field). */
export function checkTrajectorySpec(spec: TrajectorySpec): void {
  if (typeof spec.prompt !== 'string') throw new UserError('prompt must be a string');
  if (spec.negativePrompt !== null && typeof spec.negativePrompt !== 'string') throw new UserError('negativePrompt must be a string or null');
  if (!Number.isSafeInteger(spec.seed) || spec.seed < 0) throw new UserError(`seed must be a non-negative integer, got ${spec.seed}`);
  if (!Number.isInteger(spec.steps) || spec.steps < 1 || spec.steps > 1000) throw new UserError(`steps must be an integer from 1 to 1000, got ${spec.steps}`);
  for (const [name, value] of [
    ['guidance', spec.guidance],
    ['refinerGuidance', spec.refinerGuidance],
    ['guidanceRescale', spec.guidanceRescale],
    ['aestheticScore', spec.aestheticScore],
    ['negativeAestheticScore', spec.negativeAestheticScore],
  ] as const) {
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) throw new UserError(`${name} must be a finite number, got ${value}`);
  }
  if (spec.guidance < 0) throw new UserError(`guidance must be ≥ 0, got ${spec.guidance}`);
  if (spec.guidanceRescale !== undefined && (spec.guidanceRescale < 0 || spec.guidanceRescale > 1)) {
    throw new UserError(`guidanceRescale must be in [0, 1], got ${spec.guidanceRescale}`);
  }
  try {
    checkSize(spec.width, spec.height);
  } catch (error) {
    throw new UserError((error as Error).message, 'SDXL latents are 1/8 of the image size; use e.g. 1024x1024');
  }
  resolveSchedulerChoice(spec.scheduler, spec.schedulerConfig ?? {});
}

function needsRefiner(branch: Branch): boolean {
  return branch.mode === 'sdedit' || (branch.mode === 'ensemble' && branch.handoff !== 1);
}

function requireFinal(stage: BaseStage, branch: Branch): NonNullable<BaseStage['final']> {
  if (!stage.final) throw new Error(`the base stage was not run to the end, which ${branch.mode} needs`);
  return stage.final;
}

function sessionsOf(model: EnsembleModel): LazySession[] {
  return [model.unet, model.vaeDecoder, ...(model.vaeEncoder ? [model.vaeEncoder] : []), model.textEncoder2.lazy, ...(model.textEncoder1 ? [model.textEncoder1.lazy] : [])];
}

type LazyTextEncoder = TextEncoder & { lazy: LazySession };
type CacheIdFactory = (role: 'base' | 'refiner', encoderFolder: string, tokenizerFolder: string) => () => Promise<string>;
interface ModelSessionOptions {
  provider: string;
  log: (line: string) => void;
  intraOpNumThreads?: number;
  measureCpu?: boolean;
  spinBetweenRuns?: boolean;
}

function textEncoderOf(
  info: SdxlFolderInfo,
  which: 'text_encoder' | 'text_encoder_2',
  options: ModelSessionOptions,
  cacheId: CacheIdFactory,
): LazyTextEncoder {
  const encoder = which === 'text_encoder' ? info.textEncoder! : info.textEncoder2;
  const tokenizerDir = which === 'text_encoder' ? info.tokenizerDir! : info.tokenizer2Dir;
  const label = `${info.kind}/${which}`;
  if (which === 'text_encoder_2' && encoder.pooledOutput !== 'text_embeds') {
    throw new UserError(`${encoder.modelPath}: text_encoder_2 has no text_embeds output`, 'export it as CLIPTextModelWithProjection');
  }
  const lazy = new LazySession(encoder.modelPath, { ...options, label });
  return {
    lazy,
    session: () => lazy.get(),
    tokenizer: ClipTokenizer.fromFolder(tokenizerDir),
    hiddenStateOutput: encoder.penultimateOutput,
    ...(which === 'text_encoder_2' ? { pooledOutput: 'text_embeds' } : {}),
    cacheId: cacheId(info.kind, relative(info.dir, dirname(encoder.modelPath)), relative(info.dir, tokenizerDir)),
    label,
  };
}

type EnsembleModel = SdxlModel & { textEncoder2: LazyTextEncoder; textEncoder1?: LazyTextEncoder; vaeEncoder: LazySession };

function toModel(info: SdxlFolderInfo, options: ModelSessionOptions, cacheId: CacheIdFactory, unet?: OnnxSession): EnsembleModel {
  const role = info.kind;
  if (role === 'base' && (!info.textEncoder || !info.tokenizerDir)) throw new UserError(`${info.dir}: an SDXL base folder needs text_encoder/ and tokenizer/`);
  return {
    role,
    dir: info.dir,
    ...(role === 'base' ? { textEncoder1: textEncoderOf(info, 'text_encoder', options, cacheId) } : {}),
    textEncoder2: textEncoderOf(info, 'text_encoder_2', options, cacheId),
    unet: new LazySession(info.unet.modelPath, { ...options, label: `${role}/unet` }, unet),
    vaeDecoder: new LazySession(info.vaeDecoder.modelPath, { ...options, label: `${role}/vae_decoder` }),
    vaeEncoder: new LazySession(info.vaeEncoder.modelPath, { ...options, label: `${role}/vae_encoder` }),
    vaeScalingFactor: info.scalingFactor,
    forceZerosForEmptyPrompt: info.forceZerosForEmptyPrompt,
    unetConfig: info.unet.config,
  };
}
