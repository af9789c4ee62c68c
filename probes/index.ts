// Public surface of probes/.
export {};
export type { MetricMeta, ScorableSample, ScoreRecord, ScoringContext, Scorer } from './types.js';
