/**
 * Types of a resolved experiment and of its expansion into conditions and units.
 *
 * `ExperimentSpec` is what `loadExperiment` returns after `extends`, `--set` overrides, defaults and
 * validation (the zod schema in `schema.ts` is checked against it at compile time). Field names follow
 * the YAML file (snake_case); `Condition` and `Unit` are harness records (camelCase).
 * @module
 */
import type {
  FilePromptSource,
  InlinePrompt,
  InlinePromptSource,
  PromptFileFormat,
  PromptInstance,
  PromptSource,
  SuitePromptSource,
} from '../../datasets/types.js';

/** Execution providers onnxruntime-node can be asked for; which exist depends on the installed build. */
export type Device = 'cpu' | 'cuda' | 'tensorrt' | 'dml' | 'coreml';

/** A model folder: an absolute path once loaded, or `tiny` for the generated tiny test models. */
export type ModelRef = string;

export interface ModelsSpec {
  /** SDXL base model folder (absolute after loading) or `tiny` */
  base: ModelRef;
  /** SDXL refiner model folder or `tiny`; required when any condition uses the refiner */
  refiner?: ModelRef;
  /** CLIP model folder for the CLIP scorers, or `tiny` */
  clip?: ModelRef;
  /** object detector model folder for the detector probe */
  detector?: ModelRef;
  /** execution provider */
  device: Device;
}

/** A prompt source as written (inline list, built-in suite or file); defined by datasets/. */
export type PromptSourceSpec = PromptSource;
export type { InlinePrompt, InlinePromptSource, SuitePromptSource, FilePromptSource, PromptFileFormat };

/** Seeds as written: an explicit list, a half-open range [start, end), or `count` seeds from `start`. */
export type SeedsSpec = number[] | { range: [number, number] } | { count: number; start: number };

/** How an image is made: base alone, base + refiner handoff (ensemble of experts), or SDEdit refinement. */
export type ModeSpec = 'base-only' | { handoff: number } | { strength: number };

export interface GenerationSpec {
  /** ensemble / SDEdit / base-only when the sweep has no `mode` axis */
  mode: ModeSpec;
  steps: number;
  guidance: number;
  /** refiner guidance scale; the base guidance when absent */
  refiner_guidance?: number;
  guidance_rescale: number;
  scheduler: string;
  /** overrides on top of the model's scheduler_config.json */
  scheduler_config: Record<string, unknown>;
  width: number;
  height: number;
  negative_prompt: string | null;
  aesthetic_score: number;
  negative_aesthetic_score: number;
}

/** Sweep axes after normalisation (the `handoff`/`strength`/`base_only` shorthands folded into `mode`). */
export interface SweepSpec {
  mode?: ModeSpec[];
  steps?: number[];
  guidance?: number[];
  scheduler?: string[];
  /** `WIDTHxHEIGHT` strings */
  size?: string[];
  negative_prompt?: (string | null)[];
}

export interface ScorerSpec {
  id: string;
  options: Record<string, unknown>;
}

export interface ReportSpec {
  title: string;
  /** condition the others are compared with: a condition id, label or mode (`base-only`, `handoff=0.8`) */
  reference_condition: string;
  bootstrap_resamples: number;
  seed: number;
  /** conditions to compare with the reference (default: all) */
  compare?: string[];
}

export interface RunSettingsSpec {
  batch: number;
  low_memory: boolean;
  fail_fast: boolean;
  /** absolute after loading (written relative to the current directory) */
  out_dir: string;
}

export interface ExperimentSpec {
  name: string;
  description?: string;
  models: ModelsSpec;
  prompts: PromptSourceSpec[];
  seeds: SeedsSpec;
  generation: GenerationSpec;
  sweep: SweepSpec;
  scorers: ScorerSpec[];
  report: ReportSpec;
  run: RunSettingsSpec;
}

export type ConditionMode = 'base-only' | 'ensemble' | 'sdedit';

/** One point of the sweep apart from prompt and seed. */
export interface Condition {
  /** canonical name from key=value pairs in a fixed order, e.g. "mode=ensemble,handoff=0.8,steps=40,guidance=5,scheduler=euler,size=1024x1024" */
  id: string;
  /** short name showing only the axes that vary in this experiment, e.g. "handoff=0.8" */
  label: string;
  mode: ConditionMode;
  /** ensemble: fraction of the schedule the base denoises (diffusers denoising_end) */
  handoff?: number;
  /** sdedit: fraction of the steps the refiner re-runs on the finished base image */
  strength?: number;
  steps: number;
  guidance: number;
  /** refiner guidance (equal to `guidance` when not set separately) */
  refinerGuidance: number;
  guidanceRescale: number;
  scheduler: string;
  /** the experiment's overrides on top of the model's scheduler config */
  schedulerConfig: Record<string, unknown>;
  width: number;
  height: number;
  negativePrompt: string | null;
  aestheticScore: number;
  negativeAestheticScore: number;
}

/** Condition × prompt × seed: exactly one image. */
export interface Unit {
  /** sha256 hex of the canonical JSON of everything that determines the image (see keys.ts) */
  key: string;
  condition: Condition;
  prompt: PromptInstance;
  seed: number;
  /**
   * hash of what determines the base trajectory (base model hash, prompt, negative, seed, steps,
   * guidance, guidance rescale, scheduler + config, size); units sharing it differ only in mode,
   * handoff or strength and can branch from one base run
   */
  trajectoryKey: string;
}

/** File hashes of the models, computed by whoever resolves the model folders. */
export interface ModelHashes {
  /** sha256 identifying the base model (e.g. over its files' sha256s) */
  base: string;
  /** sha256 identifying the refiner; required when a condition uses the refiner */
  refiner?: string;
  /**
   * the base model's scheduler_config.json as loaded; merged under the experiment's overrides so that
   * keys cover the fully resolved scheduler config
   */
  schedulerConfig?: Record<string, unknown>;
  /** the refiner's scheduler_config.json, when the refiner is used */
  refinerSchedulerConfig?: Record<string, unknown>;
}

export interface Expansion {
  conditions: Condition[];
  units: Unit[];
}
