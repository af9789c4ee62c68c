// Public surface of pipelines/: everything that turns a unit into pixels.
export { UserError, isUserError } from './errors.js';
export { encodePng, decodePng, type RgbImage, type PngText, type DecodedPng } from './image/png.js';
export { ClipTokenizer, CLIP_MERGE_LIMIT, type ClipEncoding, type ClipTokenizerOptions, type ClipTokenizerParts } from './tokenizer/clip-tokenizer.js';
export type { ClipTextCleanup } from './tokenizer/text-cleanup.js';
export * from './onnx/tensor.js';
export * from './onnx/writer.js';
export * from './onnx/reader.js';
export type { NoiseSource, DiffusionScheduler, SchedulerStepResult, NoiseLevel, SchedulerClassName } from './schedulers/types.js';
export { parseSchedulerConfigJson, type SchedulerConfigInput } from './schedulers/config.js';
export { buildNoiseTables, sigmaFromAlphaCumprod, type NoiseTables, type BetaScheduleConfig } from './schedulers/noise-tables.js';
export { EulerDiscreteScheduler, type EulerDiscreteConfig, type EulerChurnOptions } from './schedulers/euler-discrete.js';
export { EulerAncestralDiscreteScheduler, type EulerAncestralDiscreteConfig } from './schedulers/euler-ancestral-discrete.js';
export { DDIMScheduler, type DDIMConfig, type DDIMOptions } from './schedulers/ddim.js';
export { DPMSolverMultistepScheduler, type DPMSolverMultistepConfig, type DPMSolverMultistepOptions } from './schedulers/dpm-solver-multistep.js';
export { createScheduler, resolveSchedulerChoice, SCHEDULER_NAMES, type SchedulerName, type SchedulerOptions, type ResolvedSchedulerChoice } from './schedulers/registry.js';
export { SDXL_SCHEDULER_CONFIG, SDXL_PIPELINE_DEFAULTS } from './schedulers/sdxl-default-config.js';
export * from './tiny/tiny-models.js';
