import { createRequire } from 'node:module';
import type { PngText } from './png.js';

/**
 * Generation parameters embedded in every PNG refinery writes, as two text chunks:
 * - `parameters`: the AUTOMATIC1111 web UI format, which common image viewers and UIs parse
 *   (prompt line(s), `Negative prompt: …` line, then one `Key: value, …` line);
 * - `refinery`: canonical JSON with everything needed to reproduce the image.
 */

export const REFINERY_VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

export type GenerationMode = 'base-only' | 'ensemble' | 'sdedit';

export interface ModelIdentity {
  /** folder the model was loaded from (informational; the hash identifies it) */
  dir?: string;
  /** hash of the whole model folder */
  hash: string;
  /** per-file hashes, relative path → hash */
  files?: Record<string, string>;
}

export interface GenerationRecord {
  prompt: string;
  /** null = no negative prompt (the base then uses zero embeddings); "" is an encoded empty prompt */
  negativePrompt: string | null;
  seed: number;
  steps: number;
  scheduler: string;
  schedulerConfig: Record<string, unknown>;
  guidance: number;
  refinerGuidance?: number;
  guidanceRescale?: number;
  mode: GenerationMode;
  /** ensemble: fraction of the schedule the base denoises (diffusers denoising_end) */
  handoff?: number;
  /** sdedit: refiner strength */
  strength?: number;
  width: number;
  height: number;
  aestheticScore?: number;
  negativeAestheticScore?: number;
  models: { base: ModelIdentity; refiner?: ModelIdentity };
  /** execution provider that ran the UNets */
  provider?: string;
  /** which random streams the image depends on, in words */
  noise?: string;
}

/** A1111's quoting: values containing `,`, `:` or a newline are written as JSON strings. */
function quote(value: string): string {
  return /[,:\n]/.test(value) ? JSON.stringify(value) : value;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(12)));
}

/** The sampler and schedule names A1111 uses for a scheduler name or diffusers class name. */
export function a1111Sampler(scheduler: string, config: Record<string, unknown> = {}): { sampler: string; scheduleType?: string } {
  const key = scheduler.toLowerCase().replace(/[^a-z0-9+]/g, '');
  const karras = config.use_karras_sigmas === true || key.includes('karras');
  const scheduleType = karras ? 'Karras' : undefined;
  if (key.includes('ancestral') || key.startsWith('eulera')) return { sampler: 'Euler a', scheduleType };
  if (key.includes('euler')) return { sampler: 'Euler', scheduleType };
  if (key.includes('ddim')) return { sampler: 'DDIM', scheduleType };
  if (key.includes('dpm')) return { sampler: 'DPM++ 2M', scheduleType };
  return { sampler: scheduler, scheduleType };
}

function shortHash(hash: string): string {
  return hash.replace(/^sha256[:-]/, '').slice(0, 10);
}

/** The A1111 `parameters` text for a record. */
export function a1111Parameters(record: GenerationRecord): string {
  const lines = [record.prompt];
  if (record.negativePrompt) lines.push(`Negative prompt: ${record.negativePrompt}`);
  const { sampler, scheduleType } = a1111Sampler(record.scheduler, record.schedulerConfig);
  const fields: [string, string | number | undefined][] = [
    ['Steps', record.steps],
    ['Sampler', sampler],
    ['Schedule type', scheduleType],
    ['CFG scale', formatNumber(record.guidance)],
    ['Seed', record.seed],
    ['Size', `${record.width}x${record.height}`],
    ['Model hash', shortHash(record.models.base.hash)],
    ['CFG Rescale phi', record.guidanceRescale ? formatNumber(record.guidanceRescale) : undefined],
  ];
  if (record.mode !== 'base-only' && record.models.refiner) {
    fields.push(['Refiner', `refiner [${shortHash(record.models.refiner.hash)}]`]);
    if (record.mode === 'ensemble' && record.handoff !== undefined) fields.push(['Refiner switch at', formatNumber(record.handoff)]);
    if (record.mode === 'sdedit' && record.strength !== undefined) fields.push(['Denoising strength', formatNumber(record.strength)]);
    if (record.refinerGuidance !== undefined && record.refinerGuidance !== record.guidance) {
      fields.push(['Refiner CFG scale', formatNumber(record.refinerGuidance)]);
    }
  }
  fields.push(['Version', `refinery ${REFINERY_VERSION}`]);
  lines.push(
    fields
      .filter((field): field is [string, string | number] => field[1] !== undefined)
      .map(([key, value]) => `${key}: ${quote(String(value))}`)
      .join(', '),
  );
  return lines.join('\n');
}

/** The two PNG text chunks (`parameters`, `refinery`) for a record. */
export function generationTexts(record: GenerationRecord): PngText[] {
  return [
    { keyword: 'parameters', text: a1111Parameters(record) },
    { keyword: 'refinery', text: JSON.stringify({ refineryVersion: REFINERY_VERSION, ...record }) },
  ];
}

/** Reads the `refinery` JSON chunk back (null when absent). */
export function readGenerationRecord(texts: readonly PngText[]): (GenerationRecord & { refineryVersion: string }) | null {
  const chunk = texts.find((text) => text.keyword === 'refinery');
  return chunk ? (JSON.parse(chunk.text) as GenerationRecord & { refineryVersion: string }) : null;
}
