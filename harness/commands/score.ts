/**
 * `refinery score`: scoring without generating.
 *
 *   refinery score RUN_DIR [--scorers a,b] [--force]
 *     scores the ok samples of a run folder with the experiment's scorers (or those named). Samples a
 *     scorer has already scored at its current version keep their records; `--force` scores them again
 *     (their old records of that scorer are replaced). A scorer at a new version rescores everything, as
 *     `refinery run` does.
 *
 *   refinery score --images DIR --manifest FILE [--out DIR] [--scorers a,b] [--clip DIR]
 *     scores images made elsewhere (e.g. by diffusers in Python). The manifest (JSON array, `{ "images":
 *     [...] }` or JSONL) lists one entry per image:
 *       { "image": "relative/to/DIR.png", "prompt": "text" | { text, id?, category?, expectations?, attributes? },
 *         "seed"?: n, "condition"?: "name", "settings"?: { mode?, handoff?, strength?, ... },
 *         "expectations"?: {...}, "attributes"?: {...} }
 *     The images are copied into a new run folder (`--out`, default DIR-scores beside DIR) with a store
 *     that `refinery report` reads. Conditions: entries sharing a `condition` name must share `settings`;
 *     the mode is `settings.mode`, else `ensemble` with a handoff, `sdedit` with a strength, else
 *     `base-only`. A missing seed becomes the image's position among the images of the same condition
 *     and prompt (said in the output). Without `--clip` the CLIP scorers use the tiny random-weight test
 *     model, with a notice: its numbers test plumbing, not images.
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { z } from 'zod';
import { describeIssues, parseExpectations } from '../../datasets/expectations.js';
import type { PromptInstance } from '../../datasets/types.js';
import { UserError } from '../../pipelines/errors.js';
import { decodePng } from '../../pipelines/image/png.js';
import { ensureTinyModels } from '../../pipelines/tiny/tiny-models.js';
import { createScorer, loadScorerRegistry, SharedScorerResources, type ScorerFactoryContext } from '../../probes/registry.js';
import { hashCacheFileIn, resolveModelFolders } from '../run/dependencies.js';
import type { ScorableSample, Scorer, ScoringContext } from '../../probes/types.js';
import { canonicalJson, contentKey } from '../experiment/keys.js';
import { writeFileAtomic, writeJsonAtomic } from '../run/atomic.js';
import { RunLock } from '../run/lock.js';
import { refineryVersion } from '../run/manifest.js';
import { ensureRunFolders, imageRelativePath, isRunFolder, readJsonFile, runPaths, scorableSample, type RunPaths } from '../run/run-folder.js';
import { displayPath } from '../run/summary.js';
import { RunStore, type SampleRow, type UnitRow } from '../store/store.js';

/** Scorers used on imported images when `--scorers` is not given (those registered). */
export const DEFAULT_IMPORT_SCORERS = ['clip', 'contrastive', 'bias-attributes', 'colour-geometry', 'health'];
export const TINY_CLIP_NOTICE =
  'notice: no --clip given, so the CLIP scorers use the tiny random-weight test model; their numbers only show that scoring works (pass --clip <CLIP folder> for real scores)';

export interface ScoreOutcome {
  runDir: string;
  /** per scorer: samples scored in this call, records written */
  scorers: Array<{ id: string; scored: number; records: number; skipped: number }>;
}

interface CommonOptions {
  /** scorer ids; default: the experiment's (run folder) or DEFAULT_IMPORT_SCORERS (imports) */
  scorers?: string[];
  force?: boolean;
  /** CLIP folder overriding the experiment's models.clip */
  clip?: string;
  device?: string;
  /** samples per scorer call (default 16) */
  batch?: number;
  /** where the tiny models are generated (default .cache/refinery) */
  cacheDir?: string;
  log?: (line: string) => void;
}

export interface ScoreRunOptions extends CommonOptions {
  runDir: string;
}

export interface ScoreImportOptions extends CommonOptions {
  imagesDir: string;
  manifestFile: string;
  /** default: `<imagesDir>-scores` beside the images folder */
  outDir?: string;
}

function parseScorerList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const ids = value
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  if (ids.length === 0) throw new UserError('--scorers: name at least one scorer, e.g. --scorers clip,contrastive');
  return ids;
}

