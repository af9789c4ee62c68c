/**
 * Scorer `detector-geneval`: GenEval's clause rules (presence, count, exclusion, position; see
 * ../geometry/geneval-rules.ts) applied to the boxes of an open-vocabulary detector (OWL-ViT / OWLv2
 * folder in the transformers.js layout) instead of GenEval's Mask2Former. Results are therefore labelled
 * "GenEval rules with <detector folder name>", never "GenEval": the published GenEval numbers are not
 * comparable.
 *
 * Per sample with include clauses: the detector is queried with `query_template` for every class of
 * the include and exclude clauses; each box is labelled with its best query (transformers' OWL-ViT
 * post-processing), kept above `threshold` (`counting_threshold` for prompts tagged `counting`),
 * de-duplicated per class by NMS (`nms_iou`), and at most `max_objects` per class are kept (GenEval's
 * limit, applied after NMS here because OWL-ViT proposes one box per patch). Then every clause is checked.
 *
 * Colour: GenEval decides an object's colour with CLIP ViT-L/14 zero-shot on the masked crop. With a CLIP
 * model (the scorer option `clip_model`, else the experiment's `models.clip`) this scorer does the same on
 * the box crop (the detector gives no masks; see colour-classifier.ts) and colour clauses are checked.
 * Without one (`colour_classifier: none`, or no CLIP folder) colour requirements are NOT checked: a
 * prompt with a colour clause scores 0 when its other requirements already fail (the colour cannot
 * rescue it) and null (`undetermined`) otherwise.
 *
 * Defaults: `threshold` 0.1 is transformers' default for OWL-ViT's `post_process_object_detection`;
 * GenEval's 0.3 / 0.9 were calibrated for Mask2Former, whose scores are not on OWL-ViT's scale, so the
 * counting threshold defaults to `threshold` too (uncalibrated: set it from your own agreement check).
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { PromptExpectations } from '../../datasets/types.js';
import { UserError } from '../../pipelines/errors.js';
import { detectionsNeedingColour, evaluateGenEval, GENEVAL_DEFAULTS, selectDetections, type ClauseResult, type DetectionsByClass } from '../geometry/geneval-rules.js';
import type { ClipModel } from '../clip/clip-model.js';
import { openClipModel } from '../clip/scorer-support.js';
import { classifyColours, COLOUR_CROP_METHOD, GENEVAL_COLOUR_TEMPLATES } from './colour-classifier.js';
import type { Lease, ScorerDefinition, ScorerFactoryContext } from '../registry.js';
import type { MetricMeta, ScorableSample, ScoreRecord, Scorer } from '../types.js';
import { OwlDetector, type OwlQuery } from './owl-detector.js';
import { loadOwlFolder, type OwlFolder } from './owl-folder.js';

export const DETECTOR_GENEVAL_ID = 'detector-geneval';
export const DETECTOR_GENEVAL_VERSION = '1';

const COLOUR_NOT_CHECKED =
  'colour not checked: GenEval classifies colour with CLIP ViT-L/14 on masked crops, and this scorer was given no CLIP model (clip_model / models.clip)';

function metricsFor(label: string): MetricMeta[] {
  return [
    {
      name: 'geneval_correct',
      description: `${label}: every include clause (object present, at least its count, in the asked colour by CLIP on the box crop, at the expected position) and exclude clause (fewer than its count) of the prompt holds; null when only a colour requirement is left unchecked (no CLIP model). Not comparable to published GenEval scores (they used Mask2Former and masked crops)`,
      higherIsBetter: true,
      range: [0, 1],
      kind: 'binary',
      role: 'primary',
      failureMeans: 'an object is missing, too few or too many of it were detected, it has another colour, or it is in the wrong place (by the detector and CLIP)',
    },
  ];
}

/** The labels every result of this scorer carries. */
export function genevalRulesLabel(detectorName: string): string {
  return `GenEval rules with ${detectorName}`;
}

