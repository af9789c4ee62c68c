/**
 * `geneval`: GenEval's `evaluation_metadata.jsonl`: `{ "tag", "include": [...], "exclude"?: [...],
 * "prompt" }` per line. The clauses are kept exactly (class, count, color, position) as expectations;
 * the category is the tag (single_object, two_object, counting, colors, position, color_attr).
 * Ids: `<name>/<line index>`.
 */
import { z } from 'zod';
import { describeIssues, expectationsSchema } from '../expectations.js';
import type { PromptExpectations, PromptInstance } from '../types.js';
import { fileError, numberedLines, promptId, type Adapter } from './adapter.js';
import { parseJsonLine } from './jsonl.js';

const genevalLineSchema = z.object({
  tag: z.string().min(1),
  prompt: z.string().trim().min(1),
  include: expectationsSchema.shape.include.unwrap().min(1),
  exclude: expectationsSchema.shape.exclude,
});

export const readGenevalPrompts: Adapter = ({ content, path, name }) => {
  const instances: PromptInstance[] = [];
  for (const { line, text } of numberedLines(content)) {
    if (!text.trim()) continue;
    const parsed = genevalLineSchema.safeParse(parseJsonLine(path, line, text));
    if (!parsed.success) {
      throw fileError(path, line, describeIssues(parsed.error), 'GenEval lines need tag, prompt and include clauses');
    }
    const { tag, prompt, include, exclude } = parsed.data;
    const expectations: PromptExpectations = { tag, include, ...(exclude ? { exclude } : {}) };
    const check = expectationsSchema.safeParse(expectations);
    if (!check.success) throw fileError(path, line, describeIssues(check.error));
    instances.push({ id: promptId(name, instances.length), text: prompt, suite: name, category: tag, expectations });
  }
  return { instances, withExpectations: instances.length };
};
