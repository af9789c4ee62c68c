// Public surface of datasets/.
export {};
export type { PromptInstance, PromptExpectations, ObjectClause, Relation } from './types.js';
