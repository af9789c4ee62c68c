/**
 * Counterfactual captions from a prompt's structured expectations (GenEval form), for the contrastive
 * probe. The true caption and every counterfactual are written from the same template, so they differ
 * only in the part being tested:
 *  - `relation`: each relation reversed (left of ↔ right of, above ↔ below);
 *  - `colour-swap`: the colours of the first two objects with different colours exchanged;
 *  - `count-minus` / `count-plus`: an object's count changed by one (only for counting prompts: tag
 *    `counting`, or a count of two or more).
 * Template: `<prefix><segment> and <segment> …` where a segment is `<object> <relation phrase> <object>` for
 * a clause with a position, or `<object>` for a clause no relation mentions; an object is
 * `<article or number> [colour] <noun, plural when the count is above one>`.
 */
import type { ObjectClause, PromptExpectations, Relation } from '../../datasets/types.js';
import { indefiniteArticle, numberWord } from '../../datasets/words.js';
import { COUNTING_OBJECTS } from '../../datasets/suites/counting.js';

export type CounterfactualKind = 'relation' | 'colour-swap' | 'count-minus' | 'count-plus';

export interface Counterfactual {
  kind: CounterfactualKind;
  caption: string;
  /** what was changed, e.g. "left of → right of", "red ↔ blue", "three → two apples" */
  change: string;
}

export interface ContrastiveCaptions {
  trueCaption: string;
  counterfactuals: Counterfactual[];
}

export interface CaptionOptions {
  /** text before the objects (default "a photo of ") */
  prefix?: string;
  /** singular → plural overrides, on top of the built-in irregular forms */
  plurals?: Readonly<Record<string, string>>;
}

export const DEFAULT_CAPTION_PREFIX = 'a photo of ';

/** How each GenEval relation is written in captions. */
export const RELATION_WORDS: Readonly<Record<Relation, string>> = {
  'left of': 'to the left of',
  'right of': 'to the right of',
  above: 'above',
  below: 'below',
};

export const REVERSED_RELATION: Readonly<Record<Relation, Relation>> = {
  'left of': 'right of',
  'right of': 'left of',
  above: 'below',
  below: 'above',
};

const IRREGULAR_PLURALS: Readonly<Record<string, string>> = {
  person: 'people',
  man: 'men',
  woman: 'women',
  child: 'children',
  mouse: 'mice',
  foot: 'feet',
  tooth: 'teeth',
  goose: 'geese',
  ox: 'oxen',
  sheep: 'sheep',
  deer: 'deer',
  fish: 'fish',
  skis: 'skis',
  scissors: 'scissors',
  glasses: 'glasses',
  knife: 'knives',
  leaf: 'leaves',
  loaf: 'loaves',
  wolf: 'wolves',
  shelf: 'shelves',
  scarf: 'scarves',
  calf: 'calves',
  half: 'halves',
  wife: 'wives',
  life: 'lives',
  cactus: 'cacti',
  tomato: 'tomatoes',
  potato: 'potatoes',
  mango: 'mangoes',
  ...Object.fromEntries(COUNTING_OBJECTS.map(({ singular, plural }) => [singular, plural])),
};

