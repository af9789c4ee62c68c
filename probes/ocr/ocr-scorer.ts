/**
 * Scorer `ocr`: the text-rendering probe. For prompts whose expectations carry quoted strings
 * (`expectations.text`, e.g. the `text-rendering` suite), reads the image with PaddleOCR PP-OCRv4
 * (paddle-ocr.ts) and matches every string against the recognised text (text-match.ts has the
 * normalisation: case-folded, whitespace collapsed, punctuation stripped at the ends of words).
 *
 * Metrics (the store keeps one value per sample and metric, so several strings in one prompt are
 * combined; `detail.matches` has every string's own result):
 * - `ocr_exact` (binary): 1 when every quoted string is found exactly, as whole words, in the OCR text;
 * - `ocr_edit_distance` (0..1, lower is better): the normalised edit distance between each string and the
 *   best-matching window of the OCR text, averaged over the strings.
 * `detail` also has the recognised lines with their boxes and confidences, and the lines set aside for
 * low confidence.
 */
import { z } from 'zod';
import { describeIssues } from '../../datasets/expectations.js';
import { UserError } from '../../pipelines/errors.js';
import { resolve } from 'node:path';
import type { ScorerDefinition, ScorerFactoryContext } from '../registry.js';
import type { MetricMeta, ScorableSample, ScoreRecord, Scorer } from '../types.js';
import { DEFAULT_DETECTOR_OPTIONS } from './db-detector.js';
import { defaultOcrModelDir, ocrModelPaths, PaddleOcr, type OcrResult } from './paddle-ocr.js';
import { matchText, type TextMatch } from './text-match.js';

export const OCR_ID = 'ocr';
export const OCR_VERSION = '1';

export const OCR_METRICS: MetricMeta[] = [
  {
    name: 'ocr_exact',
    description: 'every quoted string of the prompt is read back exactly by OCR (PaddleOCR PP-OCRv4; case, spacing and end punctuation ignored)',
    higherIsBetter: true,
    range: [0, 1],
    kind: 'binary',
    role: 'primary',
    failureMeans: 'the requested text is missing, misspelled or illegible',
  },
  {
    name: 'ocr_edit_distance',
    description: 'normalised edit distance between each quoted string and the best-matching part of the OCR text (0 = exact, 1 = nothing in common), mean over the strings',
    higherIsBetter: false,
    range: [0, 1],
    kind: 'continuous',
    role: 'secondary',
  },
];

export const ocrOptionsSchema = z
  .object({
    /** folder with ch_PP-OCRv4_det_infer.onnx, ch_PP-OCRv4_rec_infer.onnx, ppocr_keys_v1.txt */
    model_dir: z.string().min(1).optional(),
    det_limit_side_len: z.number().int().min(32).max(8192).default(DEFAULT_DETECTOR_OPTIONS.limitSideLen),
    det_threshold: z.number().gt(0).lt(1).default(DEFAULT_DETECTOR_OPTIONS.threshold),
    box_threshold: z.number().min(0).max(1).default(DEFAULT_DETECTOR_OPTIONS.boxThreshold),
    unclip_ratio: z.number().gt(0).max(10).default(DEFAULT_DETECTOR_OPTIONS.unclipRatio),
    max_candidates: z.number().int().min(1).default(DEFAULT_DETECTOR_OPTIONS.maxCandidates),
    min_line_confidence: z.number().min(0).max(1).default(0.5),
  })
  .strict();

export type OcrOptions = z.input<typeof ocrOptionsSchema>;

export function ocrApplies(sample: ScorableSample): boolean {
  return (sample.prompt.expectations?.text?.length ?? 0) > 0;
}

/** The two records of one sample from its OCR result. */
export function ocrRecords(sampleKey: string, expected: readonly string[], result: OcrResult): ScoreRecord[] {
  const matches: TextMatch[] = expected.map((text) => matchText(text, result.text));
  const judged = matches.filter((m) => m.exact !== null);
  const detail = {
    text: result.text,
    matches,
    lines: result.lines,
    rejected: result.rejected,
  };
  const exact = judged.length === 0 ? null : judged.every((m) => m.exact) ? 1 : 0;
  const distance = judged.length === 0 ? null : judged.reduce((sum, m) => sum + m.editDistance!, 0) / judged.length;
  return [
    { sampleKey, scorer: OCR_ID, metric: 'ocr_exact', value: exact, label: exact === null ? 'undetermined' : exact ? 'exact' : 'not found', detail },
    { sampleKey, scorer: OCR_ID, metric: 'ocr_edit_distance', value: distance, detail },
  ];
}

export function createOcrScorer(options: Record<string, unknown> = {}, context: Partial<ScorerFactoryContext> = {}): Scorer {
  const parsed = ocrOptionsSchema.safeParse(options);
  if (!parsed.success) throw new UserError(`scorer '${OCR_ID}' options: ${describeIssues(parsed.error)}`);
  const o = parsed.data;
  const modelDir = o.model_dir ? resolve(context.baseDir ?? '.', o.model_dir) : defaultOcrModelDir();
  try {
    ocrModelPaths(modelDir);
  } catch (error) {
    if (error instanceof UserError) throw new UserError(`scorer '${OCR_ID}' option model_dir: ${error.message}`);
    throw error;
  }
  let engine: Promise<PaddleOcr> | null = null;
  const load = () =>
    (engine ??= PaddleOcr.load({
      modelDir,
      provider: context.device,
      log: context.log,
      minLineConfidence: o.min_line_confidence,
      detector: {
        limitSideLen: o.det_limit_side_len,
        threshold: o.det_threshold,
        boxThreshold: o.box_threshold,
        unclipRatio: o.unclip_ratio,
        maxCandidates: o.max_candidates,
      },
    }));
  return {
    id: OCR_ID,
    version: OCR_VERSION,
    description: ocrScorer.description,
    metrics: OCR_METRICS,
    appliesTo: ocrApplies,
    async score(samples, scoringContext) {
      const records: ScoreRecord[] = [];
      for (const sample of samples) {
        if (!ocrApplies(sample)) continue;
        const image = await scoringContext.loadImage(sample);
        const result = await (await load()).read(image);
        records.push(...ocrRecords(sample.key, sample.prompt.expectations!.text!, result));
      }
      return records;
    },
    async dispose() {
      const loaded = engine;
      engine = null;
      if (loaded) await (await loaded).dispose();
    },
  };
}

export const ocrScorer: ScorerDefinition = {
  id: OCR_ID,
  description: 'text rendering: OCR (PaddleOCR PP-OCRv4 via onnxruntime-node) of quoted strings, exact match and normalised edit distance',
  metrics: OCR_METRICS,
  probe: { tests: 'legible rendering of quoted text', suites: ['text-rendering'] },
  create: (options, context) => createOcrScorer(options, context),
};
