/**
 * `t2i-compbench`: T2I-CompBench's `<category>_val.txt` (or `_train.txt`): one prompt per line, the
 * category from the file name (color, shape, texture, spatial, 3d_spatial, non_spatial, numeracy,
 * complex). Ids: `<name>/<category>/<line index>`.
 *
 * Where the file's phrasing allows, expectations are parsed into GenEval form:
 * - spatial: "a {A} on the left of / on the right of / on the top of / on the bottom of a {B}" → B is
 *   clause 0, A clause 1 with position [left of | right of | above | below, 0]. "next to", "near" and
 *   "on side of" have no GenEval relation: no expectations, but `attributes.relation` keeps the phrase.
 * - color: "a {colour} {object} and a {colour} {object}" with both colours from GenEval's ten colour
 *   names (plus gray/grey) → two clauses with colours (tag color_attr).
 * - numeracy: every "{number word} {noun}" and every "a/an {noun}" that starts a list item ("a bowl" in
 *   "three cups, and a bowl were …"), nouns singularised → include count N and exclude count N + 1 per
 *   object (tag counting). A line with a noun that does not look plural after a number above one, or
 *   with the same object twice, is left without expectations.
 * Everything else gets no expectations; `withExpectations` counts the parsed lines.
 */
import type { ObjectClause, PromptExpectations, PromptInstance, Relation } from '../types.js';
import { NUMBER_WORDS } from '../words.js';
import { numberedLines, promptId, type Adapter } from './adapter.js';

/** T2I-CompBench's 2D relation phrases, longest first; `null` = no GenEval relation */
export const T2I_SPATIAL_PHRASES: ReadonlyArray<{ phrase: string; relation: Relation | null }> = [
  { phrase: 'on the left of', relation: 'left of' },
  { phrase: 'on the right of', relation: 'right of' },
  { phrase: 'on the top of', relation: 'above' },
  { phrase: 'on the bottom of', relation: 'below' },
  { phrase: 'on top of', relation: 'above' },
  { phrase: 'on side of', relation: null },
  { phrase: 'next to', relation: null },
  { phrase: 'near', relation: null },
];

export const COLOUR_WORDS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown', 'black', 'white', 'gray', 'grey'];

const ARTICLE = '(?:a|an|the)';
const NOUN = "([a-z][a-z'-]*(?: [a-z][a-z'-]*){0,2})";

export function categoryFromFileName(fileName: string): string {
  const match = /^(.+?)_(?:val|train|test)\.txt$/i.exec(fileName);
  return (match ? match[1] : fileName.replace(/\.[^.]*$/, '')).toLowerCase();
}

export interface SpatialParse {
  phrase: string;
  expectations?: PromptExpectations;
}

export function parseSpatialPrompt(text: string): SpatialParse | undefined {
  const normalised = text.trim().toLowerCase().replace(/[.]$/, '');
  for (const { phrase, relation } of T2I_SPATIAL_PHRASES) {
    const match = new RegExp(`^${ARTICLE} ${NOUN} ${phrase} ${ARTICLE} ${NOUN}$`).exec(normalised);
    if (!match) continue;
    const [, subject, reference] = match;
    if (!relation) return { phrase };
    return {
      phrase,
      expectations: {
        tag: 'position',
        include: [
          { class: reference, count: 1 },
          { class: subject, count: 1, position: [relation, 0] },
        ],
      },
    };
  }
  return undefined;
}

export function parseColourPrompt(text: string): PromptExpectations | undefined {
  const colour = `(${COLOUR_WORDS.join('|')})`;
  const match = new RegExp(`^${ARTICLE} ${colour} ${NOUN} and ${ARTICLE} ${colour} ${NOUN}$`).exec(
    text.trim().toLowerCase().replace(/[.]$/, ''),
  );
  if (!match) return undefined;
  const [, colourA, objectA, colourB, objectB] = match;
  if (/\band\b/.test(objectA) || /\band\b/.test(objectB)) return undefined;
  return {
    tag: 'color_attr',
    include: [
      { class: objectA, count: 1, color: colourA },
      { class: objectB, count: 1, color: colourB },
    ],
  };
}

const IRREGULAR_PLURALS: Readonly<Record<string, string>> = {
  men: 'man',
  women: 'woman',
  people: 'person',
  children: 'child',
  mice: 'mouse',
  geese: 'goose',
  feet: 'foot',
  teeth: 'tooth',
  knives: 'knife',
  wolves: 'wolf',
  leaves: 'leaf',
  loaves: 'loaf',
  shelves: 'shelf',
};
const UNCHANGING_PLURALS = new Set(['fish', 'goldfish', 'sheep', 'deer', 'shrimp', 'moose', 'bison', 'salmon', 'trout', 'aircraft']);

/** The singular of an English plural noun, or undefined when the word does not look plural. */
export function singularise(word: string): string | undefined {
  if (IRREGULAR_PLURALS[word]) return IRREGULAR_PLURALS[word];
  if (UNCHANGING_PLURALS.has(word)) return word;
  if (/[^aeiou]ies$/.test(word)) return word.slice(0, -3) + 'y';
  if (/(?:ches|shes|xes|sses|zzes|oes)$/.test(word)) return word.slice(0, -2);
  if (/[^su]s$/.test(word)) return word.slice(0, -1);
  return undefined;
}

export function parseNumeracyPrompt(text: string): PromptExpectations | undefined {
  const tokens = text.toLowerCase().match(/[a-z]+|,/g) ?? [];
  const found: Array<{ object: string; count: number }> = [];
  let itemStart = true;
  for (let i = 0; i < tokens.length - 1; i++) {
    const token = tokens[i];
    const next = tokens[i + 1];
    if (token === ',' || token === 'and') {
      itemStart = true;
      continue;
    }
    const count = NUMBER_WORDS[token] ?? (itemStart && (token === 'a' || token === 'an') ? 1 : undefined);
    itemStart = false;
    if (count === undefined || next === ',') continue;
    const object = count === 1 ? next : singularise(next);
    if (!object) return undefined;
    found.push({ object, count });
    i++;
  }
  if (!found.length) return undefined;
  if (new Set(found.map((f) => f.object)).size !== found.length) return undefined;
  const include: ObjectClause[] = found.map(({ object, count }) => ({ class: object, count }));
  const exclude: ObjectClause[] = found.map(({ object, count }) => ({ class: object, count: count + 1 }));
  return { tag: 'counting', include, exclude };
}

export const readT2ICompBenchPrompts: Adapter = ({ content, fileName, name }) => {
  const category = categoryFromFileName(fileName);
  const instances: PromptInstance[] = [];
  let withExpectations = 0;
  for (const { text: raw } of numberedLines(content)) {
    const text = raw.trim();
    if (!text) continue;
    const instance: PromptInstance = { id: promptId(`${name}/${category}`, instances.length), text, suite: name, category };
    let expectations: PromptExpectations | undefined;
    if (category === 'spatial') {
      const parsed = parseSpatialPrompt(text);
      if (parsed) instance.attributes = { relation: parsed.phrase };
      expectations = parsed?.expectations;
    } else if (category === 'color') expectations = parseColourPrompt(text);
    else if (category === 'numeracy') expectations = parseNumeracyPrompt(text);
    if (expectations) {
      instance.expectations = expectations;
      withExpectations++;
    }
    instances.push(instance);
  }
  return { instances, withExpectations };
};
