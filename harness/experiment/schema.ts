/**
 * The experiment file schema (zod 4): shapes, ranges, defaults and the descriptions that become the
 * JSON Schema (`refinery schema`) and docs/experiment-reference.md. Cross-field rules (the refiner a mode
 * needs, duplicates across the sweep shorthands) and defaults that depend on other fields are applied in
 * the final transform, so a parsed value is a complete `ExperimentSpec`.
 *
 * @example
 * const { spec, problems } = parseExperiment(yaml.parse(text));
 * if (!spec) console.error(problems.map(formatProblem).join('\n'));
 * @module
 */
import { z } from 'zod';
import { resolveSchedulerChoice, SCHEDULER_NAMES } from '../../pipelines/schedulers/registry.js';
import { canonicalJson } from './keys.js';
import type {
  ExperimentSpec,
  ModeSpec,
  PromptSourceSpec,
  ScorerSpec,
  SweepSpec,
} from './types.js';

/** One problem in an experiment file: where (`sweep.handoff[2]`) and what. */
export interface Problem {
  path: string;
  message: string;
}

export function formatProblem(problem: Problem): string {
  return problem.path ? `${problem.path}: ${problem.message}` : problem.message;
}

type Issue = z.core.$ZodRawIssue;

// ---------- message helpers ----------

/** A short rendering of a user value for "(got …)". */
export function showValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = typeof value === 'number' && !Number.isFinite(value) ? String(value) : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function got(issue: { input?: unknown }): string {
  return `(got ${showValue(issue.input)})`;
}

/** Levenshtein distance, for did-you-mean suggestions. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The closest candidate within a small edit distance, if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const normalized = word.toLowerCase().replace(/-/g, '_');
  for (const candidate of candidates) {
    const distance = editDistance(normalized, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/**
 * Keys that belong to another section, so a misplaced key gets a pointer: `steps` at the top level
 * → "belongs under generation".
 */
type SectionHints = Record<string, readonly string[]>;

/**
 * A strict object whose unknown keys are reported one per line (in the order of `issue.keys`), each
 * with a did-you-mean; `formatIssues` splits the lines back onto `path.key`.
 */
function strictObject<Shape extends z.core.$ZodLooseShape>(shape: Shape, hints: SectionHints = {}) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      return issue.keys
        .map((key) => {
          const section = Object.entries(hints).find(([, keys]) => keys.includes(key))?.[0];
          if (section) return `unknown key here; it belongs under ${section}:`;
          const list = `known keys: ${known.join(', ')}`;
          const suggestion = closest(key, known);
          if (suggestion) return `unknown key (did you mean '${suggestion}'? ${list})`;
          for (const [otherSection, keys] of Object.entries(hints)) {
            const elsewhere = closest(key, keys);
            if (elsewhere) return `unknown key (did you mean '${otherSection}.${elsewhere}'? ${list})`;
          }
          return `unknown key (${list})`;
        })
        .join('\n');
    },
  });
}

/** Per-parse messages for the built-in checks, in the project's "what is wrong (got X)" style. */
function defaultMessage(issue: Issue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return 'required';
      const expected = issue.expected === 'int' ? 'an integer' : issue.expected === 'array' ? 'a list' : issue.expected === 'object' ? 'a mapping' : `a ${issue.expected}`;
      return `expected ${expected} ${got(issue)}`;
    }
    case 'too_small': {
      if (issue.origin === 'array') return `must list at least ${issue.minimum} item${Number(issue.minimum) === 1 ? '' : 's'}`;
      if (issue.origin === 'string') return 'must not be empty';
      return `must be ${issue.inclusive ? '≥' : '>'} ${issue.minimum} ${got(issue)}`;
    }
    case 'too_big':
      if (issue.origin === 'array') return `must list at most ${issue.maximum} items`;
      return `must be ${issue.inclusive ? '≤' : '<'} ${issue.maximum} ${got(issue)}`;
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor} ${got(issue)}`;
    case 'invalid_value': {
      const values = issue.values.map((v) => JSON.stringify(v));
      const suggestion = typeof issue.input === 'string' ? closest(issue.input, issue.values.map(String)) : undefined;
      return `must be ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`} ${got(issue)}${suggestion ? ` (did you mean '${suggestion}'?)` : ''}`;
    }
    case 'invalid_format':
      return `has the wrong format ${got(issue)}`;
    default:
      return undefined;
  }
}

