/**
 * Content-addressed identities: canonical JSON (RFC 8785 style) and the sha256 keys of units and
 * base trajectories. Same key ⇒ same image, anywhere (on the same execution provider).
 *
 * @example
 * canonicalJson({ b: [1.50, -0], a: 'x' }) // '{"a":"x","b":[1.5,0]}'
 * @module
 */
import { createHash } from 'node:crypto';
import type { Condition, ModelHashes } from './types.js';

/**
 * Bump when the pipeline's semantics change so that old images no longer match their settings
 * (a scheduler fix, a different VAE decode, a new noise layout): every key changes with it.
 */
export const PIPELINE_SEMANTICS_VERSION = 'refinery-sdxl/1';

/** The initial-noise generator every key assumes (torch CPU MT19937 + Box–Muller, contract §10). */
export const NOISE_GENERATOR_ID = 'torch-cpu-mt19937';

/**
 * JSON with object keys sorted by UTF-16 code units, no whitespace, numbers in ECMAScript's shortest
 * round-trip form and -0 written as 0 (RFC 8785). Throws on values JSON cannot represent exactly:
 * NaN, ±Infinity, undefined, functions, symbols, bigints, non-plain objects and cycles.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, '$', new Set());
}

function serialize(value: unknown, path: string, ancestors: Set<object>): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${path} is ${value}, which JSON cannot represent`);
      return Object.is(value, -0) ? '0' : String(value);
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalJson: ${path} is ${typeof value}, which JSON cannot represent`);
  }
  const object = value as object;
  if (ancestors.has(object)) throw new TypeError(`canonicalJson: ${path} refers back to itself (cycle)`);
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      const items: string[] = [];
      for (let i = 0; i < object.length; i++) items.push(serialize(object[i], `${path}[${i}]`, ancestors));
      return `[${items.join(',')}]`;
    }
    const prototype = Object.getPrototypeOf(object);
    if (prototype !== Object.prototype && prototype !== null) {
      throw new TypeError(`canonicalJson: ${path} is a ${object.constructor?.name ?? 'non-plain object'}; pass plain objects and arrays`);
    }
    const record = object as Record<string, unknown>;
    const keys = Object.keys(record).sort(compareCodeUnits);
    const members = keys.map((key) => `${JSON.stringify(key)}:${serialize(record[key], `${path}.${key}`, ancestors)}`);
    return `{${members.join(',')}}`;
  } finally {
    ancestors.delete(object);
  }
}

function compareCodeUnits(a: string, b: string): number {
  // plain < on strings compares UTF-16 code units, independent of locale
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** sha256 hex of the canonical JSON of `value`. */
export function contentKey(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

export function usesRefiner(condition: Pick<Condition, 'mode'>): boolean {
  return condition.mode !== 'base-only';
}

/** Fully resolved scheduler configs for the stages a condition runs. */
export interface ResolvedSchedulerConfigs {
  base: Record<string, unknown>;
  /** present when the condition uses the refiner */
  refiner?: Record<string, unknown>;
}

/** What determines a base trajectory: everything the base denoising loop sees. */
export interface TrajectoryDescriptor {
  version: string;
  noise: string;
  base_model: string;
  prompt: string;
  negative_prompt: string | null;
  seed: number;
  steps: number;
  guidance: number;
  guidance_rescale: number;
  scheduler: string;
  scheduler_config: Record<string, unknown>;
  width: number;
  height: number;
}

/** What determines one image: the trajectory plus how (and whether) the refiner finishes it. */
export interface ImageDescriptor extends TrajectoryDescriptor {
  mode: Condition['mode'];
  handoff?: number;
  strength?: number;
  refiner_model?: string;
  refiner_guidance?: number;
  refiner_scheduler_config?: Record<string, unknown>;
  aesthetic_score?: number;
  negative_aesthetic_score?: number;
}

export interface KeyInput {
  condition: Condition;
  promptText: string;
  seed: number;
  models: ModelHashes;
  schedulerConfigs: ResolvedSchedulerConfigs;
}

export function trajectoryDescriptor(input: KeyInput): TrajectoryDescriptor {
  const { condition, promptText, seed, models, schedulerConfigs } = input;
  return {
    version: PIPELINE_SEMANTICS_VERSION,
    noise: NOISE_GENERATOR_ID,
    base_model: models.base,
    prompt: promptText,
    negative_prompt: condition.negativePrompt,
    seed,
    steps: condition.steps,
    guidance: condition.guidance,
    guidance_rescale: condition.guidanceRescale,
    scheduler: condition.scheduler,
    scheduler_config: schedulerConfigs.base,
    width: condition.width,
    height: condition.height,
  };
}

export function imageDescriptor(input: KeyInput): ImageDescriptor {
  const { condition, models, schedulerConfigs } = input;
  const descriptor: ImageDescriptor = { ...trajectoryDescriptor(input), mode: condition.mode };
  if (!usesRefiner(condition)) return descriptor;
  if (models.refiner === undefined) {
    throw new Error(`unitKey: condition ${condition.id} uses the refiner but no refiner model hash was given`);
  }
  if (condition.mode === 'ensemble') descriptor.handoff = requireDefined(condition.handoff, 'handoff', condition);
  else descriptor.strength = requireDefined(condition.strength, 'strength', condition);
  descriptor.refiner_model = models.refiner;
  descriptor.refiner_guidance = condition.refinerGuidance;
  descriptor.refiner_scheduler_config = schedulerConfigs.refiner ?? schedulerConfigs.base;
  descriptor.aesthetic_score = condition.aestheticScore;
  descriptor.negative_aesthetic_score = condition.negativeAestheticScore;
  return descriptor;
}

function requireDefined(value: number | undefined, field: string, condition: Condition): number {
  if (value === undefined) throw new Error(`unitKey: ${condition.mode} condition ${condition.id} has no ${field}`);
  return value;
}

/** sha256 hex of the canonical JSON of the image descriptor. */
export function unitKey(input: KeyInput): string {
  return contentKey(imageDescriptor(input));
}

/** sha256 hex of the canonical JSON of the trajectory descriptor. */
export function trajectoryKey(input: KeyInput): string {
  return contentKey(trajectoryDescriptor(input));
}

/** One hash for a set of unit keys (order-free): two runs or shards of the same experiment agree on it. */
export function unitSetKey(keys: Iterable<string>): string {
  return contentKey([...new Set(keys)].sort());
}