/** English plural of a noun phrase (its last word changes): irregular forms, then the usual -s/-es/-ies rules. */
export function pluralize(noun: string, overrides: Readonly<Record<string, string>> = {}): string {
  const exact = overrides[noun] ?? IRREGULAR_PLURALS[noun];
  if (exact) return exact;
  const space = noun.lastIndexOf(' ');
  if (space >= 0) return `${noun.slice(0, space + 1)}${pluralize(noun.slice(space + 1), overrides)}`;
  const lower = noun.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${noun}es`;
  if (/[^aeiou]y$/.test(lower)) return `${noun.slice(0, -1)}ies`;
  return `${noun}s`;
}

interface ObjectSpec {
  noun: string;
  count: number;
  colour?: string;
}

function describeObject(object: ObjectSpec, numbered: boolean, plurals: Readonly<Record<string, string>>): string {
  const noun = object.count === 1 ? object.noun : pluralize(object.noun, plurals);
  const body = object.colour ? `${object.colour} ${noun}` : noun;
  if (object.count === 1 && !numbered) return `${indefiniteArticle(body)} ${body}`;
  const quantity = object.count >= 1 && object.count <= 10 ? numberWord(object.count) : String(object.count);
  return `${quantity} ${body}`;
}

function render(objects: ObjectSpec[], clauses: ObjectClause[], relations: Array<Relation | undefined>, numbered: boolean, options: CaptionOptions): string {
  const plurals = options.plurals ?? {};
  const mentioned = new Set<number>();
  clauses.forEach((clause, index) => {
    if (clause.position) {
      mentioned.add(index);
      mentioned.add(clause.position[1]);
    }
  });
  const segments: string[] = [];
  clauses.forEach((clause, index) => {
    const relation = relations[index];
    if (clause.position && relation) {
      const reference = clause.position[1];
      segments.push(`${describeObject(objects[index], numbered, plurals)} ${RELATION_WORDS[relation]} ${describeObject(objects[reference], numbered, plurals)}`);
    } else if (!mentioned.has(index)) {
      segments.push(describeObject(objects[index], numbered, plurals));
    }
  });
  return `${options.prefix ?? DEFAULT_CAPTION_PREFIX}${segments.join(' and ')}`;
}

/** True when an expectation set asks for counts (so counts are written as numbers and varied). */
function isCountingTask(expectations: PromptExpectations, clauses: ObjectClause[]): boolean {
  return expectations.tag === 'counting' || clauses.some((clause) => (clause.count ?? 1) >= 2);
}

/**
 * The true caption and its counterfactuals, or null when the expectations give nothing to contrast
 * (no include clauses, or none of relation / two different colours / a count).
 */
export function buildContrastiveCaptions(expectations: PromptExpectations | undefined, options: CaptionOptions = {}): ContrastiveCaptions | null {
  const clauses = expectations?.include ?? [];
  if (!expectations || clauses.length === 0) return null;
  const valid = clauses.every((clause) => !clause.position || (clause.position[1] >= 0 && clause.position[1] < clauses.length && clause.position[1] !== clauses.indexOf(clause)));
  if (!valid) return null;
  const objects: ObjectSpec[] = clauses.map((clause) => ({ noun: clause.class, count: clause.count ?? 1, ...(clause.color ? { colour: clause.color } : {}) }));
  const relations = clauses.map((clause) => clause.position?.[0]);
  const counting = isCountingTask(expectations, clauses);
  const plurals = options.plurals ?? {};
  const trueCaption = render(objects, clauses, relations, counting, options);
  const counterfactuals: Counterfactual[] = [];

  relations.forEach((relation, index) => {
    if (!relation) return;
    const flipped = [...relations];
    flipped[index] = REVERSED_RELATION[relation];
    counterfactuals.push({ kind: 'relation', caption: render(objects, clauses, flipped, counting, options), change: `${relation} → ${REVERSED_RELATION[relation]}` });
  });

  const coloured = objects.map((object, index) => ({ object, index })).filter(({ object }) => object.colour !== undefined);
  const partner = coloured.find(({ object }) => object.colour !== coloured[0]?.object.colour);
  if (coloured.length >= 2 && partner) {
    const first = coloured[0];
    const swapped = objects.map((object) => ({ ...object }));
    swapped[first.index].colour = partner.object.colour;
    swapped[partner.index].colour = first.object.colour;
    counterfactuals.push({ kind: 'colour-swap', caption: render(swapped, clauses, relations, counting, options), change: `${first.object.colour} ↔ ${partner.object.colour}` });
  }

  if (counting) {
    objects.forEach((object, index) => {
      if (clauses[index].count === undefined) return;
      for (const [kind, delta] of [['count-minus', -1], ['count-plus', 1]] as const) {
        const count = object.count + delta;
        if (count < 1) continue;
        const changed = objects.map((o, i) => (i === index ? { ...o, count } : o));
        const change = `${describeObject(object, true, plurals)} → ${describeObject(changed[index], true, plurals)}`;
        counterfactuals.push({ kind, caption: render(changed, clauses, relations, counting, options), change });
      }
    });
  }

  const distinct = counterfactuals.filter((c, i) => c.caption !== trueCaption && counterfactuals.findIndex((d) => d.caption === c.caption) === i);
  return distinct.length > 0 ? { trueCaption, counterfactuals: distinct } : null;
}
