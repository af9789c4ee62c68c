/**
 * The built-in prompt suites. A suite exists iff it is listed in `SUITES`; templates and word lists live
 * in the suite's own file.
 */
import { Registry } from '../../probes/registry.js';
import type { PromptInstance } from '../types.js';
import { attributeBindingSuite } from './attribute-binding.js';
import { countingSuite } from './counting.js';
import { descriptorsSuite } from './descriptors.js';
import { occupationsSuite } from './occupations.js';
import { relationsSuite } from './relations.js';
import { instantiateSuite, type SuiteDefinition, type SuiteSelection } from './suite.js';
import { textRenderingSuite } from './text-rendering.js';

export type { SuiteDefinition, SuiteSelection } from './suite.js';

const SUITES: readonly SuiteDefinition[] = [
  relationsSuite,
  attributeBindingSuite,
  countingSuite,
  textRenderingSuite,
  occupationsSuite,
  descriptorsSuite,
];

function suiteRegistry(): Registry<SuiteDefinition> {
  const registry = new Registry<SuiteDefinition>('suite');
  for (const suite of SUITES) registry.register(suite.id, suite);
  return registry.freeze();
}

export interface SuiteSummary {
  id: string;
  version: string;
  description: string;
  categories: string[];
  /** number of instances with the default options */
  size: number;
  optionDocs: Record<string, string>;
}

/** Every built-in suite with its version and default size. */
export function listSuites(): SuiteSummary[] {
  return SUITES.map((suite) => ({
    id: suite.id,
    version: suite.version,
    description: suite.description,
    categories: suite.categories,
    size: instantiateSuite(suite).length,
    optionDocs: suite.optionDocs,
  }));
}

/** The suite's definition; UserError with suggestions for an unknown name. */
export function getSuite(id: string): SuiteDefinition {
  return suiteRegistry().get(id);
}

/** Instances of a built-in suite (see `instantiateSuite` for ids, order, limit and seed). */
export function loadSuite(id: string, selection: SuiteSelection = {}): PromptInstance[] {
  return instantiateSuite(getSuite(id), selection);
}
