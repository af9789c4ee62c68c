/**
 * Scorer `colour-geometry`: model-free check of spatial relations between objects of distinct named
 * colours ("a red cube on top of a blue sphere"). Pixels are labelled with named colours (HSV ranges,
 * colour-table.ts), each colour's main 8-connected component is the object, and GenEval's position rule
 * decides the relation between the two boxes.
 *
 * Metrics:
 * - `relation_correct` (binary): 1 when every colour-to-colour relation of the prompt holds, 0 when one
 *   does not; null (label `undetermined`) when an object's colour is missing or ambiguous (several large
 *   separate pieces) and no relation is wrong. Emitted for prompts with a position clause between two
 *   clauses of distinct colours.
 * - `colours_present` (binary): 1 when every named colour of the prompt shows up as an object. Emitted
 *   for prompts with at least two clauses of distinct known colours (relations and attribute binding).
 *   It cannot tell which object wears which colour (binding needs the object's identity: use the
 *   contrastive or detector probes for that).
 * `detail` holds the boxes (original image coordinates) and the relations found, for reports to draw.
 *
 * Limits: the background or a large prop of a named colour (blue sky behind "a blue sphere") can take
 * that colour's place; components above `max_area_fraction` are treated as background for that reason.
 */
import { z } from 'zod';
import type { ObjectClause, PromptExpectations, Relation } from '../../datasets/types.js';
import { UserError } from '../../pipelines/errors.js';
import type { RgbImage } from '../../pipelines/image/png.js';
import { describeIssues } from '../../datasets/expectations.js';
import type { ScorerDefinition } from '../registry.js';
import type { MetricMeta, ScorableSample, ScoreRecord, Scorer } from '../types.js';
import { DEFAULT_COLOUR_ALIASES, DEFAULT_COLOUR_TABLE, mergeColourTable, type ColourEntry } from './colour-table.js';
import { connectedComponents, labelPixels, selectColourObject, type ColourObject } from './colour-segmentation.js';
import { relativePosition, type Box } from './geneval-rules.js';

export const COLOUR_GEOMETRY_ID = 'colour-geometry';
export const COLOUR_GEOMETRY_VERSION = '1';

export const COLOUR_GEOMETRY_METRICS: MetricMeta[] = [
  {
    name: 'relation_correct',
    description:
      "the prompt's spatial relation holds between the objects found by colour (GenEval position rule on colour-segment boxes); null when a colour is missing or ambiguous",
    higherIsBetter: true,
    range: [0, 1],
    kind: 'binary',
    role: 'primary',
    failureMeans: 'both coloured objects are there but in the wrong arrangement',
  },
  {
    name: 'colours_present',
    description: 'every colour the prompt names for an object appears as an object-sized region',
    higherIsBetter: true,
    range: [0, 1],
    kind: 'binary',
    role: 'secondary',
    failureMeans: 'an object, or its colour, is missing from the image',
  },
];

const hsvRangeSchema = z
  .object({
    hue: z.tuple([z.number().min(0).max(360), z.number().min(0).max(360)]).optional(),
    saturation: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).optional(),
    value: z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]).optional(),
  })
  .strict();

export const colourGeometryOptionsSchema = z
  .object({
    analysis_size: z.number().int().min(32).max(4096).default(256),
    smooth_labels: z.boolean().default(true),
    min_area_fraction: z.number().min(0).max(1).default(0.002),
    max_area_fraction: z.number().min(0).max(1).default(0.5),
    merge_gap_fraction: z.number().min(0).max(1).default(0.02),
    ambiguity_ratio: z.number().min(0).max(1).default(0.5),
    position_threshold: z.number().min(0).max(1).default(0.1),
    /** per colour name: replacement HSV ranges (existing names) or a new colour (appended) */
    colours: z.record(z.string().min(1), z.array(hsvRangeSchema).min(1)).default({}),
    /** extra spellings, e.g. { "navy": "blue" } */
    aliases: z.record(z.string().min(1), z.string().min(1)).default({}),
  })
  .strict();

export type ColourGeometryOptions = z.input<typeof colourGeometryOptionsSchema>;

export interface ColourGeometryConfig {
  table: ColourEntry[];
  aliases: Record<string, string>;
  options: z.output<typeof colourGeometryOptionsSchema>;
}

