// Public surface of harness/.
export {};
export type * from './experiment/types.js';
export { loadExperiment, deepMerge, applySet, type LoadOptions, type LoadedExperiment, type KnownSuite } from './experiment/load.js';
export { parseExperiment, formatProblem, experimentJsonSchema, ExperimentSchema, PROMPT_FILE_FORMATS as EXPERIMENT_PROMPT_FORMATS, type Problem, type ParseResult } from './experiment/schema.js';
export { expandExperiment, buildConditions, resolveSeeds, selectConditions, checkReportSelectors, summarizeExpansion, modeLabel, type ExpandOptions, type ExpansionSummary } from './experiment/expand.js';
export { canonicalJson, contentKey, sha256Hex, unitKey, trajectoryKey, unitSetKey, imageDescriptor, trajectoryDescriptor, usesRefiner, PIPELINE_SEMANTICS_VERSION, NOISE_GENERATOR_ID, type KeyInput, type ImageDescriptor, type TrajectoryDescriptor, type ResolvedSchedulerConfigs } from './experiment/keys.js';
export { collectPrompts, resolvePrompts, type ResolvedPrompts } from './experiment/prompts.js';
export { RunStore, STORE_SCHEMA_VERSION } from './store/store.js';
export type { UnitRow, SampleRow, SampleStatus, StoredScore, StoreCounts, TimingRow, ScorerIdentity } from './store/store.js';
