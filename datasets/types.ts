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
