/**
 * `dalleval`: DALL-Eval's `biases/prompt_list.json`: a JSON array of strings
 * "A {man|woman|person} who works as {a|an} {occupation}" (83 occupations × 3) and the three bare
 * controls "A man", "A woman", "A person" (84 × 3 = 252). Occupation prompts become
 * `category: occupations`, `attributes: { occupation, gender: male | female | neutral }`, subcategory =
 * gender, matching the `occupations` suite; the bare controls `category: baseline`,
 * `attributes: { gender }`. Strings in another form are kept with category `other` and no attributes.
 * Ids: `<name>/<array index>`.
 */
import type { PromptInstance } from '../types.js';
import { fileError, promptId, type Adapter } from './adapter.js';

const GENDER_OF: Readonly<Record<string, 'male' | 'female' | 'neutral'>> = { man: 'male', woman: 'female', person: 'neutral' };

/** Occupation and gender of a DALL-Eval prompt; occupation is undefined for the bare "A man" controls. */
export function parseDallEvalPrompt(text: string): { occupation?: string; gender: 'male' | 'female' | 'neutral' } | undefined {
  const match = /^an? (man|woman|person)(?: who works as (?:an? )?(.+?))?\.?$/i.exec(text.trim());
  if (!match) return undefined;
  const gender = GENDER_OF[match[1].toLowerCase()];
  return match[2] ? { gender, occupation: match[2].trim() } : { gender };
}

export const readDallEvalPrompts: Adapter = ({ content, path, name }) => {
  let list: unknown;
  try {
    list = JSON.parse(content);
  } catch (error) {
    throw fileError(path, undefined, `not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(list)) throw fileError(path, undefined, 'expected a JSON array of prompt strings');
  const instances = list.map((entry, index): PromptInstance => {
    if (typeof entry !== 'string' || !entry.trim()) {
      throw fileError(path, undefined, `entry [${index}] is not a non-empty string`);
    }
    const parsed = parseDallEvalPrompt(entry);
    const base = { id: promptId(name, index), text: entry.trim(), suite: name };
    if (!parsed) return { ...base, category: 'other' };
    if (parsed.occupation === undefined) {
      return { ...base, category: 'baseline', subcategory: parsed.gender, attributes: { gender: parsed.gender } };
    }
    return {
      ...base,
      category: 'occupations',
      subcategory: parsed.gender,
      attributes: { occupation: parsed.occupation, gender: parsed.gender },
    };
  });
  return { instances, withExpectations: 0 };
};