// ---------- building blocks ----------

const SEED_MAX = 0xffff_ffff;
const MAX_SEEDS = 1_000_000;

const inRange = (low: string, high: string) => (issue: { input?: unknown }) => `must be in ${low}, ${high} ${got(issue)}`;

const fraction = (what: string) =>
  z
    .number()
    .gt(0, { error: inRange('(0', '1]') })
    .lte(1, { error: inRange('(0', '1]') })
    .describe(what);

const seedValue = z
  .number()
  .int({ error: (issue) => `must be an integer in [0, ${SEED_MAX}] ${got(issue)}` })
  .min(0, { error: inRange('[0', `${SEED_MAX}]`) })
  .max(SEED_MAX, { error: (issue) => `must be in [0, ${SEED_MAX}] ${got(issue)} (the generator keeps only the low 32 bits, so larger seeds would repeat smaller ones)` });

const steps = z.number().int().min(1).max(1000);
const guidance = z.number().min(0);
const pixels = (axis: string) =>
  z
    .number()
    .int()
    .min(8)
    .max(8192)
    .multipleOf(8)
    .describe(`image ${axis} in pixels; a multiple of 8 (the VAE downsamples by 8)`);

const nonEmptyString = z.string().min(1);

/** A record whose values must survive canonical JSON (keys hash them). */
const jsonRecord = (what: string) =>
  z
    .record(z.string(), z.unknown())
    .superRefine((value, ctx) => {
      try {
        canonicalJson(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `must hold plain JSON values: ${(error as Error).message.replace(/^canonicalJson: \$\.?/, '')}` });
      }
    })
    .describe(what);

/** Items that must not repeat; a repeat is reported at its own index. */
function uniqueList<Item extends z.ZodType>(item: Item, what: string) {
  return z
    .array(item)
    .min(1)
    .superRefine((items, ctx) => {
      const seen = new Map<string, number>();
      items.forEach((value, index) => {
        const id = canonicalJson(value);
        const first = seen.get(id);
        if (first !== undefined) ctx.addIssue({ code: 'custom', path: [index], message: `repeats item [${first}] ${got({ input: value })}` });
        else seen.set(id, index);
      });
    })
    .describe(what);
}

const modelRef = (what: string) =>
  nonEmptyString.describe(`${what}: a folder path (relative to the experiment file) or \`tiny\` for the generated tiny models`);

const ModelsSchema = strictObject({
  base: modelRef('SDXL base model'),
  refiner: modelRef('SDXL refiner model; required when a mode uses the refiner (ensemble handoff or SDEdit strength)').optional(),
  clip: modelRef('CLIP model for the CLIP scorers').optional(),
  detector: modelRef('object detector for the detector probe').optional(),
  device: z
    .enum(['cpu', 'cuda', 'tensorrt', 'dml', 'coreml'])
    .default('cpu')
    .describe('onnxruntime execution provider; which ones work depends on the installed onnxruntime-node build'),
}).describe('model folders and the execution provider');

const RelationSchema = z.enum(['left of', 'right of', 'above', 'below']);

const ObjectClauseSchema = strictObject({
  class: nonEmptyString.describe('object class as named in the prompt, e.g. "teddy bear"'),
  count: z.number().int().min(0).optional().describe('expected number of instances'),
  color: nonEmptyString.optional().describe('expected colour name, e.g. "red"'),
  position: z
    .tuple([RelationSchema, z.number().int().min(0)])
    .optional()
    .describe('relation to another include clause: [relation, index of that clause]'),
}).describe('one object clause (GenEval form)');