export function resolveColourGeometryConfig(options: Record<string, unknown> = {}): ColourGeometryConfig {
  const parsed = colourGeometryOptionsSchema.safeParse(options);
  if (!parsed.success) throw new UserError(`scorer '${COLOUR_GEOMETRY_ID}' options: ${describeIssues(parsed.error)}`);
  const table = mergeColourTable(DEFAULT_COLOUR_TABLE, parsed.data.colours);
  const aliases = { ...DEFAULT_COLOUR_ALIASES, ...parsed.data.aliases };
  for (const [alias, target] of Object.entries(aliases)) {
    if (!table.some((e) => e.name === target)) throw new UserError(`scorer '${COLOUR_GEOMETRY_ID}' options: aliases.${alias}: unknown colour '${target}'`);
  }
  return { table, aliases, options: parsed.data };
}

function canonicalColour(name: string, config: ColourGeometryConfig): string | undefined {
  const lower = name.toLowerCase();
  const resolved = config.aliases[lower] ?? lower;
  return config.table.some((e) => e.name === resolved) ? resolved : undefined;
}

interface RelationCheck {
  subject: ObjectClause;
  reference: ObjectClause;
  relation: Relation;
}

interface ColourPlan {
  /** colours named on include clauses that the table knows, canonical names */
  colours: string[];
  /** named colours the table does not know */
  unknownColours: string[];
  /** position clauses between two clauses of distinct colours */
  relations: RelationCheck[];
}

function planChecks(expectations: PromptExpectations | undefined, config: ColourGeometryConfig): ColourPlan {
  const include = expectations?.include ?? [];
  const named = include.filter((c) => c.color !== undefined);
  const colours = [...new Set(named.map((c) => canonicalColour(c.color!, config)).filter((c): c is string => c !== undefined))];
  const unknownColours = [...new Set(named.filter((c) => !canonicalColour(c.color!, config)).map((c) => c.color!))];
  const relations: RelationCheck[] = [];
  for (const clause of include) {
    if (!clause.position || !clause.color) continue;
    const reference = include[clause.position[1]];
    if (!reference?.color || reference.color.toLowerCase() === clause.color.toLowerCase()) continue;
    relations.push({ subject: clause, reference, relation: clause.position[0] });
  }
  return { colours, unknownColours, relations };
}

/** True when the prompt names at least two distinct colours the table knows. */
export function colourGeometryApplies(expectations: PromptExpectations | undefined, config: ColourGeometryConfig): boolean {
  return planChecks(expectations, config).colours.length >= 2;
}

export type RelationOutcome = 'correct' | 'wrong' | 'undetermined';

export interface RelationFinding {
  subject: { class: string; color: string; box: Box | null };
  reference: { class: string; color: string; box: Box | null };
  expected: Relation;
  /** GenEval relations of subject relative to reference; null when undetermined */
  found: Relation[] | null;
  outcome: RelationOutcome;
  reason?: string;
}

export interface ColourGeometryAnalysis {
  imageSize: { width: number; height: number };
  /** per colour of the prompt (canonical name) */
  objects: Record<string, ColourObject>;
  unknownColours: string[];
  relations: RelationFinding[];
  /** all relations hold (correct), one fails (wrong), otherwise undetermined; absent without relations */
  relationOutcome?: RelationOutcome;
  coloursPresent: boolean;
}

