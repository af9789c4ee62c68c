/**
 * `parti`: `PartiPrompts.tsv`, tab-separated with a header row naming at least `Prompt`, `Category` and
 * `Challenge` (Parti also has `Note`). Category → `category`, Challenge → `subcategory`, Note →
 * `attributes.note` when not empty. Fields are split on tabs only (no CSV quoting: Parti prompts start
 * with quotation marks). Quoted strings in a prompt ("… a sign that says \"Very Deep Learning\"",
 * '… written on it' in single or curly quotes) become `expectations.text` for the OCR probe.
 * Ids: `<name>/<row index>`.
 */
import type { PromptInstance } from '../types.js';
import { fileError, numberedLines, promptId, type Adapter } from './adapter.js';

const REQUIRED_COLUMNS = ['Prompt', 'Category', 'Challenge'] as const;

/**
 * Strings the prompt asks to be written: text in double quotes (straight or curly), or in single quotes
 * that open after a space or the start and close before a space, punctuation or the end (so apostrophes
 * as in "conductor's" or "Don't" are not quotes).
 */
export function quotedStrings(prompt: string): string[] {
  const found: string[] = [];
  for (const match of prompt.matchAll(/["“]([^"”]+)["”]/g)) found.push(match[1].trim());
  const withoutDouble = prompt.replace(/["“][^"”]+["”]/g, ' ');
  for (const match of withoutDouble.matchAll(/(?:^|\s)['‘](.+?)['’](?=\s|[.,!?;:]|$)/g)) found.push(match[1].trim());
  return found.filter((text) => text.length > 0);
}

export const readPartiPrompts: Adapter = ({ content, path, name }) => {
  const lines = numberedLines(content);
  const header = lines[0]?.text.split('\t').map((h) => h.trim()) ?? [];
  const missing = REQUIRED_COLUMNS.filter((column) => !header.includes(column));
  if (missing.length) {
    throw fileError(path, 1, `header lacks column(s) ${missing.join(', ')}`, 'PartiPrompts.tsv starts with Prompt\tCategory\tChallenge\tNote');
  }
  const column = (fields: string[], key: string) => (fields[header.indexOf(key)] ?? '').trim();
  const instances: PromptInstance[] = [];
  let withExpectations = 0;
  for (const { line, text } of lines.slice(1)) {
    if (!text.trim()) continue;
    const fields = text.split('\t');
    if (fields.length > header.length) throw fileError(path, line, `${fields.length} fields, header has ${header.length}`);
    const prompt = column(fields, 'Prompt');
    const category = column(fields, 'Category');
    if (!prompt) throw fileError(path, line, 'empty Prompt');
    if (!category) throw fileError(path, line, 'empty Category');
    const challenge = column(fields, 'Challenge');
    const note = header.includes('Note') ? column(fields, 'Note') : '';
    const texts = quotedStrings(prompt);
    if (texts.length) withExpectations++;
    instances.push({
      id: promptId(name, instances.length),
      text: prompt,
      suite: name,
      category,
      ...(challenge ? { subcategory: challenge } : {}),
      ...(texts.length ? { expectations: { tag: 'text', text: texts } } : {}),
      ...(note ? { attributes: { note } } : {}),
    });
  }
  return { instances, withExpectations };
};
