/**
 * `counting`: "a photo of {two|three|four} {objects}", GenEval's counting template. Expectations in
 * GenEval form: include `count: N` and exclude `count: N + 1`, i.e. exactly N.
 *
 * Size with the defaults: 16 objects × 3 counts = 48 prompts. Strata: the count.
 */
import { z } from 'zod';
import { numberWord } from '../words.js';
import { defineSuite, type SuiteGroup } from './suite.js';

/** singular and plural, irregular plurals included on purpose */
export const COUNTING_OBJECTS: ReadonlyArray<{ singular: string; plural: string }> = [
  { singular: 'apple', plural: 'apples' },
  { singular: 'cup', plural: 'cups' },
  { singular: 'dog', plural: 'dogs' },
  { singular: 'cat', plural: 'cats' },
  { singular: 'book', plural: 'books' },
  { singular: 'bird', plural: 'birds' },
  { singular: 'chair', plural: 'chairs' },
  { singular: 'car', plural: 'cars' },
  { singular: 'banana', plural: 'bananas' },
  { singular: 'ball', plural: 'balls' },
  { singular: 'candle', plural: 'candles' },
  { singular: 'horse', plural: 'horses' },
  { singular: 'bottle', plural: 'bottles' },
  { singular: 'mouse', plural: 'mice' },
  { singular: 'sheep', plural: 'sheep' },
  { singular: 'knife', plural: 'knives' },
];

export const COUNTS = [2, 3, 4];

export const countingSuite = defineSuite({
  id: 'counting',
  version: 'counting@1',
  description: 'exact counts of one object, two to four ("a photo of three apples")',
  categories: ['counting'],
  optionDocs: {
    objects: 'list of { singular, plural } (default: 16 objects incl. irregular plurals)',
    counts: `counts, 1 to 10 (default: ${COUNTS.join(', ')})`,
  },
  options: z
    .object({
      objects: z
        .array(z.object({ singular: z.string().trim().min(1), plural: z.string().trim().min(1) }).strict())
        .min(1)
        .default(COUNTING_OBJECTS.map((o) => ({ ...o }))),
      counts: z.array(z.number().int().min(1).max(10)).min(1).default(COUNTS),
    })
    .strict(),
  build({ objects, counts }) {
    const groups: SuiteGroup[] = [];
    for (const [countIndex, count] of counts.entries()) {
      // each count starts at a different object, so the first N prompts vary the object too
      for (let k = 0; k < objects.length; k++) {
        const { singular, plural } = objects[(k + countIndex * 5) % objects.length];
        groups.push({
          stratum: String(count),
          items: [
            {
              text: `a photo of ${count === 1 ? `one ${singular}` : `${numberWord(count)} ${plural}`}`,
              category: 'counting',
              subcategory: String(count),
              attributes: { count: String(count), object: singular },
              expectations: {
                tag: 'counting',
                include: [{ class: singular, count }],
                exclude: [{ class: singular, count: count + 1 }],
              },
            },
          ],
        });
      }
    }
    return groups;
  },
});