export const DETECTOR_GENEVAL_METRICS = metricsFor(genevalRulesLabel('an open-vocabulary detector (OWL-ViT / OWLv2; named in each record)'));

export const detectorGenevalOptionsSchema = z
  .object({
    /** detector folder; default: the experiment's `models.detector` */
    model: z.string().min(1).optional(),
    /** graph file inside the folder's onnx/ */
    model_file: z.string().min(1).default('model.onnx'),
    query_template: z
      .string()
      .refine((t) => t.includes('{class}'), 'must contain {class}')
      .default('a photo of a {class}'),
    threshold: z.number().min(0).max(1).default(0.1),
    /** for prompts tagged `counting`; default: `threshold` */
    counting_threshold: z.number().min(0).max(1).optional(),
    max_objects: z.number().int().min(1).default(GENEVAL_DEFAULTS.maxObjects),
    /** IoU above which a less confident box of the same class is dropped; 1 switches NMS off */
    nms_iou: z.number().gt(0).max(1).default(0.3),
    position_threshold: z.number().min(0).max(1).default(GENEVAL_DEFAULTS.positionThreshold),
    /** how colour clauses are checked; default: clip when a CLIP folder is known, else none */
    colour_classifier: z.enum(['clip', 'none']).optional(),
    /** CLIP folder for the colour check; default: the experiment's `models.clip` */
    clip_model: z.string().min(1).optional(),
  })
  .strict();

export type DetectorGenevalOptions = z.output<typeof detectorGenevalOptionsSchema>;

export interface DetectorRuleSettings {
  threshold: number;
  countingThreshold: number;
  maxObjects: number;
  nmsIou: number;
  positionThreshold: number;
}

export type DetectorOutcome = 'correct' | 'wrong' | 'undetermined';

export interface DetectorVerdict {
  outcome: DetectorOutcome;
  /** the detections the rules saw, per class, most confident first */
  selected: DetectionsByClass;
  clauses: ClauseResult[];
  /** GenEval's failure reasons */
  reasons: string[];
  /** colours the prompt asks for that were not checked */
  uncheckedColours: string[];
}

/** The classes to query for: those of the include and exclude clauses, in first-seen order. */
export function queryClasses(expectations: PromptExpectations | undefined): string[] {
  return [...new Set([...(expectations?.include ?? []), ...(expectations?.exclude ?? [])].map((clause) => clause.class))];
}

/** GenEval's per-class selection: thresholds (counting prompts use their own) and at most `maxObjects`. */
export function selectForRules(expectations: PromptExpectations, detections: DetectionsByClass, settings: DetectorRuleSettings): DetectionsByClass {
  return selectDetections(detections, expectations.tag, {
    threshold: settings.threshold,
    countingThreshold: settings.countingThreshold,
    maxObjects: settings.maxObjects,
    maxOverlap: 1,
  });
}

/**
 * GenEval's verdict on selected detections (pure). With `coloursChecked`, the detections that colour
 * clauses look at carry their classified `color` and every clause is checked; without, colour
 * requirements are removed and reported as unchecked (see the file comment).
 */
export function judgeSelected(expectations: PromptExpectations, selected: DetectionsByClass, settings: DetectorRuleSettings, coloursChecked: boolean): DetectorVerdict {
  const uncheckedColours = coloursChecked
    ? []
    : (expectations.include ?? []).flatMap((clause) => (clause.color !== undefined ? [`${clause.color} ${clause.class}`] : []));
  const judged: PromptExpectations = coloursChecked
    ? expectations
    : { ...expectations, include: (expectations.include ?? []).map(({ color: _color, ...clause }) => clause) };
  const result = evaluateGenEval(judged, selected, { positionThreshold: settings.positionThreshold });
  const outcome: DetectorOutcome = !result.correct ? 'wrong' : uncheckedColours.length ? 'undetermined' : 'correct';
  // report clauses with their original colour so readers see what was asked
  const clauses = result.clauses.map((c) => ({ ...c, clause: (c.kind === 'include' ? expectations.include : expectations.exclude)![c.index] }));
  return { outcome, selected, clauses, reasons: result.reasons, uncheckedColours };
}

