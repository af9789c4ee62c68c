/**
 * `text-rendering`: prompts that ask for a quoted string ("a shop sign that says \"OPEN\""); the string
 * goes in `expectations.text` for the OCR probe. Subcategory: the length class of the string
 * (short ≤ 4 characters, medium ≤ 8, long beyond or several words), the known axis of failure.
 *
 * Size with the defaults: 8 templates × 9 strings = 72 prompts. Strata: the length class.
 */
import { z } from 'zod';
import { defineSuite, wordList, type SuiteGroup } from './suite.js';

/** `{text}` marks where the quoted string goes */
export const TEXT_TEMPLATES = [
  'a shop sign that says "{text}"',
  'a coffee mug with the word "{text}" printed on it',
  'a street sign that reads "{text}"',
  'a birthday cake with "{text}" written in icing',
  'a white t-shirt printed with the text "{text}"',
  'a neon sign that says "{text}"',
  'a book cover with the title "{text}"',
  'a chalkboard menu that says "{text}"',
];

export const TEXT_STRINGS = ['OPEN', 'SALE', 'STOP', 'BAKERY', 'WELCOME', 'REFINERY', 'HELLO WORLD', 'FRESH COFFEE', 'GOOD MORNING'];

export function lengthClass(text: string): 'short' | 'medium' | 'long' {
  if (/\s/.test(text.trim()) || text.length > 8) return 'long';
  return text.length <= 4 ? 'short' : 'medium';
}

export const textRenderingSuite = defineSuite({
  id: 'text-rendering',
  version: 'text-rendering@1',
  description: 'quoted text to render legibly ("a shop sign that says \\"OPEN\\""), short to long strings',
  categories: ['text-rendering'],
  optionDocs: {
    templates: 'templates containing {text} (default: 8 signs, mugs, cakes, shirts, covers)',
    texts: `strings to render (default: ${TEXT_STRINGS.join(', ')})`,
  },
  options: z
    .object({
      templates: wordList(1)
        .refine((list) => list.every((t) => t.includes('{text}')), 'every template must contain {text}')
        .default(TEXT_TEMPLATES),
      texts: wordList(1)
        .refine((list) => list.every((t) => !t.includes('"')), 'strings must not contain double quotes')
        .default(TEXT_STRINGS),
    })
    .strict(),
  build({ templates, texts }) {
    const groups: SuiteGroup[] = [];
    for (const text of texts) {
      for (const template of templates) {
        const length = lengthClass(text);
        groups.push({
          stratum: length,
          items: [
            {
              text: template.replaceAll('{text}', text),
              category: 'text-rendering',
              subcategory: length,
              attributes: { length, string: text },
              expectations: { tag: 'text', text: [text] },
            },
          ],
        });
      }
    }
    return groups;
  },
});
