// Public surface of probes/.
export {};
export type { MetricMeta, ScorableSample, ScoreRecord, ScoringContext, Scorer } from './types.js';
export { assessImageHealth, imageStatistics, DEFAULT_HEALTH_THRESHOLDS } from './health/image-health.js';
export { createHealthScorer, healthScorer } from './health/health-scorer.js';
export { ClipModel, cosine, type ClipModelOptions, type ImageSource } from './clip/clip-model.js';
export { loadClipFolder, type ClipModelFolder, type ClipLayout } from './clip/clip-folder.js';
export { preprocessClipImage, shortestEdgeResizeSize, centerCropRgb } from './clip/preprocess.js';
export { clipScorer, CLIP_METRICS } from './clip/clip-scorer.js';