const ExpectationsSchema = strictObject({
  tag: nonEmptyString.optional().describe('skill tag, e.g. position, color_attr, counting, colors, two_object'),
  include: z.array(ObjectClauseSchema).optional().describe('objects that must appear'),
  exclude: z.array(ObjectClauseSchema).optional().describe('objects that must not appear (fewer than count)'),
  text: z.array(nonEmptyString).optional().describe('strings the image should render legibly'),
}).describe('what the prompt asks for, for the compositional probes (GenEval form)');

const promptId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/-]*$/, { error: (issue) => `must be letters, digits and . _ : / - ${got(issue)}` });

const InlinePromptSchema = z.union(
  [
    nonEmptyString.describe('the prompt text'),
    strictObject({
      text: nonEmptyString.describe('the prompt text'),
      id: promptId.optional().describe('stable id (default: <name>/<index>, zero-padded to 4 digits)'),
      category: nonEmptyString.optional().describe('category for grouping in reports (default: inline)'),
      subcategory: nonEmptyString.optional().describe('second grouping level'),
      expectations: ExpectationsSchema.optional(),
      attributes: z.record(z.string(), z.string()).optional().describe('attributes of the prompt for grouping, e.g. { occupation: nurse }'),
    }),
  ],
  { error: (issue) => `must be a prompt string or { text, id?, category?, expectations? } ${got(issue)}` },
);

const sourceName = promptId.describe("name used as the prompts' suite and id prefix");
const limit = z.number().int().min(1).optional().describe('keep only the first N prompts (after the category filter)');
const categories = z.array(nonEmptyString).min(1).optional().describe('keep only prompts of these categories');

const InlineSourceSchema = strictObject({
  inline: z.array(InlinePromptSchema).min(1).describe('prompts written in the experiment file'),
  name: sourceName.optional().describe("name used as the prompts' suite and id prefix (default: inline)"),
}).describe('prompts written inline');

const SuiteSourceSchema = strictObject({
  suite: nonEmptyString.describe('a built-in prompt suite: relations, attribute-binding, counting, text-rendering, occupations, descriptors'),
  limit,
  categories,
  seed: z.number().int().min(0).optional().describe('with a seed, the limit takes a seeded (still balanced) sample instead of the first N'),
  options: jsonRecord('suite-specific options, passed to the suite unchanged').optional(),
}).describe('a built-in prompt suite');

export const PROMPT_FILE_FORMATS = ['text', 'jsonl', 'geneval', 't2i-compbench', 'parti', 'dalleval'] as const;

const FileSourceSchema = strictObject({
  file: nonEmptyString.describe('prompt file path, relative to the experiment file'),
  format: z
    .enum(PROMPT_FILE_FORMATS)
    .optional()
    .describe(
      'adapter: text (one prompt per line), jsonl ({"prompt"|"text", ...} per line), geneval (evaluation_metadata.jsonl), ' +
        't2i-compbench (*_val.txt), parti (PartiPrompts.tsv), dalleval (prompt_list.json); inferred from the file name when absent',
    ),
  limit,
  categories,
  name: sourceName.optional(),
}).describe('a prompt file read through an adapter');

const PromptSourceSchema = z
  .union([InlineSourceSchema, SuiteSourceSchema, FileSourceSchema], {
    error: (issue) => `must be one of { inline: [...] }, { suite: NAME }, { file: PATH } ${got(issue)}`,
  })
  .describe('a prompt source');

