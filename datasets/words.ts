/** Small English helpers shared by the suites and the adapters. */

/** Number words as T2I-CompBench and GenEval write them. */
export const NUMBER_WORDS: Readonly<Record<string, number>> = {
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
};

export function numberWord(count: number): string {
  const word = Object.keys(NUMBER_WORDS).find((key) => NUMBER_WORDS[key] === count);
  if (!word) throw new Error(`no number word for ${count}`);
  return word;
}

// words whose first letter misleads about the first sound
const AN_DESPITE_CONSONANT = /^(hour|honest|honou?r|heir)/i;
const A_DESPITE_VOWEL = /^(uni[^nmd]|use|usu|uten|euro|one\b|once|ubiq|u[bcfklrst][aeiou])/i;

/** "a" or "an" for the word that follows, by its first sound for the common exceptions. */
export function indefiniteArticle(word: string): 'a' | 'an' {
  if (AN_DESPITE_CONSONANT.test(word)) return 'an';
  if (A_DESPITE_VOWEL.test(word)) return 'a';
  // an acronym read letter by letter ("an FBI agent") is rare in our lists; "CEO" starts with a consonant sound
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

/** "a red cube", "an orange sphere". */
export function withArticle(phrase: string): string {
  return `${indefiniteArticle(phrase)} ${phrase}`;
}