async function tinyClip(cacheDir: string): Promise<string> {
  return (await ensureTinyModels(join(cacheDir, 'models'))).clip;
}

interface ScorerRequest {
  id: string;
  options: Record<string, unknown>;
}

/**
 * Creates every scorer before any scoring, so a wrong id or model folder fails first; disposes on failure.
 * The scorers share per-run resources (one CLIP model per folder) and the model hash cache under `cacheDir`.
 */
async function createScorers(requests: ScorerRequest[], baseContext: ScorerFactoryContext, cacheDir: string): Promise<Scorer[]> {
  mkdirSync(cacheDir, { recursive: true });
  const context: ScorerFactoryContext = { ...baseContext, shared: new SharedScorerResources(), hashCacheFile: hashCacheFileIn(cacheDir) };
  const registry = await loadScorerRegistry();
  for (const request of requests) registry.get(request.id);
  const scorers: Scorer[] = [];
  try {
    for (const request of requests) scorers.push(await createScorer(request.id, request.options, context, registry));
  } catch (error) {
    for (const scorer of scorers) await scorer.dispose?.();
    throw error;
  }
  return scorers;
}

/** Scores the store's ok samples with each scorer: unscored ones, or all with `force`. */
async function scoreStore(store: RunStore, paths: RunPaths, scorers: Scorer[], options: CommonOptions): Promise<ScoreOutcome['scorers']> {
  const log = options.log ?? (() => {});
  const batch = Math.max(1, options.batch ?? 16);
  const context: ScoringContext = {
    loadImage: async (sample) => decodePng(readFileSync(sample.imagePath), sample.imagePath).image,
    log,
  };
  const summary: ScoreOutcome['scorers'] = [];
  for (const scorer of scorers) {
    store.recordMetrics(scorer, scorer.metrics);
    const todo: Array<{ unit: UnitRow; sample: SampleRow }> = options.force
      ? [...store.samples('ok')].map((sample) => ({ sample, unit: store.unit(sample.key)! }))
      : store.unscoredSamples(scorer);
    let records = 0;
    let skipped = 0;
    for (let start = 0; start < todo.length; start += batch) {
      const slice = todo.slice(start, start + batch);
      const samples: ScorableSample[] = slice.map(({ unit, sample }) => scorableSample(paths.dir, unit, sample));
      const applicable = samples.filter((sample) => scorer.appliesTo?.(sample) ?? true);
      skipped += samples.length - applicable.length;
      const started = performance.now();
      const found = applicable.length > 0 ? await scorer.score(applicable, context) : [];
      store.recordScores(scorer, samples.map((sample) => sample.key), found);
      store.recordTiming(`score:${scorer.id}`, (performance.now() - started) / 1000);
      records += found.length;
    }
    log(`${scorer.id}: scored ${todo.length - skipped} sample(s)${skipped ? `, ${skipped} not applicable` : ''}, ${records} record(s)`);
    summary.push({ id: scorer.id, scored: todo.length - skipped, records, skipped });
  }
  return summary;
}

async function withScorers<T>(scorers: Scorer[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    for (const scorer of scorers) await scorer.dispose?.();
  }
}

interface StoredSpec {
  models?: { base?: string; refiner?: string; clip?: string; detector?: string; device?: string };
  scorers?: ScorerRequest[];
}

