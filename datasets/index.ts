// Public surface of datasets/.
export {};
export type { PromptInstance, PromptExpectations, ObjectClause, Relation } from './types.js';
export type { InlinePrompt, PromptFileFormat, PromptSource, InlinePromptSource, SuitePromptSource, FilePromptSource } from './types.js';
export { loadPromptSet } from './load.js';
export { listSuites, getSuite, loadSuite, type SuiteSummary, type SuiteDefinition } from './suites/index.js';
export { readPromptFile, detectFormat, PROMPT_FILE_FORMATS, type PromptFileResult } from './adapters/index.js';
export { RELATIONS, parseExpectations } from './expectations.js';
