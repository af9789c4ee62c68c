// Public surface of probes/.
export {};
export type { MetricMeta, ScorableSample, ScoreRecord, ScoringContext, Scorer } from './types.js';
export { assessImageHealth, imageStatistics, DEFAULT_HEALTH_THRESHOLDS } from './health/image-health.js';
export { createHealthScorer, healthScorer } from './health/health-scorer.js';
