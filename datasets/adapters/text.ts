/**
 * `text`: one prompt per line. Blank lines and lines starting with `#` are skipped; surrounding
 * whitespace is trimmed. Ids are `<name>/<prompt index>`; the category is the name.
 */
import { numberedLines, promptId, type Adapter } from './adapter.js';

export const readTextPrompts: Adapter = ({ content, name }) => {
  const prompts = numberedLines(content)
    .map(({ text }) => text.trim())
    .filter((text) => text && !text.startsWith('#'));
  return {
    instances: prompts.map((text, index) => ({ id: promptId(name, index), text, suite: name, category: name })),
    withExpectations: 0,
  };
};