/** The probe's analysis of one image against one prompt's expectations (pure). */
export function analyseColourGeometry(image: RgbImage, expectations: PromptExpectations | undefined, config: ColourGeometryConfig): ColourGeometryAnalysis {
  const plan = planChecks(expectations, config);
  const o = config.options;
  const labelImage = labelPixels(image, config.table, { analysisSize: o.analysis_size, smoothLabels: o.smooth_labels });
  const indexOf = new Map(config.table.map((entry, index) => [entry.name, index]));
  const wanted = new Set(plan.colours.map((c) => indexOf.get(c)!));
  const components = connectedComponents(labelImage, wanted);
  const objects: Record<string, ColourObject> = {};
  for (const colour of plan.colours) {
    const label = indexOf.get(colour)!;
    objects[colour] = selectColourObject(
      components.filter((c) => c.label === label),
      labelImage,
      {
        minAreaFraction: o.min_area_fraction,
        maxAreaFraction: o.max_area_fraction,
        mergeGapFraction: o.merge_gap_fraction,
        ambiguityRatio: o.ambiguity_ratio,
      },
    );
  }
  const boxOf = (colour: string | undefined): Box | null => {
    const found = colour ? objects[colour] : undefined;
    return found?.status === 'found' ? found.box : null;
  };
  const relations = plan.relations.map((check): RelationFinding => {
    const subjectColour = canonicalColour(check.subject.color!, config);
    const referenceColour = canonicalColour(check.reference.color!, config);
    const subject = { class: check.subject.class, color: check.subject.color!, box: boxOf(subjectColour) };
    const reference = { class: check.reference.class, color: check.reference.color!, box: boxOf(referenceColour) };
    const undetermined = (reason: string): RelationFinding => ({ subject, reference, expected: check.relation, found: null, outcome: 'undetermined', reason });
    if (!subjectColour || !referenceColour) return undetermined(`no colour range for '${subjectColour ? check.reference.color : check.subject.color}'`);
    if (subjectColour === referenceColour) return undetermined(`'${check.subject.color}' and '${check.reference.color}' are one colour here`);
    if ((check.subject.count ?? 1) > 1 || (check.reference.count ?? 1) > 1) return undetermined('only single objects per colour are supported');
    for (const [colour, side] of [
      [subjectColour, subject],
      [referenceColour, reference],
    ] as const) {
      const found = objects[colour];
      if (found.status === 'missing') return undetermined(`no ${colour} object (${side.class})`);
      if (found.status === 'ambiguous') return undetermined(`${found.boxes.length} separate ${colour} regions (${side.class})`);
    }
    const foundRelations = relativePosition(subject.box!, reference.box!, o.position_threshold);
    return { subject, reference, expected: check.relation, found: foundRelations, outcome: foundRelations.includes(check.relation) ? 'correct' : 'wrong' };
  });
  const relationOutcome: RelationOutcome | undefined = !relations.length
    ? undefined
    : relations.some((r) => r.outcome === 'wrong')
      ? 'wrong'
      : relations.every((r) => r.outcome === 'correct')
        ? 'correct'
        : 'undetermined';
  return {
    imageSize: { width: image.width, height: image.height },
    objects,
    unknownColours: plan.unknownColours,
    relations,
    ...(relationOutcome ? { relationOutcome } : {}),
    coloursPresent: plan.colours.every((c) => objects[c].status !== 'missing'),
  };
}

/** Records for one sample from its analysis. */
export function colourGeometryRecords(sampleKey: string, analysis: ColourGeometryAnalysis): ScoreRecord[] {
  const detail = { imageSize: analysis.imageSize, objects: analysis.objects, relations: analysis.relations, unknownColours: analysis.unknownColours };
  const records: ScoreRecord[] = [
    {
      sampleKey,
      scorer: COLOUR_GEOMETRY_ID,
      metric: 'colours_present',
      value: analysis.coloursPresent ? 1 : 0,
      label: analysis.coloursPresent ? 'present' : 'missing',
      detail,
    },
  ];
  if (analysis.relationOutcome) {
    records.push({
      sampleKey,
      scorer: COLOUR_GEOMETRY_ID,
      metric: 'relation_correct',
      value: analysis.relationOutcome === 'undetermined' ? null : analysis.relationOutcome === 'correct' ? 1 : 0,
      label: analysis.relationOutcome,
      detail,
    });
  }
  return records;
}

export function createColourGeometryScorer(options: Record<string, unknown> = {}): Scorer {
  const config = resolveColourGeometryConfig(options);
  const applies = (sample: ScorableSample) => colourGeometryApplies(sample.prompt.expectations, config);
  return {
    id: COLOUR_GEOMETRY_ID,
    version: COLOUR_GEOMETRY_VERSION,
    description: colourGeometryScorer.description,
    metrics: COLOUR_GEOMETRY_METRICS,
    appliesTo: applies,
    async score(samples, context) {
      const records: ScoreRecord[] = [];
      for (const sample of samples) {
        if (!applies(sample)) continue;
        const image = await context.loadImage(sample);
        records.push(...colourGeometryRecords(sample.key, analyseColourGeometry(image, sample.prompt.expectations, config)));
      }
      return records;
    },
  };
}

export const colourGeometryScorer: ScorerDefinition = {
  id: COLOUR_GEOMETRY_ID,
  description: 'model-free spatial relations between objects of distinct named colours (HSV segmentation + GenEval position rule)',
  metrics: COLOUR_GEOMETRY_METRICS,
  probe: { tests: 'spatial relations and colour presence', suites: ['relations', 'attribute-binding'] },
  create: (options) => createColourGeometryScorer(options),
};
