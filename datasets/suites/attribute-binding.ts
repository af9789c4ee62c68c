/**
 * `attribute-binding`: two objects with distinct colours, and the same sentence with the colours swapped
 * ("a red cube and a blue sphere" / "a blue cube and a red sphere"), as in T2I-CompBench's colour set and
 * GenEval's `color_attr` task. A pair shares `attributes.pair`; `attributes.variant` is `original` or
 * `swapped`. Pairs are never split by the suite order (only by a `limit` that falls inside one).
 *
 * Size with the defaults: 21 unordered colour pairs × 2 object pairs × 2 variants = 84 prompts.
 */
import { z } from 'zod';
import { withArticle } from '../words.js';
import { RELATION_COLOURS, RELATION_OBJECTS, orderedPairs, spreadOut } from './relations.js';
import { defineSuite, wordList, type SuiteGroup } from './suite.js';

export const BINDING_COLOURS = RELATION_COLOURS;
export const BINDING_OBJECTS = RELATION_OBJECTS;
/** object pairs per colour pair */
const OBJECT_PAIRS_PER_COLOUR_PAIR = 2;

export const attributeBindingSuite = defineSuite({
  id: 'attribute-binding',
  version: 'attribute-binding@1',
  description: 'two objects with distinct colours, plus the colour-swapped counterpart of each prompt',
  categories: ['attribute-binding'],
  optionDocs: {
    colours: `colour names, at least 2 (default: ${BINDING_COLOURS.join(', ')})`,
    objects: `object nouns, at least 2 (default: ${BINDING_OBJECTS.join(', ')})`,
  },
  options: z
    .object({ colours: wordList(2).default(BINDING_COLOURS), objects: wordList(2).default(BINDING_OBJECTS) })
    .strict(),
  build({ colours, objects }) {
    const colourPairs = spreadOut(orderedPairs(colours).filter(([a, b]) => colours.indexOf(a) < colours.indexOf(b)));
    const objectPairs = spreadOut(orderedPairs(objects).filter(([a, b]) => objects.indexOf(a) < objects.indexOf(b)));
    const groups: SuiteGroup[] = [];
    let rotation = 0;
    for (const [first, second] of colourPairs) {
      for (let k = 0; k < OBJECT_PAIRS_PER_COLOUR_PAIR; k++) {
        const [objectA, objectB] = objectPairs[rotation++ % objectPairs.length];
        const pair = `${first}-${objectA}/${second}-${objectB}`;
        const item = (colourA: string, colourB: string, variant: string) => ({
          text: `${withArticle(`${colourA} ${objectA}`)} and ${withArticle(`${colourB} ${objectB}`)}`,
          category: 'attribute-binding',
          subcategory: variant,
          attributes: { pair, variant },
          expectations: {
            tag: 'color_attr',
            include: [
              { class: objectA, count: 1, color: colourA },
              { class: objectB, count: 1, color: colourB },
            ],
          },
        });
        groups.push({ stratum: 'pairs', items: [item(first, second, 'original'), item(second, first, 'swapped')] });
      }
    }
    return groups;
  },
});
