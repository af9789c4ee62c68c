/**
 * How a built-in suite turns its templates and word lists into prompt instances.
 *
 * A suite builds *groups* (instances that belong together, e.g. a prompt and its colour-swapped
 * counterpart, or an occupation with its explicit-gender controls), each in a *stratum* (e.g. the
 * relation). The canonical order takes groups round-robin across strata, so the first N instances of
 * any suite are balanced; ids are `<suite>/<index in that order>` and never change with `limit`, `seed`
 * or `categories`. With a seed, groups are shuffled within each stratum before the round-robin, so a
 * seeded limit is a different but still balanced sample.
 */
import { z } from 'zod';
import { UserError } from '../../pipelines/errors.js';
import { describeIssues } from '../expectations.js';
import { seededRandom, shuffled } from '../random.js';
import type { PromptInstance } from '../types.js';

/** An instance before the suite name and id are attached. */
export type SuiteItem = Omit<PromptInstance, 'id' | 'suite'>;

export interface SuiteGroup {
  stratum: string;
  items: SuiteItem[];
}

export interface SuiteDefinition {
  id: string;
  /** bump when templates or word lists change: the same id then names a different prompt */
  version: string;
  description: string;
  /** the categories its instances carry */
  categories: string[];
  /** option key → what it overrides (the default word lists are exported next to the suite) */
  optionDocs: Record<string, string>;
  /** groups in build order; throws UserError on bad options */
  build(options: Record<string, unknown>): SuiteGroup[];
}

/** Wraps a suite's typed builder with option validation that names the suite and the key. */
export function defineSuite<Schema extends z.ZodType>(spec: {
  id: string;
  version: string;
  description: string;
  categories: string[];
  optionDocs: Record<string, string>;
  options: Schema;
  build(options: z.output<Schema>): SuiteGroup[];
}): SuiteDefinition {
  return {
    id: spec.id,
    version: spec.version,
    description: spec.description,
    categories: spec.categories,
    optionDocs: spec.optionDocs,
    build(raw) {
      const parsed = spec.options.safeParse(raw ?? {});
      if (!parsed.success) {
        throw new UserError(
          `suite '${spec.id}' options: ${describeIssues(parsed.error)}`,
          `known options: ${Object.keys(spec.optionDocs).join(', ') || 'none'}`,
        );
      }
      return spec.build(parsed.data);
    },
  };
}

/** A list of distinct non-empty words, at least `min` of them. */
export function wordList(min: number) {
  return z
    .array(z.string().trim().min(1))
    .min(min)
    .refine((words) => new Set(words).size === words.length, 'must not repeat a word');
}

function roundRobin<Group extends { stratum: string }>(groups: Group[]): Group[] {
  const strata = new Map<string, Group[]>();
  for (const group of groups) {
    const list = strata.get(group.stratum) ?? [];
    list.push(group);
    strata.set(group.stratum, list);
  }
  const queues = [...strata.values()];
  const out: Group[] = [];
  for (let round = 0; out.length < groups.length; round++) {
    for (const queue of queues) if (round < queue.length) out.push(queue[round]);
  }
  return out;
}

export interface SuiteSelection {
  categories?: string[];
  limit?: number;
  seed?: number;
  options?: Record<string, unknown>;
}

/** Builds a suite's instances: canonical ids, then the category filter, then the (seeded) limit. */
export function instantiateSuite(definition: SuiteDefinition, selection: SuiteSelection = {}): PromptInstance[] {
  const canonical = roundRobin(definition.build(selection.options ?? {}));
  const width = Math.max(4, String(canonical.reduce((n, group) => n + group.items.length, 0) - 1).length);
  let index = 0;
  const withIds = canonical.map((group) => ({
    stratum: group.stratum,
    items: group.items.map(
      (item): PromptInstance => ({ id: `${definition.id}/${String(index++).padStart(width, '0')}`, suite: definition.id, ...item }),
    ),
  }));
  const wanted = selection.categories ? new Set(selection.categories) : undefined;
  const filtered = withIds
    .map((group) => ({ ...group, items: wanted ? group.items.filter((item) => wanted.has(item.category)) : group.items }))
    .filter((group) => group.items.length > 0);
  let ordered = filtered;
  if (selection.seed !== undefined) {
    const random = seededRandom(selection.seed);
    const byStratum = new Map<string, typeof filtered>();
    for (const group of filtered) byStratum.set(group.stratum, [...(byStratum.get(group.stratum) ?? []), group]);
    const reshuffled = [...byStratum.values()].flatMap((list) => shuffled(list, random));
    ordered = roundRobin(reshuffled);
  }
  const instances = ordered.flatMap((group) => group.items);
  return selection.limit === undefined ? instances : instances.slice(0, selection.limit);
}