const SeedsSchema = z
  .union(
    [
      uniqueList(seedValue, 'explicit seeds'),
      strictObject({
        range: z
          .tuple([seedValue, z.number().int().min(1).max(SEED_MAX + 1)])
          .refine(([start, end]) => end > start, { error: (issue) => `end must be greater than start ${got(issue)}` })
          .refine(([start, end]) => end - start <= MAX_SEEDS, { error: (issue) => `must span at most ${MAX_SEEDS} seeds ${got(issue)}` })
          .describe('half-open range [start, end)'),
      }),
      strictObject({
        count: z.number().int().min(1).max(MAX_SEEDS).describe('number of seeds'),
        start: seedValue.default(0).describe('first seed'),
      }).refine((seeds) => seeds.start + seeds.count - 1 <= SEED_MAX, {
        path: ['count'],
        error: () => `start + count - 1 must stay ≤ ${SEED_MAX}`,
      }),
    ],
    { error: (issue) => `must be a list of seeds, { range: [start, end] } or { count: N, start?: 0 } ${got(issue)}` },
  )
  .describe('seeds: a list, a half-open range [start, end), or count seeds from start (0). Integers in [0, 2^32)');

const ModeSchema = z
  .union(
    [
      z.literal('base-only').describe('the base model alone'),
      strictObject({
        handoff: fraction('ensemble of experts: the base denoises this fraction of the schedule (diffusers denoising_end), the refiner the rest; 1 = the refiner only decodes'),
      }),
      strictObject({
        strength: fraction('SDEdit: the refiner re-noises the finished base image and re-runs the last int(strength * steps) steps'),
      }),
    ],
    { error: (issue) => `must be base-only, { handoff: F } or { strength: S } ${got(issue)}` },
  )
  .describe('how an image is made');

const schedulerName = z
  .enum(SCHEDULER_NAMES)
  .describe('scheduler: euler, euler-karras, euler-ancestral, ddim, dpmpp-2m or dpmpp-2m-karras (the base and the refiner use the same one)');

const sizeString = z
  .string()
  .superRefine((value, ctx) => {
    const match = /^(\d+)x(\d+)$/.exec(value);
    if (!match) {
      ctx.addIssue({ code: 'custom', message: `must be WIDTHxHEIGHT, e.g. 1024x1024 ${got({ input: value })}` });
      return;
    }
    for (const side of [match[1], match[2]]) {
      const pixelsOnSide = Number(side);
      if (pixelsOnSide % 8 !== 0 || pixelsOnSide < 8 || pixelsOnSide > 8192) {
        ctx.addIssue({ code: 'custom', message: `both sides must be multiples of 8 in [8, 8192] ${got({ input: value })}` });
        return;
      }
    }
  })
  .describe('WIDTHxHEIGHT, multiples of 8');

const GenerationSchema = strictObject({
  mode: ModeSchema.optional().describe(
    'mode when the sweep has no mode axis (default: { handoff: 0.8 }, the SDXL recipe, when models.refiner is set; otherwise base-only)',
  ),
  steps: steps.default(40).describe('denoising steps N (the refiner uses the same N and takes its share of them)'),
  guidance: guidance.default(5).describe('classifier-free guidance scale of the base (≤ 1 disables guidance)'),
  refiner_guidance: guidance.optional().describe('guidance scale of the refiner (default: the base guidance)'),
  guidance_rescale: z.number().min(0).max(1).default(0).describe('guidance rescale φ in [0, 1] (Lin et al.); 0 = off'),
  scheduler: schedulerName.default('euler'),
  scheduler_config: jsonRecord("overrides on top of the model's scheduler_config.json, e.g. { timestep_spacing: trailing }").default({}),
  width: pixels('width').default(1024),
  height: pixels('height').default(1024),
  negative_prompt: z.string().nullable().default(null).describe('negative prompt; null = none (zero embeddings), "" = the encoded empty string'),
  aesthetic_score: z.number().default(6).describe('refiner aesthetic-score conditioning'),
  negative_aesthetic_score: z.number().default(2.5).describe('refiner aesthetic-score conditioning of the negative branch'),
}).describe('generation settings; each sweep axis replaces one of these');

