/** What every prompt-file adapter gets and returns. */
import { UserError } from '../../pipelines/errors.js';
import type { PromptInstance } from '../types.js';

export interface AdapterInput {
  /** the file's text (UTF-8, a leading BOM removed) */
  content: string;
  /** the path as given, for messages */
  path: string;
  /** file name without folders, e.g. `color_val.txt` */
  fileName: string;
  /** the instances' `suite` and id prefix */
  name: string;
}

export interface AdapterResult {
  instances: PromptInstance[];
  /** instances that came with structured expectations (parsed or given) */
  withExpectations: number;
}

export type Adapter = (input: AdapterInput) => AdapterResult;

/** `file:line: message`: the form every adapter error takes. */
export function fileError(path: string, line: number | undefined, message: string, hint?: string): UserError {
  return new UserError(`${path}${line === undefined ? '' : `:${line}`}: ${message}`, hint);
}

export function promptId(name: string, index: number, width = 4): string {
  return `${name}/${String(index).padStart(width, '0')}`;
}

/** Lines with their 1-based numbers; a final empty line (trailing newline) is dropped. */
export function numberedLines(content: string): Array<{ line: number; text: string }> {
  const lines = content.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.map((text, i) => ({ line: i + 1, text }));
}
