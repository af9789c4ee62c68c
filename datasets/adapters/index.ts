/**
 * Prompt-file adapters by format, and format detection from the file name:
 * `evaluation_metadata.jsonl` or `*geneval*.jsonl` → geneval; other `.jsonl` → jsonl;
 * `<category>_val.txt` / `_train.txt` / `_test.txt` → t2i-compbench; other `.txt` → text;
 * `.tsv` → parti; `prompt_list.json` → dalleval.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { PromptFileFormat } from '../types.js';
import { fileError, type Adapter, type AdapterResult } from './adapter.js';
import { readDallEvalPrompts } from './dalleval.js';
import { readGenevalPrompts } from './geneval.js';
import { readJsonlPrompts } from './jsonl.js';
import { readPartiPrompts } from './parti.js';
import { readT2ICompBenchPrompts } from './t2i-compbench.js';
import { readTextPrompts } from './text.js';

export const PROMPT_FILE_FORMATS: readonly PromptFileFormat[] = ['text', 'jsonl', 'geneval', 't2i-compbench', 'parti', 'dalleval'];

const ADAPTERS: Readonly<Record<PromptFileFormat, Adapter>> = {
  text: readTextPrompts,
  jsonl: readJsonlPrompts,
  geneval: readGenevalPrompts,
  't2i-compbench': readT2ICompBenchPrompts,
  parti: readPartiPrompts,
  dalleval: readDallEvalPrompts,
};

/** The format a file name implies, or undefined when the name does not tell. */
export function detectFormat(path: string): PromptFileFormat | undefined {
  const name = basename(path).toLowerCase();
  if (name.endsWith('.jsonl')) return name === 'evaluation_metadata.jsonl' || name.includes('geneval') ? 'geneval' : 'jsonl';
  if (/_(?:val|train|test)\.txt$/.test(name)) return 't2i-compbench';
  if (name.endsWith('.txt')) return 'text';
  if (name.endsWith('.tsv')) return 'parti';
  if (name === 'prompt_list.json') return 'dalleval';
  return undefined;
}

/** The default `suite` / id prefix: the format for the public sets, the file's base name otherwise. */
export function defaultSetName(path: string, format: PromptFileFormat): string {
  if (format === 'text' || format === 'jsonl') return basename(path).replace(/\.[^.]*$/, '') || format;
  return format;
}

export interface PromptFileResult extends AdapterResult {
  format: PromptFileFormat;
  name: string;
}

/** Reads one prompt file (all of it) through its adapter. Errors name the file and, where known, the line. */
export function readPromptFile(path: string, options: { format?: PromptFileFormat; name?: string } = {}): PromptFileResult {
  const format = options.format ?? detectFormat(path);
  if (!format) {
    throw fileError(path, undefined, 'cannot tell the prompt file format from its name', `set format: to one of ${PROMPT_FILE_FORMATS.join(', ')}`);
  }
  const adapter = ADAPTERS[format];
  if (!adapter) throw fileError(path, undefined, `unknown format '${format}'`, `use one of ${PROMPT_FILE_FORMATS.join(', ')}`);
  let content: string;
  try {
    content = readFileSync(path, 'utf8').replace(/^\uFEFF/, '');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw fileError(path, undefined, code === 'ENOENT' ? 'not found' : `cannot be read (${code ?? (error as Error).message})`, 'check the path; relative paths are relative to the experiment file');
  }
  const name = options.name ?? defaultSetName(path, format);
  return { format, name, ...adapter({ content, path, fileName: basename(path), name }) };
}
