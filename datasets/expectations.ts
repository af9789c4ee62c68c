/**
 * Validation of structured expectations (GenEval form) wherever they enter from outside: inline prompts,
 * JSONL files, GenEval `evaluation_metadata.jsonl`. Messages name the field path so the caller can prefix
 * the file and line.
 */
import { z } from 'zod';
import type { PromptExpectations, Relation } from './types.js';

export const RELATIONS = ['left of', 'right of', 'above', 'below'] as const satisfies readonly Relation[];

const clauseSchema = z
  .object({
    class: z.string().min(1),
    count: z.number().int().positive().optional(),
    color: z.string().min(1).optional(),
    position: z.tuple([z.enum(RELATIONS), z.number().int().nonnegative()]).optional(),
  })
  .strict();

export const expectationsSchema = z
  .object({
    tag: z.string().min(1).optional(),
    include: z.array(clauseSchema).optional(),
    exclude: z.array(clauseSchema.omit({ position: true })).optional(),
    text: z.array(z.string().min(1)).optional(),
  })
  .strict()
  .superRefine((value, context) => {
    value.include?.forEach((clause, index) => {
      // GenEval evaluates include clauses in order, so a position may only refer to an earlier clause
      if (clause.position && clause.position[1] >= index) {
        context.addIssue({
          code: 'custom',
          path: ['include', index, 'position', 1],
          message: `must refer to an earlier include clause (0..${index - 1})`,
        });
      }
    });
  });

/** `path: message` for each zod issue, e.g. `include[1].position[0]: Invalid option: expected one of …`. */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const path = [prefix, ...issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`))]
        .join('')
        .replace(/^\./, '');
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Parses expectations or returns the problems as one line. */
export function parseExpectations(
  value: unknown,
  prefix = 'expectations',
): { ok: true; expectations: PromptExpectations } | { ok: false; message: string } {
  const result = expectationsSchema.safeParse(value);
  if (result.success) return { ok: true, expectations: result.data as PromptExpectations };
  return { ok: false, message: describeIssues(result.error, prefix) };
}