const SweepSchema = strictObject(
  {
    mode: uniqueList(ModeSchema, 'modes to compare: base-only, { handoff: F }, { strength: S }').optional(),
    handoff: uniqueList(fraction('handoff fraction'), 'shorthand: adds { handoff: F } modes').optional(),
    strength: uniqueList(fraction('SDEdit strength'), 'shorthand: adds { strength: S } modes').optional(),
    base_only: z.boolean().optional().describe('shorthand: true adds the base-only mode'),
    steps: uniqueList(steps, 'step counts').optional(),
    guidance: uniqueList(guidance, 'base guidance scales').optional(),
    scheduler: uniqueList(schedulerName, 'schedulers').optional(),
    size: uniqueList(sizeString, 'image sizes WIDTHxHEIGHT').optional(),
    negative_prompt: uniqueList(z.string().nullable(), 'negative prompts (null = none)').optional(),
  },
  { 'generation': ['refiner_guidance', 'guidance_rescale', 'scheduler_config', 'width', 'height', 'aesthetic_score', 'negative_aesthetic_score'] },
).describe('sweep axes: each replaces the generation value and is crossed with the others; mode and its shorthands (base_only, handoff, strength) form one axis');

const scorerId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, { error: (issue) => `must be a scorer id like clip or colour-geometry ${got(issue)}` });

const ScorerSchema = z.union(
  [
    scorerId.describe('scorer id, e.g. clip, health, colour-geometry, contrastive'),
    strictObject({ id: scorerId.describe('scorer id'), options: jsonRecord('scorer options').default({}) }),
  ],
  { error: (issue) => `must be a scorer id or { id, options } ${got(issue)}` },
);

const ReportSchema = strictObject({
  title: nonEmptyString.optional().describe('report title (default: the experiment name)'),
  reference_condition: nonEmptyString
    .default('base-only')
    .describe('condition the others are compared with: a mode (base-only, handoff=0.8, strength=0.3), a condition label or a condition id'),
  bootstrap_resamples: z.number().int().min(100).max(1_000_000).default(2000).describe('bootstrap resamples for confidence intervals'),
  seed: z.number().int().min(0).default(0).describe('seed of the bootstrap resampling'),
  compare: z.array(nonEmptyString).min(1).optional().describe('conditions to compare with the reference (default: all)'),
}).describe('report settings (they do not change any image)');

const RunSchema = strictObject({
  batch: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(1)
    .describe(
      'base trajectories run through the UNet together when steps, guidance, scheduler and size agree (UNet batch [uncond×B; cond×B], own seed per trajectory), and images per scorer call; bit-identical to 1 on the CPU execution provider, other providers may change the last bits, so compare runs with the same batch there',
    ),
  low_memory: z.boolean().default(false).describe('model-major order: all base work of a chunk first, then the refiner, so one UNet is resident'),
  fail_fast: z.boolean().default(false).describe('stop at the first failing unit instead of recording it and going on'),
  out_dir: nonEmptyString.optional().describe('run folder, relative to the current directory (default: runs/<name>)'),
}).describe('run settings (they do not change any image)');

const generationKeys = ['mode', 'steps', 'guidance', 'refiner_guidance', 'guidance_rescale', 'scheduler', 'scheduler_config', 'width', 'height', 'negative_prompt', 'aesthetic_score', 'negative_aesthetic_score'];

