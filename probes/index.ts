// Public surface of probes/.
export {};
export type { MetricMeta, ScorableSample, ScoreRecord, ScoringContext, Scorer } from './types.js';
export { assessImageHealth, imageStatistics, DEFAULT_HEALTH_THRESHOLDS } from './health/image-health.js';
export { createHealthScorer, healthScorer } from './health/health-scorer.js';
export { ClipModel, cosine, type ClipModelOptions, type ImageSource } from './clip/clip-model.js';
export { loadClipFolder, type ClipModelFolder, type ClipLayout } from './clip/clip-folder.js';
export { preprocessClipImage, shortestEdgeResizeSize, centerCropRgb } from './clip/preprocess.js';
export { clipScorer, CLIP_METRICS } from './clip/clip-scorer.js';
export { Registry, suggest, loadScorerRegistry, createScorer, type ScorerDefinition, type ScorerFactoryContext } from './registry.js';
export { relativePosition, selectDetections, evaluateGenEval, detectionsNeedingColour, boxIoU, GENEVAL_DEFAULTS, type Box, type Detection, type DetectionsByClass, type GenEvalResult } from './geometry/geneval-rules.js';
export { colourGeometryScorer, createColourGeometryScorer, analyseColourGeometry, COLOUR_GEOMETRY_METRICS } from './geometry/colour-geometry.js';
export { DEFAULT_COLOUR_TABLE, rgbToHsv, classifyRgb, type ColourEntry, type HsvRange } from './geometry/colour-table.js';
export { biasMetrics, genderImbalance, meanAbsoluteDeviation, normalizedEntropy, meanOverPrompts, poolCounts, groupDistribution, type BiasMetrics, type LabelCounts } from './bias/metrics.js';
export { buildContrastiveCaptions, pluralize, type ContrastiveCaptions, type Counterfactual, type CounterfactualKind, type CaptionOptions } from './clip/contrastive-captions.js';
export { contrastiveScorer, CONTRASTIVE_METRICS } from './clip/contrastive-scorer.js';
export { createOcrScorer, ocrScorer } from './ocr/ocr-scorer.js';
export { PaddleOcr, type OcrLine, type OcrResult } from './ocr/paddle-ocr.js';
export { matchText, normalizeForMatch } from './ocr/text-match.js';
