/**
 * Text cleanup before CLIP's pre-tokenizer, in the two flavours Hugging Face ships.
 *
 * - `hf-slow` (default): transformers' Python `CLIPTokenizer` when the optional `ftfy` package is NOT
 *   installed (the usual case; SDXL's model_index.json names this class). It runs BERT's
 *   BasicTokenizer(strip_accents=False, do_split_on_punc=False): drop NUL, U+FFFD and every
 *   character of Unicode category C* except \t \n \r; map \t \n \r and category Zs to a space; put
 *   spaces around CJK ideographs; NFC; split on whitespace; lowercase each piece; join with one space.
 * - `hf-fast`: the Rust `tokenizers` CLIP pipeline (CLIPTokenizerFast, and transformers ≥ 5's
 *   CLIPTokenizer): NFC, every run of Unicode White_Space → one space, per-character lowercase.
 *   It keeps control and format characters (they become byte tokens) and does not split CJK runs.
 *
 * We deliberately do not emulate `ftfy.fix_text` (OpenAI's original CLIP, or transformers with ftfy
 * installed): it also un-curls quotes, splits ligatures, folds full-width forms and unescapes HTML
 * entities. For ASCII prompts all three agree.
 */
export type ClipTextCleanup = 'hf-slow' | 'hf-fast';

/** Unicode White_Space, spelled out: JS `\s` also matches U+FEFF and misses U+0085. */
export const UNICODE_WHITESPACE = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WHITESPACE_RUN = new RegExp(`[${UNICODE_WHITESPACE}]+`, 'gu');
/** Python's `str.split()` separators: Unicode White_Space plus the information separators U+001C–U+001F. */
const PYTHON_SPLIT = new RegExp(`[${UNICODE_WHITESPACE}\\u001c-\\u001f]+`, 'u');
const OTHER_CATEGORY = /\p{C}/u;
const SPACE_SEPARATOR = /\p{Zs}/u;

const PRINTABLE_ASCII = /^[\t\n\r\x20-\x7e]*$/;
const ASCII_WHITESPACE_RUN = /[\t\n\r ]+/;

export function cleanupText(text: string, cleanup: ClipTextCleanup): string {
  if (PRINTABLE_ASCII.test(text)) {
    // Both flavours reduce to "collapse whitespace, lowercase" on printable ASCII (the common case).
    return text.toLowerCase().split(ASCII_WHITESPACE_RUN).filter((piece) => piece.length > 0).join(' ');
  }
  return cleanup === 'hf-slow' ? cleanupLikeSlowTokenizer(text) : cleanupLikeFastTokenizer(text);
}

function cleanupLikeSlowTokenizer(text: string): string {
  let cleaned = '';
  for (const char of text) {
    const codePoint = char.codePointAt(0)!;
    if (char === ' ' || char === '\t' || char === '\n' || char === '\r') {
      cleaned += ' ';
    } else if (codePoint === 0 || codePoint === 0xfffd || OTHER_CATEGORY.test(char)) {
      continue;
    } else if (SPACE_SEPARATOR.test(char)) {
      cleaned += ' ';
    } else if (isCjkIdeograph(codePoint)) {
      cleaned += ` ${char} `;
    } else {
      cleaned += char;
    }
  }
  return cleaned
    .normalize('NFC')
    .split(PYTHON_SPLIT)
    .filter((piece) => piece.length > 0)
    .map((piece) => piece.toLowerCase())
    .join(' ');
}

function cleanupLikeFastTokenizer(text: string): string {
  let lowered = '';
  // Rust's char::to_lowercase works per character: no final-sigma context.
  for (const char of text.normalize('NFC').replace(WHITESPACE_RUN, ' ')) lowered += char.toLowerCase();
  return lowered;
}

/** BERT's definition of a "Chinese character": the CJK Unified Ideographs blocks and extensions. */
function isCjkIdeograph(codePoint: number): boolean {
  return (
    (codePoint >= 0x4e00 && codePoint <= 0x9fff) ||
    (codePoint >= 0x3400 && codePoint <= 0x4dbf) ||
    (codePoint >= 0x20000 && codePoint <= 0x2a6df) ||
    (codePoint >= 0x2a700 && codePoint <= 0x2b73f) ||
    (codePoint >= 0x2b740 && codePoint <= 0x2b81f) ||
    (codePoint >= 0x2b820 && codePoint <= 0x2ceaf) ||
    (codePoint >= 0xf900 && codePoint <= 0xfaff) ||
    (codePoint >= 0x2f800 && codePoint <= 0x2fa1f)
  );
}
