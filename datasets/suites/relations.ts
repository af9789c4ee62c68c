/**
 * `relations`: spatial relations between two objects of distinct named colours, e.g.
 * "a red cube on top of a blue sphere". Expectations follow GenEval's position prompts: clause 0 is the
 * reference object, clause 1 the subject with `position: [relation, 0]`, both with their colour, so the
 * colour-geometry probe can find them by colour and the detector probe by class.
 *
 * Size with the defaults: 6 phrasings × 42 ordered colour pairs = 252 prompts; each (phrasing, colour
 * pair) gets one ordered object pair, rotating through all 56 pairs. Strata: the relation, so the first N
 * prompts cover the four relations evenly.
 */
import { z } from 'zod';
import type { Relation } from '../types.js';
import { withArticle } from '../words.js';
import { defineSuite, wordList, type SuiteGroup } from './suite.js';

/** How each relation is written. "on top of" and "underneath" are judged by GenEval's above / below rule. */
export const RELATION_PHRASES: ReadonlyArray<{ phrase: string; relation: Relation }> = [
  { phrase: 'to the left of', relation: 'left of' },
  { phrase: 'to the right of', relation: 'right of' },
  { phrase: 'on top of', relation: 'above' },
  { phrase: 'above', relation: 'above' },
  { phrase: 'below', relation: 'below' },
  { phrase: 'underneath', relation: 'below' },
];

/**
 * Chromatic colours that the default colour table segments reliably; black, white and brown are left out
 * because backgrounds and shadows take those colours.
 */
export const RELATION_COLOURS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink'];

/** Simple solids and everyday objects that take any colour. */
export const RELATION_OBJECTS = ['cube', 'sphere', 'cone', 'cylinder', 'box', 'ball', 'cup', 'vase'];

/**
 * The items in a spread-out order: index k·stride mod n with a stride coprime to n (about 0.38·n), so
 * neighbours in the result differ and every item appears once. Used so that the first N prompts of a
 * suite vary colours and objects instead of walking through one colour first.
 */
export function spreadOut<T>(items: readonly T[]): T[] {
  const n = items.length;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let stride = Math.max(1, Math.floor(n * 0.38));
  while (n > 1 && gcd(stride, n) !== 1) stride++;
  return items.map((_, k) => items[(k * stride) % n]);
}

export function orderedPairs<T>(items: readonly T[]): Array<[T, T]> {
  return items.flatMap((a) => items.filter((b) => b !== a).map((b): [T, T] => [a, b]));
}

export const relationsSuite = defineSuite({
  id: 'relations',
  version: 'relations@1',
  description: 'spatial relations (left of, right of, above / on top of, below) between two objects of distinct colours',
  categories: ['spatial'],
  optionDocs: {
    colours: `colour names, at least 2 (default: ${RELATION_COLOURS.join(', ')})`,
    objects: `object nouns, at least 2 (default: ${RELATION_OBJECTS.join(', ')})`,
  },
  options: z
    .object({ colours: wordList(2).default(RELATION_COLOURS), objects: wordList(2).default(RELATION_OBJECTS) })
    .strict(),
  build({ colours, objects }) {
    const objectPairs = spreadOut(orderedPairs(objects));
    const colourPairs = spreadOut(orderedPairs(colours));
    const groups: SuiteGroup[] = [];
    let rotation = 0;
    // colour pair outer, phrasing inner: within a relation the phrasings alternate
    for (let k = 0; k < colourPairs.length; k++) {
      for (const [phraseIndex, { phrase, relation }] of RELATION_PHRASES.entries()) {
        const [subjectColour, referenceColour] = colourPairs[(k + phraseIndex * 5) % colourPairs.length];
        const [subject, reference] = objectPairs[rotation++ % objectPairs.length];
        groups.push({
          stratum: relation,
          items: [
            {
              text: `${withArticle(`${subjectColour} ${subject}`)} ${phrase} ${withArticle(`${referenceColour} ${reference}`)}`,
              category: 'spatial',
              subcategory: relation,
              attributes: { relation, phrase },
              expectations: {
                tag: 'position',
                include: [
                  { class: reference, count: 1, color: referenceColour },
                  { class: subject, count: 1, color: subjectColour, position: [relation, 0] },
                ],
              },
            },
          ],
        });
      }
    }
    return groups;
  },
});