/** The file as written: defaults filled in, shorthands not yet folded. */
const ExperimentFileSchema = strictObject(
  {
    $schema: z.string().optional().describe('JSON Schema URL or path, for editors'),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: (issue) => `must be letters, digits and . _ - (it names the run folder) ${got(issue)}` })
      .describe('experiment name; names the run folder'),
    description: z.string().optional().describe('free text'),
    extends: nonEmptyString.optional().describe('experiment file this one builds on, relative to this file: mappings merge deeply, lists and values replace'),
    models: ModelsSchema,
    prompts: z.array(PromptSourceSchema).min(1).describe('prompt sources: inline lists, built-in suites, files'),
    seeds: SeedsSchema,
    generation: GenerationSchema.prefault({}),
    sweep: SweepSchema.prefault({}),
    scorers: z.array(ScorerSchema).default([]).describe('scorers and probes to run on every image: ids or { id, options }'),
    report: ReportSchema.prefault({}),
    run: RunSchema.prefault({}),
  },
  {
    'generation': generationKeys,
    'sweep': ['handoff', 'strength', 'base_only', 'size'],
    'run': ['batch', 'low_memory', 'fail_fast', 'out_dir'],
    'report': ['title', 'reference_condition', 'bootstrap_resamples'],
    'models': ['base', 'refiner', 'clip', 'detector', 'device'],
  },
).describe('A refinery experiment: models, prompts, seeds, generation settings, sweep axes, scorers, report and run settings.');

type ExperimentFile = z.output<typeof ExperimentFileSchema>;

function usesRefiner(mode: ModeSpec): boolean {
  return mode !== 'base-only';
}

/** Folds the sweep shorthands into `mode`, remembering where each mode was written. */
function foldModes(sweep: ExperimentFile['sweep']): { mode: ModeSpec; path: (string | number)[] }[] {
  const modes: { mode: ModeSpec; path: (string | number)[] }[] = [];
  sweep.mode?.forEach((mode, index) => modes.push({ mode, path: ['sweep', 'mode', index] }));
  if (sweep.base_only) modes.push({ mode: 'base-only', path: ['sweep', 'base_only'] });
  sweep.handoff?.forEach((handoff, index) => modes.push({ mode: { handoff }, path: ['sweep', 'handoff', index] }));
  sweep.strength?.forEach((strength, index) => modes.push({ mode: { strength }, path: ['sweep', 'strength', index] }));
  return modes;
}

/** The schema of a whole experiment; its output is a resolved `ExperimentSpec` (paths still as written). */
export const ExperimentSchema = ExperimentFileSchema.transform((file, ctx): ExperimentSpec => {
  const modes = foldModes(file.sweep);
  const seenModes = new Map<string, (string | number)[]>();
  for (const { mode, path } of modes) {
    const id = canonicalJson(mode);
    const first = seenModes.get(id);
    if (first) ctx.issues.push({ code: 'custom', path, input: mode, message: `repeats the mode at ${pathToString(first)} ${got({ input: mode })}` });
    else seenModes.set(id, path);
  }
  if (file.sweep.base_only === false && !file.sweep.mode && !file.sweep.handoff && !file.sweep.strength) {
    ctx.issues.push({ code: 'custom', path: ['sweep', 'base_only'], input: false, message: 'false adds nothing; remove it or list modes' });
  }

  const generationMode: ModeSpec = file.generation.mode ?? (file.models.refiner !== undefined ? { handoff: 0.8 } : 'base-only');
  const modesInUse = modes.length > 0 ? modes : [{ mode: generationMode, path: ['generation', 'mode'] }];
  if (file.models.refiner === undefined) {
    for (const { mode, path } of modesInUse) {
      if (usesRefiner(mode)) {
        ctx.issues.push({ code: 'custom', path, input: mode, message: `${showValue(mode)} uses the refiner, but models.refiner is not set` });
      }
    }
  }

  for (const scheduler of file.sweep.scheduler ?? [file.generation.scheduler]) {
    const resolved = resolveSchedulerChoice(scheduler, file.generation.scheduler_config).config;
    for (const [key, value] of Object.entries(file.generation.scheduler_config)) {
      if (canonicalJson(resolved[key]) !== canonicalJson(value)) {
        ctx.issues.push({
          code: 'custom',
          path: ['generation', 'scheduler_config', key],
          input: value,
          message: `scheduler ${scheduler} fixes ${key} to ${showValue(resolved[key])}, so ${showValue(value)} would be ignored; choose the scheduler variant instead (${SCHEDULER_NAMES.join(', ')})`,
        });
      }
    }
  }

  const sweep: SweepSpec = {};
  if (modes.length > 0) sweep.mode = modes.map((entry) => entry.mode);
  if (file.sweep.steps) sweep.steps = file.sweep.steps;
  if (file.sweep.guidance) sweep.guidance = file.sweep.guidance;
  if (file.sweep.scheduler) sweep.scheduler = file.sweep.scheduler;
  if (file.sweep.size) sweep.size = file.sweep.size;
  if (file.sweep.negative_prompt) sweep.negative_prompt = file.sweep.negative_prompt;

  const scorers: ScorerSpec[] = file.scorers.map((scorer) => (typeof scorer === 'string' ? { id: scorer, options: {} } : { id: scorer.id, options: scorer.options }));
  const seenScorers = new Map<string, number>();
  scorers.forEach((scorer, index) => {
    const id = canonicalJson(scorer);
    const first = seenScorers.get(id);
    if (first !== undefined) ctx.issues.push({ code: 'custom', path: ['scorers', index], input: scorer, message: `repeats scorers[${first}]` });
    else seenScorers.set(id, index);
  });

  const spec: ExperimentSpec = {
    name: file.name,
    models: file.models,
    prompts: file.prompts as PromptSourceSpec[],
    seeds: file.seeds,
    generation: { ...file.generation, mode: generationMode },
    sweep,
    scorers,
    report: { ...file.report, title: file.report.title ?? file.name },
    run: { ...file.run, out_dir: file.run.out_dir ?? `runs/${file.name}` },
  };
  if (file.description !== undefined) spec.description = file.description;
  return spec;
});