/** `judgeSelected` on raw (decoded, NMS'd) detections without a colour classifier. */
export function judgeDetections(expectations: PromptExpectations, detections: DetectionsByClass, settings: DetectorRuleSettings): DetectorVerdict {
  return judgeSelected(expectations, selectForRules(expectations, detections, settings), settings, false);
}

/** The one record of a judged sample. */
export function detectorRecord(
  sample: ScorableSample,
  verdict: DetectorVerdict,
  context: {
    detector: OwlFolder;
    queries: string[];
    truncatedQueries: string[];
    settings: DetectorRuleSettings;
    imageSize: { width: number; height: number };
    /** set when colour clauses were checked: the CLIP folder and how */
    colourClassifier?: { model: string; method: string; templates: readonly string[] };
  },
): ScoreRecord {
  const label = genevalRulesLabel(context.detector.name);
  return {
    sampleKey: sample.key,
    scorer: DETECTOR_GENEVAL_ID,
    metric: 'geneval_correct',
    value: verdict.outcome === 'undetermined' ? null : verdict.outcome === 'correct' ? 1 : 0,
    label: verdict.outcome,
    detail: {
      rules: label,
      detector: { name: context.detector.name, modelType: context.detector.modelType },
      tag: sample.prompt.expectations?.tag ?? sample.prompt.category,
      failed: verdict.reasons,
      clauses: verdict.clauses.map((c) => ({
        kind: c.kind,
        index: c.index,
        class: c.clause.class,
        count: c.clause.count ?? 1,
        ...(c.clause.color !== undefined ? { color: c.clause.color } : {}),
        ...(c.clause.position ? { position: c.clause.position } : {}),
        passed: c.passed,
        ...(c.reason ? { reason: c.reason } : {}),
        ...(c.found ? { found: c.found } : {}),
      })),
      ...(verdict.uncheckedColours.length ? { colour: COLOUR_NOT_CHECKED, uncheckedColours: verdict.uncheckedColours } : {}),
      ...(context.colourClassifier ? { colourClassifier: context.colourClassifier } : {}),
      detections: verdict.selected,
      imageSize: context.imageSize,
      queries: context.queries,
      ...(context.truncatedQueries.length ? { truncatedQueries: context.truncatedQueries } : {}),
      settings: context.settings,
    },
  };
}

function resolveDetectorDir(model: string | undefined, context: ScorerFactoryContext): string {
  if (model !== undefined) return isAbsolute(model) ? model : resolve(context.baseDir, model);
  const fromExperiment = context.models?.detector;
  if (fromExperiment === 'tiny') {
    throw new UserError(`scorer '${DETECTOR_GENEVAL_ID}': models.detector 'tiny' has no generated detector here; pass a detector folder (e.g. Xenova/owlvit-base-patch32)`);
  }
  if (fromExperiment) return fromExperiment;
  throw new UserError(
    `scorer '${DETECTOR_GENEVAL_ID}' needs an OWL-ViT / OWLv2 folder: set models.detector in the experiment or the scorer option 'model'`,
  );
}

