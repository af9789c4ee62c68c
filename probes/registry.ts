/**
 * Registries with did-you-mean lookups, and the list of every scorer refinery knows.
 *
 * Adding a scorer: export a `ScorerDefinition` from its module and add ONE line at the end of the
 * `SCORER_MODULES` array below (not here), of the form
 *
 *     async () => (await import('./<folder>/<module>.js')).<definition>,
 *
 * Nothing is discovered by side effect: a scorer exists iff it is listed here. The imports are lazy so
 * that `refinery ls` or `validate` never load a model runtime they do not use.
 */
import { UserError } from '../pipelines/errors.js';
import type { MetricMeta, Scorer } from './types.js';

/** A name → entry map that refuses duplicates and answers unknown names with suggestions. */
export class Registry<T> {
  private readonly entries = new Map<string, T>();
  private frozen = false;

  /** `kind` names the entries in messages: "Unknown scorer 'x'" */
  constructor(readonly kind: string) {}

  register(id: string, entry: T): this {
    if (this.frozen) throw new Error(`the ${this.kind} registry is frozen; cannot register '${id}'`);
    if (!id.trim()) throw new Error(`${this.kind} id must not be empty`);
    if (this.entries.has(id)) throw new Error(`${this.kind} '${id}' is already registered`);
    this.entries.set(id, entry);
    return this;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** The entry, or a UserError naming the closest ids and all available ones. */
  get(id: string): T {
    const entry = this.entries.get(id);
    if (entry !== undefined) return entry;
    const ids = this.ids();
    const suggestions = suggest(id, ids);
    const hint = suggestions.length ? ` Did you mean: ${suggestions.join(', ')}?` : '';
    throw new UserError(`Unknown ${this.kind} '${id}'.${hint} Available: ${ids.join(', ') || '(none)'}`);
  }

  /** ids in registration order */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  list(): Array<{ id: string; entry: T }> {
    return [...this.entries].map(([id, entry]) => ({ id, entry }));
  }

  /** After this, `register` throws. */
  freeze(): this {
    this.frozen = true;
    return this;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * Candidates close to `query`, best first: a typo (edit distance ≤ max(2, a third of the length)), or a
 * candidate that contains the query or is contained in it ("clip-scor" → "clip").
 */
export function suggest(query: string, candidates: readonly string[]): string[] {
  const q = query.toLowerCase();
  return candidates
    .map((candidate) => {
      const c = candidate.toLowerCase();
      const distance = editDistance(q, c);
      const related = (c.length >= 2 && q.includes(c)) || (q.length >= 2 && c.includes(q));
      const close = distance <= Math.max(2, Math.floor(Math.max(q.length, c.length) / 3));
      return { candidate, distance, keep: related || close };
    })
    .filter((x) => x.keep)
    .sort((a, b) => a.distance - b.distance || a.candidate.localeCompare(b.candidate))
    .map((x) => x.candidate);
}

/** A hold on a shared resource: `release` once when done; the last release closes it. */
export interface Lease<T> {
  value: T;
  release(): Promise<void>;
}

interface SharedEntry {
  value: Promise<unknown>;
  users: number;
  close(value: unknown): Promise<void>;
}

/**
 * Objects that the scorers of one run share, by key: e.g. one CLIP model (with its image and text
 * embedding caches) for every CLIP-based scorer that names the same folder, so an image is embedded once
 * per run however many scorers read it. Made by whoever creates the scorers and passed in the factory
 * context; each scorer releases its lease in `dispose`, and the last release closes the resource.
 */
export class SharedScorerResources {
  private readonly entries = new Map<string, SharedEntry>();

  /** The resource under `key`: opened by `open` for the first user, closed by `close` after the last release. */
  async acquire<T>(key: string, open: () => Promise<T>, close: (value: T) => Promise<void>): Promise<Lease<T>> {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { value: open(), users: 0, close: close as (value: unknown) => Promise<void> };
      this.entries.set(key, entry);
    }
    const held = entry;
    held.users += 1;
    let value: T;
    try {
      value = (await held.value) as T;
    } catch (error) {
      held.users -= 1;
      if (this.entries.get(key) === held) this.entries.delete(key);
      throw error;
    }
    let released = false;
    return {
      value,
      release: async () => {
        if (released) return;
        released = true;
        held.users -= 1;
        if (held.users > 0) return;
        if (this.entries.get(key) === held) this.entries.delete(key);
        await held.close(value);
      },
    };
  }

  /** keys of the resources currently held */
  keys(): string[] {
    return [...this.entries.keys()];
  }
}

/** What a scorer factory gets besides its own options. */
export interface ScorerFactoryContext {
  /** folder that relative paths in options resolve against (the experiment file's folder) */
  baseDir: string;
  /**
   * model folders named in the experiment, resolved to paths: { base, refiner?, clip?, detector? }
   * (`base` is the generating model, which e.g. the VAE round trip defaults to)
   */
  models?: Partial<Record<string, string>>;
  /** execution provider for scorers that run ONNX models */
  device?: string;
  log?(message: string): void;
  /** per-run resources shared between scorers (absent: each scorer opens its own) */
  shared?: SharedScorerResources;
  /** where model file hashes are cached between runs (see hashModelFolder) */
  hashCacheFile?: string;
}

export interface ScorerDefinition {
  id: string;
  description: string;
  /** the metrics every scorer it creates declares (for `refinery ls scorers` and report planning) */
  metrics: MetricMeta[];
  /** set for probes: the capability or limitation tested, and the built-in suites written for it */
  probe?: { tests: string; suites: string[] };
  /** validates `options` (UserError naming the option) and builds the scorer */
  create(options: Record<string, unknown>, context: ScorerFactoryContext): Scorer | Promise<Scorer>;
}

/** Every scorer, one line each (see the top of this file). */
const SCORER_MODULES: ReadonlyArray<() => Promise<ScorerDefinition>> = [
  async () => (await import('./geometry/colour-geometry.js')).colourGeometryScorer,
  async () => (await import('./health/health-scorer.js')).healthScorer,
  async () => (await import('./ocr/ocr-scorer.js')).ocrScorer,
  async () => (await import('./health/vae-roundtrip.js')).vaeRoundTripScorer,
  async () => (await import('./clip/clip-scorer.js')).clipScorer,
  async () => (await import('./clip/contrastive-scorer.js')).contrastiveScorer,
  async () => (await import('./bias/attributes.js')).biasAttributesScorer,
  async () => (await import('./detector/detector-scorer.js')).detectorGenevalScorer,
];

/**
 * A fresh, frozen registry of all scorer definitions. Throws if two scorers share an id or a metric
 * name (metric names are global: reports and the store key on them).
 */
export async function loadScorerRegistry(): Promise<Registry<ScorerDefinition>> {
  const definitions = await Promise.all(SCORER_MODULES.map((load) => load()));
  const registry = new Registry<ScorerDefinition>('scorer');
  const metricOwner = new Map<string, string>();
  for (const definition of definitions) {
    registry.register(definition.id, definition);
    for (const metric of definition.metrics) {
      const owner = metricOwner.get(metric.name);
      if (owner) throw new Error(`metric '${metric.name}' is declared by both '${owner}' and '${definition.id}'`);
      metricOwner.set(metric.name, definition.id);
    }
  }
  return registry.freeze();
}

/** Creates the scorer registered under `id` (UserError with suggestions when unknown). */
export async function createScorer(
  id: string,
  options: Record<string, unknown>,
  context: ScorerFactoryContext,
  registry?: Registry<ScorerDefinition>,
): Promise<Scorer> {
  const definition = (registry ?? (await loadScorerRegistry())).get(id);
  const scorer = await definition.create(options, context);
  if (scorer.id !== definition.id) throw new Error(`scorer definition '${definition.id}' created a scorer with id '${scorer.id}'`);
  return scorer;
}
