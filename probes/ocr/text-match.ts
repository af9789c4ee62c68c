/**
 * Matching an expected string against OCR output.
 *
 * Normalisation (applied to both sides, `normalizeForMatch`): Unicode NFKC, lower case, whitespace
 * collapsed to single spaces, and punctuation (Unicode category P: . , ! ? " ' % - …) stripped from both
 * ends of every word. Letters, digits, symbols such as $ or € and accents are kept. So "Hello, World!"
 * and "HELLO WORLD" match, "SALE 50%" matches "sale 50", "Café" does not match "Cafe".
 *
 * - exact: the normalised expected string occurs in the normalised OCR text as whole words (it starts and
 *   ends at a word boundary: "open" is found in "we are open" but not in "reopened"). The spaces between
 *   the expected words may be missing in the OCR text ("good morning" is found in "goodmorning"):
 *   PP-OCRv4 often drops the space between Latin words even when it is clearly rendered.
 * - edit distance: the smallest Levenshtein distance between the normalised expected string and any
 *   substring (window) of the normalised OCR text, divided by the expected string's length in code
 *   points; 0 = found exactly (as a substring), 1 = nothing in common. The empty window is allowed, so
 *   the value never exceeds 1.
 */

const EDGE_PUNCTUATION = /^\p{P}+|\p{P}+$/gu;

export function normalizeForMatch(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .split(/\s+/u)
    .map((word) => word.replace(EDGE_PUNCTUATION, ''))
    .filter((word) => word.length > 0)
    .join(' ');
}

/**
 * Whether the words of `needle` occur in `haystack` (both normalised) starting and ending at word
 * boundaries, the spaces between them optional.
 */
export function containsWords(haystack: string, needle: string): boolean {
  if (!needle) return false;
  const words = needle.split(' ').map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`(?:^| )${words.join(' ?')}(?: |$)`, 'u').test(haystack);
}

/** Plain Levenshtein distance over code points (unit costs). */
export function levenshtein(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[y.length];
}

export interface WindowMatch {
  /** min over windows W of text: levenshtein(pattern, W) */
  distance: number;
  /** the best window (the shortest among equals, leftmost first) */
  window: string;
}

/**
 * Approximate substring matching (Sellers' algorithm): free start and end in `text`, so the cost is
 * the distance to the best-matching window.
 */
export function bestWindow(pattern: string, text: string): WindowMatch {
  const p = Array.from(pattern);
  const t = Array.from(text);
  const rows = p.length + 1;
  const cols = t.length + 1;
  // cost[i][j] and where its window starts, row-major
  const cost = new Int32Array(rows * cols);
  const start = new Int32Array(rows * cols);
  for (let j = 0; j < cols; j++) start[j] = j;
  for (let i = 1; i < rows; i++) {
    cost[i * cols] = i;
    start[i * cols] = 0;
    for (let j = 1; j < cols; j++) {
      const diagonal = cost[(i - 1) * cols + j - 1] + (p[i - 1] === t[j - 1] ? 0 : 1);
      const up = cost[(i - 1) * cols + j] + 1;
      const left = cost[i * cols + j - 1] + 1;
      const here = i * cols + j;
      if (diagonal <= up && diagonal <= left) {
        cost[here] = diagonal;
        start[here] = start[(i - 1) * cols + j - 1];
      } else if (up <= left) {
        cost[here] = up;
        start[here] = start[(i - 1) * cols + j];
      } else {
        cost[here] = left;
        start[here] = start[i * cols + j - 1];
      }
    }
  }
  let best = 0;
  for (let j = 1; j < cols; j++) {
    const candidate = (rows - 1) * cols + j;
    const current = (rows - 1) * cols + best;
    if (cost[candidate] < cost[current] || (cost[candidate] === cost[current] && j - start[candidate] < best - start[current])) best = j;
  }
  const last = (rows - 1) * cols + best;
  return { distance: cost[last], window: t.slice(start[last], best).join('') };
}

export interface TextMatch {
  expected: string;
  normalizedExpected: string;
  /** null when the expected string is empty after normalisation (nothing to look for) */
  exact: boolean | null;
  /** 0..1, lower is better; null as for `exact` */
  editDistance: number | null;
  /** the best-matching window of the normalised OCR text */
  window: string;
}

/** Matches one expected string against the (raw) OCR text. */
export function matchText(expected: string, ocrText: string): TextMatch {
  const normalizedExpected = normalizeForMatch(expected);
  const normalizedText = normalizeForMatch(ocrText);
  if (!normalizedExpected) return { expected, normalizedExpected, exact: null, editDistance: null, window: '' };
  const { distance, window } = bestWindow(normalizedExpected, normalizedText);
  return {
    expected,
    normalizedExpected,
    exact: containsWords(normalizedText, normalizedExpected),
    editDistance: distance / Array.from(normalizedExpected).length,
    window,
  };
}
