/**
 * One clause of a prompt's structured expectations, in the form of GenEval's
 * `evaluation_metadata.jsonl` (`include` / `exclude` entries).
 */
export interface ObjectClause {
  /** object class as named in the prompt, e.g. "teddy bear" */
  class: string;
  /** expected number of instances (GenEval: at least this many for include, fewer for exclude) */
  count?: number;
  /** expected colour name, e.g. "red" */
  color?: string;
  /** relation to another include clause: [relation, index of that clause] */
  position?: [Relation, number];
}

export type Relation = 'left of' | 'right of' | 'above' | 'below';

/** What a prompt asks for, for probes to check. Absent fields mean "no expectation". */
export interface PromptExpectations {
  /** GenEval-style tag of the skill, e.g. "position", "color_attr", "counting", "colors", "two_object" */
  tag?: string;
  include?: ObjectClause[];
  exclude?: ObjectClause[];
  /** strings the image should render legibly (text-rendering probe) */
  text?: string[];
}

/** A prompt as refinery uses it: from a built-in suite or a public prompt file. */
export interface PromptInstance {
  /** stable id, unique within the experiment, e.g. "relations/0003" or "parti/0412" */
  id: string;
  text: string;
  /** the suite or file it came from, e.g. "relations", "geneval", "parti" */
  suite: string;
  /** e.g. "spatial", "attribute-binding", "counting", or a source's own category (Parti "Animals") */
  category: string;
  /** a second level where the source has one (PartiPrompts "Challenge") */
  subcategory?: string;
  expectations?: PromptExpectations;
  /**
   * Attributes of the prompt itself for grouping, e.g. { occupation: "nurse", gender: "neutral" } for
   * bias suites. Values are strings so they group cleanly in reports.
   */
  attributes?: Record<string, string>;
}

/** Formats of prompt files that `loadPromptSet` reads (see datasets/adapters/). */
export type PromptFileFormat = 'text' | 'jsonl' | 'geneval' | 't2i-compbench' | 'parti' | 'dalleval';

/** An inline prompt: a bare string or an object with optional id, category and expectations. */
export type InlinePrompt =
  | string
  | {
      text: string;
      id?: string;
      category?: string;
      subcategory?: string;
      expectations?: PromptExpectations;
      attributes?: Record<string, string>;
    };

/** Prompts written in the experiment file. */
export interface InlinePromptSource {
  inline: InlinePrompt[];
  /** the prompts' `suite` and id prefix (default `inline`) */
  name?: string;
}

/** A built-in suite (see `listSuites()`). */
export interface SuitePromptSource {
  suite: string;
  /** keep only instances of these categories */
  categories?: string[];
  /** keep the first N instances of the suite's balanced order (after the category filter) */
  limit?: number;
  /** with a seed, the N instances are a seeded, still balanced, sample instead of the first N */
  seed?: number;
  /** suite-specific word lists (e.g. `colours`, `objects`); each suite documents its keys */
  options?: Record<string, unknown>;
}

/** A prompt file read through an adapter. */
export interface FilePromptSource {
  /** path; relative paths are resolved against the `baseDir` given to `loadPromptSet` */
  file: string;
  /** adapter; detected from the file name when absent */
  format?: PromptFileFormat;
  /** keep only instances of these categories */
  categories?: string[];
  /** keep the first N instances (after the category filter) */
  limit?: number;
  /** the prompts' `suite` and id prefix (default: from the format or the file name) */
  name?: string;
}

export type PromptSource = InlinePromptSource | SuitePromptSource | FilePromptSource;