export function pathToString(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text ? `.${String(segment)}` : String(segment);
  }
  return text;
}

/**
 * Turns zod issues into problems with paths. A union that failed is narrowed to the one branch the
 * value was evidently meant for (its keys all known there); otherwise the union's own message is used.
 */
export function formatIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const lines = issue.message.split('\n');
      issue.keys.forEach((key, index) => problems.push({ path: pathToString([...path, key]), message: lines[index] ?? lines[0] }));
      continue;
    }
    if (issue.code === 'invalid_union') {
      const intended = issue.errors.filter((branch) => !branch.some((inner) => inner.path.length === 0));
      if (intended.length === 1) {
        problems.push(...formatIssues(intended[0], path));
        continue;
      }
      const misspelt = issue.errors
        .flat()
        .filter((inner) => inner.code === 'unrecognized_keys' && inner.path.length === 0)
        .flatMap((inner) => formatIssues([inner]))
        .find((problem) => problem.message.includes('did you mean'));
      if (misspelt) {
        const hint = misspelt.message.replace(/^unknown key \((did you mean '[^']*'\?).*$/, '$1');
        problems.push({ path: pathToString(path), message: `${issue.message}; unknown key '${misspelt.path}': ${hint}` });
        continue;
      }
    }
    problems.push({ path: pathToString(path), message: issue.message });
  }
  return problems;
}

export interface ParseResult {
  /** present when there were no problems */
  spec?: ExperimentSpec;
  problems: Problem[];
}

/** Validates a plain (already merged) experiment object. Reports every problem zod finds. */
export function parseExperiment(input: unknown): ParseResult {
  const result = ExperimentSchema.safeParse(input, { error: defaultMessage });
  if (result.success) return { spec: result.data, problems: [] };
  return { problems: dedupe(formatIssues(result.error.issues)) };
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const line = formatProblem(problem);
    if (seen.has(line)) return false;
    seen.add(line);
    return true;
  });
}

/** JSON Schema (draft 2020-12) of the experiment file as written, for editors and docs. */
export function experimentJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ExperimentFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, title: 'refinery experiment' };
}
