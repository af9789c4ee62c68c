/**
 * `loadPromptSet`: the one entry point that turns a prompt source of an experiment (inline list,
 * built-in suite, or file) into prompt instances.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../pipelines/errors.js';
import { PROMPT_FILE_FORMATS, readPromptFile } from './adapters/index.js';
import { describeIssues, expectationsSchema } from './expectations.js';
import { loadSuite } from './suites/index.js';
import type { PromptExpectations, PromptFileFormat, PromptInstance, PromptSource } from './types.js';

const categoriesSchema = z.array(z.string().min(1)).min(1).optional();
const limitSchema = z.number().int().positive().optional();

const inlineObjectSchema = z
  .object({
    text: z.string().trim().min(1),
    id: z.string().min(1).optional(),
    category: z.string().min(1).optional(),
    subcategory: z.string().min(1).optional(),
    expectations: expectationsSchema.optional(),
    attributes: z.record(z.string(), z.string()).optional(),
  })
  .strict();

const inlineSchema = z.object({ inline: z.array(z.unknown()).min(1), name: z.string().min(1).optional() }).strict();

const suiteSchema = z
  .object({
    suite: z.string().min(1),
    categories: categoriesSchema,
    limit: limitSchema,
    seed: z.number().int().optional(),
    options: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const fileSchema = z
  .object({
    file: z.string().min(1),
    format: z.enum(PROMPT_FILE_FORMATS as [PromptFileFormat, ...PromptFileFormat[]]).optional(),
    categories: categoriesSchema,
    limit: limitSchema,
    name: z.string().min(1).optional(),
  })
  .strict();

function parseSource<T>(schema: z.ZodType<T>, source: unknown, what: string, pathPrefix = ''): T {
  const parsed = schema.safeParse(source);
  if (!parsed.success) throw new UserError(`${what}: ${describeIssues(parsed.error, pathPrefix)}`);
  return parsed.data;
}

function filterCategories(instances: PromptInstance[], categories: string[] | undefined, where: string): PromptInstance[] {
  if (!categories) return instances;
  const available = [...new Set(instances.map((instance) => instance.category))];
  const unknown = categories.filter((category) => !available.includes(category));
  if (unknown.length) {
    throw new UserError(`${where}: no prompts of category ${unknown.map((c) => `'${c}'`).join(', ')}`, `categories here: ${available.join(', ')}`);
  }
  const wanted = new Set(categories);
  return instances.filter((instance) => wanted.has(instance.category));
}

function loadInline(source: unknown): PromptInstance[] {
  const { inline, name = 'inline' } = parseSource(inlineSchema, source, 'inline prompts');
  const seen = new Set<string>();
  return inline.map((entry, index) => {
    // a bare string, or an object checked on its own so that messages carry its index and field
    const item =
      typeof entry === 'string' && entry.trim()
        ? { text: entry.trim() }
        : parseSource(inlineObjectSchema, entry, 'inline prompts', `inline[${index}]`);
    const id = item.id ?? `${name}/${String(index).padStart(4, '0')}`;
    if (seen.has(id)) throw new UserError(`inline prompts[${index}].id: '${id}' is used twice`, 'ids must be unique');
    seen.add(id);
    return {
      id,
      text: item.text,
      suite: name,
      category: item.category ?? name,
      ...('subcategory' in item && item.subcategory ? { subcategory: item.subcategory } : {}),
      ...('expectations' in item && item.expectations ? { expectations: item.expectations as PromptExpectations } : {}),
      ...('attributes' in item && item.attributes ? { attributes: item.attributes } : {}),
    };
  });
}

/**
 * Prompt instances of one source:
 * - `{ inline: [...] , name? }`: strings or `{ text, id?, category?, subcategory?, expectations?, attributes? }`;
 * - `{ suite, categories?, limit?, seed?, options? }`: a built-in suite (`listSuites()`);
 * - `{ file, format?, categories?, limit?, name? }`: a prompt file; relative paths resolve against `baseDir`.
 * `categories` filters first, then `limit` keeps the first N (suites: a seeded, balanced sample when
 * `seed` is given). Bad input throws a UserError naming the field, file and line.
 */
export function loadPromptSet(source: PromptSource, baseDir: string): PromptInstance[] {
  if (typeof source !== 'object' || source === null) throw new UserError('prompt source must be an object with inline, suite or file');
  if ('inline' in source) return loadInline(source);
  if ('suite' in source) {
    const { suite, categories, limit, seed, options } = parseSource(suiteSchema, source, `suite '${String(source.suite)}'`);
    if (categories) filterCategories(loadSuite(suite, { options }), categories, `suite '${suite}'`);
    return loadSuite(suite, { categories, limit, seed, options });
  }
  if ('file' in source) {
    const { file, format, categories, limit, name } = parseSource(fileSchema, source, `prompt file '${String(source.file)}'`);
    const path = isAbsolute(file) ? file : resolve(baseDir, file);
    const { instances } = readPromptFile(path, { format, name });
    const filtered = filterCategories(instances, categories, path);
    return limit === undefined ? filtered : filtered.slice(0, limit);
  }
  throw new UserError(`prompt source needs one of inline, suite or file; got keys ${Object.keys(source).join(', ') || '(none)'}`);
}
