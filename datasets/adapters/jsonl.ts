/**
 * `jsonl`: one JSON object per line: `{ "text" | "prompt": string, "id"?, "category"?, "subcategory"?,
 * "attributes"? (string values), "expectations"? }`. GenEval-style top-level `tag` / `include` /
 * `exclude` are accepted as expectations too. Other keys are ignored. Blank lines are skipped.
 * Ids: the line's `id` (must be unique in the file) or `<name>/<prompt index>`.
 */
import { z } from 'zod';
import { describeIssues, expectationsSchema } from '../expectations.js';
import type { PromptExpectations, PromptInstance } from '../types.js';
import { fileError, numberedLines, promptId, type Adapter } from './adapter.js';

const lineSchema = z.looseObject({
  text: z.string().trim().min(1).optional(),
  prompt: z.string().trim().min(1).optional(),
  id: z.union([z.string().min(1), z.number().int()]).optional(),
  category: z.string().min(1).optional(),
  subcategory: z.string().min(1).optional(),
  attributes: z.record(z.string(), z.string()).optional(),
  expectations: expectationsSchema.optional(),
  tag: z.string().min(1).optional(),
  include: expectationsSchema.shape.include,
  exclude: expectationsSchema.shape.exclude,
});

export function parseJsonLine(path: string, line: number, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw fileError(path, line, `not valid JSON (${(error as Error).message})`, 'each line must be one JSON object');
  }
}

export const readJsonlPrompts: Adapter = ({ content, path, name }) => {
  const instances: PromptInstance[] = [];
  const seenIds = new Map<string, number>();
  let withExpectations = 0;
  for (const { line, text } of numberedLines(content)) {
    if (!text.trim()) continue;
    const parsed = lineSchema.safeParse(parseJsonLine(path, line, text));
    if (!parsed.success) throw fileError(path, line, describeIssues(parsed.error));
    const record = parsed.data;
    const promptText = record.text ?? record.prompt;
    if (!promptText) throw fileError(path, line, 'needs "text" (or "prompt"): the prompt string');
    if (record.expectations && (record.tag || record.include || record.exclude)) {
      throw fileError(path, line, 'give expectations either as "expectations" or as top-level tag/include/exclude, not both');
    }
    const geneval: PromptExpectations | undefined =
      record.tag || record.include || record.exclude
        ? { tag: record.tag, include: record.include, exclude: record.exclude }
        : undefined;
    if (geneval) {
      const check = expectationsSchema.safeParse(geneval);
      if (!check.success) throw fileError(path, line, describeIssues(check.error));
    }
    const expectations = (record.expectations ?? geneval) as PromptExpectations | undefined;
    const id = record.id === undefined ? promptId(name, instances.length) : String(record.id);
    const previous = seenIds.get(id);
    if (previous !== undefined) throw fileError(path, line, `id '${id}' is already used on line ${previous}`, 'ids must be unique');
    seenIds.set(id, line);
    if (expectations) withExpectations++;
    instances.push({
      id,
      text: promptText,
      suite: name,
      category: record.category ?? record.tag ?? name,
      ...(record.subcategory ? { subcategory: record.subcategory } : {}),
      ...(expectations ? { expectations: stripUndefined(expectations) } : {}),
      ...(record.attributes ? { attributes: record.attributes } : {}),
    });
  }
  return { instances, withExpectations };
};

function stripUndefined(expectations: PromptExpectations): PromptExpectations {
  return Object.fromEntries(Object.entries(expectations).filter(([, v]) => v !== undefined)) as PromptExpectations;
}