export function createDetectorGenevalScorer(options: Record<string, unknown>, context: ScorerFactoryContext): Scorer {
  const parsed = detectorGenevalOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `options${issue.path.map((k) => `.${String(k)}`).join('')}: ${issue.message}`);
    throw new UserError(`scorer '${DETECTOR_GENEVAL_ID}': ${problems.join('; ')}`);
  }
  const o = parsed.data;
  const folder = loadOwlFolder(resolveDetectorDir(o.model, context), { modelFile: o.model_file });
  const settings: DetectorRuleSettings = {
    threshold: o.threshold,
    countingThreshold: o.counting_threshold ?? o.threshold,
    maxObjects: o.max_objects,
    nmsIou: o.nms_iou,
    positionThreshold: o.position_threshold,
  };
  const applies = (sample: ScorableSample) => (sample.prompt.expectations?.include?.length ?? 0) > 0;
  const clipKnown = o.clip_model !== undefined || (context.models?.clip !== undefined && context.models.clip !== '');
  if (o.colour_classifier === 'clip' && !clipKnown) {
    throw new UserError(`scorer '${DETECTOR_GENEVAL_ID}': options.colour_classifier 'clip' needs a CLIP folder: set options.clip_model or models.clip`);
  }
  const checkColours = (o.colour_classifier ?? (clipKnown ? 'clip' : 'none')) === 'clip';
  let clip: Promise<Lease<ClipModel>> | undefined;
  const openClip = () =>
    (clip ??= openClipModel(DETECTOR_GENEVAL_ID, { model: o.clip_model }, context).catch((error) => {
      clip = undefined;
      throw error;
    }));
  let detector: Promise<OwlDetector> | undefined;
  const open = () =>
    (detector ??= OwlDetector.load(folder, { provider: context.device, ...(context.log ? { log: context.log } : {}) }).catch((error) => {
      detector = undefined;
      throw error;
    }));
  return {
    id: DETECTOR_GENEVAL_ID,
    version: DETECTOR_GENEVAL_VERSION,
    description: `${genevalRulesLabel(folder.name)}: presence, count, exclusion and position of the prompt's objects; colour ${checkColours ? 'by CLIP on box crops' : 'not checked (no CLIP model)'}`,
    metrics: metricsFor(genevalRulesLabel(folder.name)),
    appliesTo: applies,
    async score(samples, scoringContext) {
      const records: ScoreRecord[] = [];
      for (const sample of samples) {
        if (!applies(sample)) continue;
        const expectations = sample.prompt.expectations!;
        const queries: OwlQuery[] = queryClasses(expectations).map((className) => ({ className, text: o.query_template.replaceAll('{class}', className) }));
        const image = await scoringContext.loadImage(sample);
        const lowest = Math.min(settings.threshold, settings.countingThreshold);
        const found = await (await open()).detect(image, queries, { threshold: lowest, nmsIou: settings.nmsIou });
        const selected = selectForRules(expectations, found.detections, settings);
        let colourClassifier: { model: string; method: string; templates: readonly string[] } | undefined;
        const needing = checkColours ? detectionsNeedingColour(expectations, selected).filter((need) => need.detections.length > 0) : [];
        if (checkColours) {
          const model = (await openClip()).value;
          for (const need of needing) {
            const votes = await classifyColours(model, image, sample.key, need.className, need.detections);
            need.detections.forEach((detection, i) => (detection.color = votes[i].colour));
          }
          colourClassifier = { model: model.folder.name, method: COLOUR_CROP_METHOD, templates: GENEVAL_COLOUR_TEMPLATES };
        }
        const verdict = judgeSelected(expectations, selected, settings, checkColours);
        records.push(
          detectorRecord(sample, verdict, {
            detector: folder,
            queries: queries.map((q) => q.text),
            truncatedQueries: found.truncatedQueries,
            settings,
            imageSize: { width: image.width, height: image.height },
            ...(colourClassifier ? { colourClassifier } : {}),
          }),
        );
      }
      return records;
    },
    async dispose() {
      const opened = detector;
      const lease = clip;
      detector = undefined;
      clip = undefined;
      if (opened) await (await opened).dispose();
      if (lease) await (await lease).release();
    },
  };
}

export const detectorGenevalScorer: ScorerDefinition = {
  id: DETECTOR_GENEVAL_ID,
  description: `${genevalRulesLabel('an OWL-ViT / OWLv2 folder')}: presence, count, exclusion and position of the prompt's objects, colour by CLIP on box crops when a CLIP model is given; not GenEval's Mask2Former`,
  metrics: DETECTOR_GENEVAL_METRICS,
  probe: { tests: 'object presence, counting, colour attribution and spatial relations (GenEval-style clauses)', suites: ['relations', 'counting', 'attribute-binding'] },
  create: (options, context) => createDetectorGenevalScorer(options, context),
};
