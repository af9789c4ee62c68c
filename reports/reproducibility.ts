/**
 * @module
 * What a reader needs to reproduce a run: the manifest and resolved config as recorded, the model
 * hashes found in the manifest, the command that made the run, and the determinism check if the run
 * recorded one (a `determinism` entry in the manifest or in the store's meta table).
 */
import type { RunRecords } from './load.js';

export interface DeterminismResult {
  status: 'passed' | 'failed' | 'recorded' | 'not checked';
  /** the recorded entry, as stored */
  detail: unknown;
}

export interface Reproducibility {
  manifest: Record<string, unknown> | null;
  spec: Record<string, unknown> | null;
  /** sha256-like values found under the manifest's `models`, with their JSON path */
  modelHashes: { path: string; value: string }[];
  command: string | null;
  determinism: DeterminismResult;
}

const HASH = /^(sha256:)?[0-9a-f]{16,128}$/i;

function collectHashes(value: unknown, path: string, into: { path: string; value: string }[]): void {
  if (typeof value === 'string') {
    if (HASH.test(value)) into.push({ path, value });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => collectHashes(item, `${path}[${i}]`, into));
    return;
  }
  if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value as Record<string, unknown>).sort()) {
      collectHashes((value as Record<string, unknown>)[key], path === '' ? key : `${path}.${key}`, into);
    }
  }
}

/** POSIX shell quoting: bare when safe, single-quoted otherwise */
export function shellQuote(argument: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(argument) ? argument : `'${argument.replace(/'/g, `'\\''`)}'`;
}

function commandOf(manifest: Record<string, unknown> | null): string | null {
  const line = manifest?.commandLine;
  if (Array.isArray(line) && line.length > 0 && line.every((part) => typeof part === 'string')) {
    const parts = line as string[];
    const first = parts[0];
    const startsWithProgram = /(^|\/)(node|refinery|refinery\.mjs|npx|tsx)$/.test(first);
    return (startsWithProgram ? parts : ['refinery', ...parts]).map(shellQuote).join(' ');
  }
  if (typeof manifest?.command === 'string') return manifest.command;
  return null;
}

function parseMaybeJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function determinismOf(records: RunRecords): DeterminismResult {
  const entry = records.manifest?.determinism ?? parseMaybeJson(records.storeMeta.determinism);
  if (entry === undefined || entry === null) return { status: 'not checked', detail: null };
  if (entry !== null && typeof entry === 'object') {
    const object = entry as Record<string, unknown>;
    for (const flag of ['passed', 'identical', 'equal', 'match', 'ok']) {
      if (typeof object[flag] === 'boolean') return { status: object[flag] ? 'passed' : 'failed', detail: entry };
    }
  }
  return { status: 'recorded', detail: entry };
}

export function summarizeReproducibility(records: RunRecords): Reproducibility {
  const modelHashes: { path: string; value: string }[] = [];
  if (records.manifest) collectHashes(records.manifest.models, 'models', modelHashes);
  return {
    manifest: records.manifest,
    spec: records.spec,
    modelHashes,
    command: commandOf(records.manifest),
    determinism: determinismOf(records),
  };
}