/** `refinery score RUN_DIR`: (re)scores a run folder's images with its experiment's (or the named) scorers. */
export async function scoreRunFolder(options: ScoreRunOptions): Promise<ScoreOutcome> {
  const paths = runPaths(options.runDir);
  if (!isRunFolder(paths.dir)) {
    throw new UserError(`${options.runDir} is not a run folder: it has no refinery.sqlite`, 'pass the folder that refinery run or refinery merge wrote, or --images DIR --manifest FILE for other images');
  }
  const cacheDir = resolve(options.cacheDir ?? '.cache/refinery');
  const spec: StoredSpec = existsSync(paths.spec) ? readJsonFile<StoredSpec>(paths.spec) : {};
  const fromSpec = new Map((spec.scorers ?? []).map((scorer) => [scorer.id, scorer.options ?? {}]));
  const ids = options.scorers ?? [...fromSpec.keys()];
  if (ids.length === 0) throw new UserError(`${displayPath(paths.spec)} names no scorers; pass --scorers, e.g. --scorers clip,contrastive`);
  // the run's models as its spec names them (base for the VAE round trip), --clip overriding models.clip
  const { device: specDevice, ...refs } = spec.models ?? {};
  const models = await resolveModelFolders({ ...refs, ...(options.clip ? { clip: options.clip } : {}) }, cacheDir);
  const log = options.log ?? (() => {});
  const device = options.device ?? specDevice;
  const scorers = await createScorers(
    ids.map((id) => ({ id, options: fromSpec.get(id) ?? {} })),
    { baseDir: process.cwd(), models, ...(device ? { device } : {}), log },
    cacheDir,
  );
  return withScorers(scorers, async () => {
    const lock = RunLock.acquire(paths.dir, { command: `refinery score ${paths.dir}` });
    const store = RunStore.open(paths.db);
    try {
      return { runDir: paths.dir, scorers: await scoreStore(store, paths, scorers, options) };
    } finally {
      store.close();
      lock.release();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Images made elsewhere

const promptObjectSchema = z
  .object({
    text: z.string().min(1),
    id: z.string().min(1).optional(),
    category: z.string().min(1).optional(),
    subcategory: z.string().min(1).optional(),
    expectations: z.unknown().optional(),
    attributes: z.record(z.string(), z.string()).optional(),
  })
  .strict();

const settingsSchema = z
  .object({
    mode: z.enum(['base-only', 'ensemble', 'sdedit']).optional(),
    handoff: z.number().gt(0).max(1).optional(),
    strength: z.number().gt(0).max(1).optional(),
  })
  .catchall(z.union([z.string(), z.number(), z.boolean(), z.null()]));

const entrySchema = z
  .object({
    image: z.string().min(1).optional(),
    file: z.string().min(1).optional(),
    prompt: z.union([z.string().min(1), promptObjectSchema]),
    seed: z.number().int().nonnegative().optional(),
    condition: z.string().min(1).optional(),
    settings: settingsSchema.optional(),
    expectations: z.unknown().optional(),
    attributes: z.record(z.string(), z.string()).optional(),
    category: z.string().min(1).optional(),
  })
  .strict()
  .refine((entry) => (entry.image ?? entry.file) !== undefined, { message: 'needs "image": the image file, relative to --images' });

type ManifestEntry = z.infer<typeof entrySchema>;

export interface ImportedImage {
  /** absolute image path */
  path: string;
  prompt: PromptInstance;
  seed: number;
  /** true when the seed came from the image's position, not the manifest */
  seedFromOrder: boolean;
  condition: { id: string; label: string; mode: 'base-only' | 'ensemble' | 'sdedit'; [field: string]: unknown };
  /** true when the mode was not given and was taken from the settings' shape */
  modeInferred: boolean;
}

function readManifestEntries(file: string): Array<{ where: string; value: unknown }> {
  if (!existsSync(file)) throw new UserError(`--manifest: ${file} not found`);
  const text = readFileSync(file, 'utf8');
  const parse = (source: string, where: string): unknown => {
    try {
      return JSON.parse(source);
    } catch (error) {
      throw new UserError(`${where}: not valid JSON (${(error as Error).message})`);
    }
  };
  if (extname(file).toLowerCase() === '.jsonl') {
    return text
      .split(/\r?\n/)
      .map((line, i) => ({ line, where: `${file}:${i + 1}` }))
      .filter(({ line }) => line.trim() !== '')
      .map(({ line, where }) => ({ where, value: parse(line, where) }));
  }
  const parsed = parse(text, file);
  const list = Array.isArray(parsed) ? parsed : typeof parsed === 'object' && parsed !== null && Array.isArray((parsed as { images?: unknown }).images) ? (parsed as { images: unknown[] }).images : null;
  if (!list) throw new UserError(`${file}: expected a JSON array of image entries, an object with "images": [...], or a .jsonl file`);
  return list.map((value, i) => ({ where: `${file}[${i}]`, value }));
}

function conditionOf(entry: ManifestEntry, where: string): { id: string; settings: Record<string, unknown>; mode: ImportedImage['condition']['mode']; modeInferred: boolean } {
  const settings: Record<string, unknown> = { ...(entry.settings ?? {}) };
  let mode = entry.settings?.mode;
  const modeInferred = mode === undefined;
  mode ??= entry.settings?.handoff !== undefined ? 'ensemble' : entry.settings?.strength !== undefined ? 'sdedit' : 'base-only';
  if (mode === 'ensemble' && entry.settings?.handoff === undefined) throw new UserError(`${where}: settings.mode "ensemble" needs settings.handoff (the fraction the base denoises)`);
  if (mode === 'sdedit' && entry.settings?.strength === undefined) throw new UserError(`${where}: settings.mode "sdedit" needs settings.strength`);
  delete settings.mode;
  return { id: entry.condition ?? 'imported', settings, mode, modeInferred };
}

/** Reads and checks the manifest; every image must exist under `imagesDir`. */
export function readImageManifest(manifestFile: string, imagesDir: string): ImportedImage[] {
  const entries = readManifestEntries(manifestFile);
  if (entries.length === 0) throw new UserError(`${manifestFile}: no image entries`);
  const promptIds = new Map<string, string>();
  const conditions = new Map<string, { settings: string; where: string }>();
  const ordinals = new Map<string, number>();
  const images: ImportedImage[] = [];
  for (const { where, value } of entries) {
    const result = entrySchema.safeParse(value);
    if (!result.success) throw new UserError(`${where}: ${describeIssues(result.error)}`);
    const entry = result.data;
    const relative = (entry.image ?? entry.file)!;
    const path = isAbsolute(relative) ? relative : resolve(imagesDir, relative);
    if (!existsSync(path) || !statSync(path).isFile()) throw new UserError(`${where}: image ${relative} not found in ${imagesDir}`);
    if (extname(path).toLowerCase() !== '.png') throw new UserError(`${where}: ${relative} is not a PNG; convert it first (e.g. PIL: Image.open(f).save(f + ".png"))`);
    const promptObject = typeof entry.prompt === 'string' ? { text: entry.prompt } : entry.prompt;
    const expectationsValue = promptObject.expectations ?? entry.expectations;
    let expectations;
    if (expectationsValue !== undefined) {
      const parsed = parseExpectations(expectationsValue, 'expectations');
      if (!parsed.ok) throw new UserError(`${where}: ${parsed.message}`);
      expectations = parsed.expectations;
    }
    const text = promptObject.text;
    const id = promptObject.id ?? promptIds.get(text) ?? `import/${String(promptIds.size + 1).padStart(4, '0')}`;
    if (!promptIds.has(text)) promptIds.set(text, id);
    const attributes = promptObject.attributes ?? entry.attributes;
    const prompt: PromptInstance = {
      id,
      text,
      suite: 'import',
      category: promptObject.category ?? entry.category ?? 'imported',
      ...(promptObject.subcategory ? { subcategory: promptObject.subcategory } : {}),
      ...(expectations ? { expectations } : {}),
      ...(attributes ? { attributes } : {}),
    };
    const condition = conditionOf(entry, where);
    const settingsKey = canonicalJson({ mode: condition.mode, ...condition.settings });
    const known = conditions.get(condition.id);
    if (known && known.settings !== settingsKey) {
      throw new UserError(`${where}: condition "${condition.id}" has settings ${settingsKey} but ${known.where} gave it ${known.settings}; give different settings different condition names`);
    }
    conditions.set(condition.id, { settings: settingsKey, where });
    const ordinalKey = `${condition.id}\u0000${id}`;
    const ordinal = ordinals.get(ordinalKey) ?? 0;
    ordinals.set(ordinalKey, ordinal + 1);
    images.push({
      path,
      prompt,
      seed: entry.seed ?? ordinal,
      seedFromOrder: entry.seed === undefined,
      condition: { ...condition.settings, id: condition.id, label: condition.id, mode: condition.mode, imported: true },
      modeInferred: condition.modeInferred,
    });
  }
  return images;
}

/** `refinery score --images DIR --manifest FILE`: imports the images into a run folder and scores them. */
export async function scoreImportedImages(options: ScoreImportOptions): Promise<ScoreOutcome> {
  const imagesDir = resolve(options.imagesDir);
  if (!existsSync(imagesDir) || !statSync(imagesDir).isDirectory()) throw new UserError(`--images: ${options.imagesDir} is not a folder`);
  const log = options.log ?? (() => {});
  const images = readImageManifest(resolve(options.manifestFile), imagesDir);
  const outDir = resolve(options.outDir ?? join(dirname(imagesDir), `${basename(imagesDir)}-scores`));
  const cacheDir = resolve(options.cacheDir ?? '.cache/refinery');
  const paths = runPaths(outDir);
  if (existsSync(paths.manifest) && readJsonFile<{ kind?: string }>(paths.manifest).kind !== 'import') {
    throw new UserError(`--out: ${outDir} is the run folder of an experiment; imported images go to a folder of their own (choose another --out)`);
  }

  const registry = await loadScorerRegistry();
  const ids = options.scorers ?? DEFAULT_IMPORT_SCORERS.filter((id) => registry.has(id));
  const models: Partial<Record<string, string>> = {};
  if (options.clip) models.clip = resolve(options.clip);
  else {
    models.clip = await tinyClip(cacheDir);
    log(TINY_CLIP_NOTICE);
  }
  const scorers = await createScorers(
    ids.map((id) => ({ id, options: {} })),
    { baseDir: process.cwd(), models, ...(options.device ? { device: options.device } : {}), log },
    cacheDir,
  );
  const seedsFromOrder = images.filter((image) => image.seedFromOrder).length;
  if (seedsFromOrder > 0) log(`${seedsFromOrder} image(s) have no seed: each gets its position among the images of its condition and prompt (0, 1, …) so reports can pair conditions`);
  const inferred = new Set(images.filter((image) => image.modeInferred).map((image) => `${image.condition.id} → ${image.condition.mode}`));
  if (inferred.size > 0) log(`mode taken from the settings (give settings.mode to say it): ${[...inferred].join(', ')}`);

  return withScorers(scorers, async () => {
    mkdirSync(outDir, { recursive: true });
    const lock = RunLock.acquire(outDir, { command: `refinery score --images ${imagesDir}` });
    const store = RunStore.open(paths.db);
    try {
      ensureRunFolders(paths);
      const added = importImages(store, paths, images);
      log(`${added} new image(s) imported into ${displayPath(outDir)}`);
      writeJsonAtomic(paths.spec, {
        name: `scores of ${basename(imagesDir)}`,
        description: `images made outside refinery, listed in ${resolve(options.manifestFile)}`,
        models: { clip: options.clip ? resolve(options.clip) : 'tiny' },
        scorers: ids.map((id) => ({ id, options: {} })),
      });
      writeJsonAtomic(paths.manifest, {
        kind: 'import',
        refineryVersion: refineryVersion(),
        imagesDir,
        manifestFile: resolve(options.manifestFile),
        images: images.length,
        models: { clip: options.clip ? { dir: resolve(options.clip) } : { dir: models.clip, note: 'tiny random-weight test model' } },
        createdAt: new Date().toISOString(),
        commandLine: ['refinery', ...process.argv.slice(2)],
      });
      return { runDir: outDir, scorers: await scoreStore(store, paths, scorers, options) };
    } finally {
      store.close();
      lock.release();
    }
  });
}

/** Adds a unit and an ok sample per image (keyed by image content, prompt, condition and seed); copies new images. */
function importImages(store: RunStore, paths: RunPaths, images: ImportedImage[]): number {
  let added = 0;
  const seen = new Map<string, string>();
  for (const image of images) {
    const bytes = readFileSync(image.path);
    decodePng(bytes, image.path); // refuse broken or unsupported PNGs before they enter the store
    const imageSha256 = createHash('sha256').update(bytes).digest('hex');
    const key = contentKey({ source: 'import', imageSha256, prompt: image.prompt.text, condition: image.condition.id, seed: image.seed });
    const previous = seen.get(key);
    if (previous) throw new UserError(`${image.path}: the same image, prompt, condition and seed as ${previous}; list each image once`);
    seen.set(key, image.path);
    const unit: UnitRow = { key, conditionId: image.condition.id, condition: image.condition, prompt: image.prompt, seed: image.seed, trajectoryKey: key, shard: null };
    store.addUnits([unit]);
    if (store.sample(key)?.status === 'ok') continue;
    const relative = imageRelativePath(key);
    const target = join(paths.dir, relative);
    if (!existsSync(target)) writeFileAtomic(target, bytes);
    store.recordSample({
      key,
      imagePath: relative,
      imageSha256,
      status: 'ok',
      error: null,
      timings: {},
      unetCalls: { base: 0, refiner: 0 },
      createdAt: new Date().toISOString(),
    });
    added++;
  }
  return added;
}

// ---------------------------------------------------------------------------------------------
// CLI

/** Which form was meant; UserErrors (exit 1, one line) for combinations that make no sense. */
function checkArguments(argv: ScoreArgs): void {
  if (argv.images !== undefined || argv.manifest !== undefined) {
    if (argv.images === undefined || argv.manifest === undefined) throw new UserError('--images and --manifest go together: refinery score --images DIR --manifest FILE');
    if (argv.run !== undefined) throw new UserError('give either a run folder or --images/--manifest, not both');
  } else {
    if (argv.run === undefined) throw new UserError('name a run folder (refinery score RUN_DIR), or images made elsewhere (--images DIR --manifest FILE)');
    if (argv.out !== undefined) throw new UserError('--out is for --images; a run folder is scored in place');
  }
  if (argv.batch !== undefined && (!Number.isInteger(argv.batch) || argv.batch < 1)) throw new UserError(`--batch must be a positive integer, got ${argv.batch}`);
}

interface ScoreArgs {
  run?: string;
  scorers?: string;
  force?: boolean;
  images?: string;
  manifest?: string;
  out?: string;
  clip?: string;
  device?: string;
  batch?: number;
  quiet?: boolean;
}

export const scoreCommand: CommandModule<object, ScoreArgs> = {
  command: 'score [run]',
  describe: 'Score a run folder again without generating (new scorers add records; --force redoes them), or score images made elsewhere (--images DIR --manifest FILE)',
  builder: (yargs: Argv) =>
    yargs
      .positional('run', { type: 'string', describe: 'run folder (holds refinery.sqlite)' })
      .option('scorers', { type: 'string', describe: 'comma-separated scorer ids (default: the experiment\'s; for --images: clip, contrastive, bias-attributes, colour-geometry, health)' })
      .option('force', { type: 'boolean', describe: 'score samples again even when the scorer already scored them (replaces its records)' })
      .option('images', { type: 'string', describe: 'folder of PNG images made elsewhere (with --manifest)' })
      .option('manifest', { type: 'string', describe: 'JSON / JSONL file: image → prompt, optional seed, condition, settings, expectations, attributes' })
      .option('out', { type: 'string', describe: 'with --images: run folder to create or extend (default: <images>-scores)' })
      .option('clip', { type: 'string', describe: 'CLIP model folder (transformers.js layout); default: the experiment\'s models.clip, or the tiny test model for --images' })
      .option('device', { type: 'string', describe: 'execution provider for the scorers\' models (default: the experiment\'s, else cpu)' })
      .option('batch', { type: 'number', describe: 'samples per scorer call (default 16)' })
      .option('quiet', { type: 'boolean', describe: 'print only the summary line' }) as Argv<ScoreArgs>,
  handler: async (argv) => {
    checkArguments(argv);
    const log = argv.quiet ? () => {} : (line: string) => console.error(line);
    const common: CommonOptions = {
      ...(argv.scorers !== undefined ? { scorers: parseScorerList(argv.scorers) } : {}),
      ...(argv.force ? { force: true } : {}),
      ...(argv.clip ? { clip: argv.clip } : {}),
      ...(argv.device ? { device: argv.device } : {}),
      ...(argv.batch ? { batch: argv.batch } : {}),
      log,
    };
    const outcome = argv.images
      ? await scoreImportedImages({ ...common, imagesDir: argv.images, manifestFile: argv.manifest!, ...(argv.out ? { outDir: argv.out } : {}) })
      : await scoreRunFolder({ ...common, runDir: argv.run! });
    const total = outcome.scorers.reduce((sum, s) => sum + s.records, 0);
    console.log(`Scored with ${outcome.scorers.map((s) => `${s.id} (${s.scored})`).join(', ')}: ${total} record(s) in ${displayPath(outcome.runDir)}`);
    console.log(`Report: refinery report ${displayPath(outcome.runDir)}`);
  },
};
