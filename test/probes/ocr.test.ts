import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng, type RgbImage } from '../../pipelines/image/png.js';
import { characterClasses, ctcGreedyDecode, recognizerInput } from '../../probes/ocr/ctc-recognizer.js';
import { boxesFromProbabilityMap, detectorInputSize, minAreaRect, readingOrder, rectCorners } from '../../probes/ocr/db-detector.js';
import { resizeBilinear, rotateCounterClockwise, squareToQuad, type Quad } from '../../probes/ocr/image-ops.js';
import { createOcrScorer, OCR_METRICS } from '../../probes/ocr/ocr-scorer.js';
import { PaddleOcr, type OcrResult } from '../../probes/ocr/paddle-ocr.js';
import { bestWindow, containsWords, levenshtein, matchText, normalizeForMatch } from '../../probes/ocr/text-match.js';
import type { ScorableSample, ScoringContext } from '../../probes/types.js';

describe('text matching', () => {
  it('normalises case, whitespace and punctuation at the ends of words', () => {
    expect(normalizeForMatch('  Hello,\n  WORLD! ')).toBe('hello world');
    expect(normalizeForMatch('"SALE 50%"')).toBe('sale 50');
    expect(normalizeForMatch("Rock'n'Roll")).toBe("rock'n'roll");
    expect(normalizeForMatch('Café $5')).toBe('café $5');
    expect(normalizeForMatch('ＯＰＥＮ')).toBe('open'); // NFKC folds full-width letters
    expect(normalizeForMatch(' ... ')).toBe('');
  });

  it('Levenshtein distance: textbook values', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('flaw', 'lawn')).toBe(2);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('café', 'cafe')).toBe(1);
  });

  it('best window: the distance to the closest substring, never above the pattern length', () => {
    expect(bestWindow('open', 'we are 0pen now')).toEqual({ distance: 1, window: '0pen' });
    expect(bestWindow('open', 'reopened')).toEqual({ distance: 0, window: 'open' });
    expect(bestWindow('hello world', 'helloworld')).toEqual({ distance: 1, window: 'helloworld' });
    expect(bestWindow('stop', '').distance).toBe(4);
    expect(bestWindow('stop', 'xyz').distance).toBe(4);
  });

  it('exact means whole words; the edit distance is normalised by the expected length', () => {
    expect(containsWords('we are open now', 'open')).toBe(true);
    expect(containsWords('reopened', 'open')).toBe(false);
    expect(containsWords('open', 'open')).toBe(true);
    // PP-OCRv4 drops spaces between Latin words: the expected words may run together, the ends may not
    expect(containsWords('goodmorning', 'good morning')).toBe(true);
    expect(containsWords('goodmornings', 'good morning')).toBe(false);
    expect(containsWords('price: 5 a+b (x) ok', 'a+b (x)')).toBe(true);
    expect(matchText('GOOD MORNING', 'GOODMORNING')).toMatchObject({ exact: true, editDistance: 1 / 12 });
    expect(matchText('OPEN', 'REOPENED')).toMatchObject({ exact: false, editDistance: 0 });
    expect(matchText('Hello World', 'HELLO, WORLD!')).toMatchObject({ exact: true, editDistance: 0 });
    expect(matchText('BAKERY', 'BAKFRY')).toMatchObject({ exact: false, editDistance: 1 / 6 });
    expect(matchText('STOP', '')).toMatchObject({ exact: false, editDistance: 1 });
    expect(matchText('!!!', 'anything')).toMatchObject({ exact: null, editDistance: null });
  });
});

describe('detector geometry', () => {
  it('input size: longer side limited, both sides rounded to multiples of 32 (PaddleOCR DetResizeForTest)', () => {
    expect(detectorInputSize(1024, 1024, 960)).toEqual({ width: 960, height: 960 });
    expect(detectorInputSize(480, 200, 960)).toEqual({ width: 480, height: 192 });
    expect(detectorInputSize(100, 20, 960)).toEqual({ width: 96, height: 32 });
    // 2000×500 → ratio 0.48 → 960 × 240, and 240/32 = 7.5 rounds to 8
    expect(detectorInputSize(2000, 500, 960)).toEqual({ width: 960, height: 256 });
  });

  it('minimum-area rectangle of a rotated rectangle recovers its sides; corners come tl, tr, br, bl', () => {
    const angle = (20 * Math.PI) / 180;
    const [ux, uy] = [Math.cos(angle), Math.sin(angle)];
    const points: Array<[number, number]> = [];
    for (let i = 0; i <= 40; i++) for (let j = 0; j <= 10; j++) points.push([50 + i * ux - j * uy, 30 + i * uy + j * ux]);
    const rect = minAreaRect(points);
    expect([...rect.size].sort((a, b) => a - b).map((v) => +v.toFixed(6))).toEqual([10, 40]);
    const [tl, tr, br, bl] = rectCorners(rect);
    // of the two leftmost corners, (50, 30) is higher: top-left; (50 − 10·sin, 30 + 10·cos) is bottom-left
    expect(tl[0]).toBeCloseTo(50, 6);
    expect(tl[1]).toBeCloseTo(30, 6);
    expect(bl[0]).toBeCloseTo(50 - 10 * uy, 6);
    expect(bl[1]).toBeCloseTo(30 + 10 * ux, 6);
    expect(tr[0]).toBeCloseTo(50 + 40 * ux, 6);
    expect(tr[0]).toBeGreaterThan(tl[0]);
    expect(br[1]).toBeGreaterThan(tr[1]);
    expect(bl[1]).toBeGreaterThan(tl[1]);
  });

  it('probability map → boxes: threshold, box score, unclip and scaling by hand', () => {
    const [w, h] = [100, 60];
    const map = new Float32Array(w * h);
    const fill = (x0: number, x1: number, y0: number, y1: number, p: number) => {
      for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) map[y * w + x] = p;
    };
    fill(10, 49, 20, 29, 0.9); // a text region
    fill(60, 90, 40, 50, 0.45); // above the 0.3 threshold but its mean score is under 0.6
    fill(60, 90, 5, 6, 0.95); // two map pixels tall: narrower than the minimum size 3
    const boxes = boxesFromProbabilityMap(map, w, h, 200, 120);
    expect(boxes).toHaveLength(1);
    // pixel centres 10..49 × 20..29 → a 39 × 9 rectangle centred at (29.5, 24.5); unclip distance
    // 351 · 1.5 / 96 = 5.484375 → 49.97 × 19.97; ×2 to the 200 × 120 source and rounded
    expect(boxes[0].quad).toEqual([
      [9, 29],
      [109, 29],
      [109, 69],
      [9, 69],
    ]);
    expect(boxes[0].score).toBeCloseTo(0.9, 6);
  });

  it('reading order: lines top to bottom, left to right within a line', () => {
    const box = (x: number, y: number, name: string) => ({ name, quad: [[x, y], [x + 40, y], [x + 40, y + 20], [x, y + 20]] as Quad });
    const ordered = readingOrder([box(100, 52, 'd'), box(10, 50, 'c'), box(120, 12, 'b'), box(5, 8, 'a')]);
    expect(ordered.map((b) => b.name)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('square-to-quad maps the unit square corners onto the quad (perspective and affine)', () => {
    for (const quad of [
      [[10, 20], [110, 30], [100, 80], [5, 60]],
      [[0, 0], [50, 10], [40, 40], [-10, 30]],
    ] as Quad[]) {
      const map = squareToQuad(quad);
      [[0, 0], [1, 0], [1, 1], [0, 1]].forEach(([u, v], i) => {
        const [x, y] = map(u, v);
        expect(x).toBeCloseTo(quad[i][0], 9);
        expect(y).toBeCloseTo(quad[i][1], 9);
      });
    }
  });

  it('resize keeps a constant image constant and averages when shrinking; rot90 is counter-clockwise', () => {
    const flat = { width: 7, height: 5, data: new Uint8Array(7 * 5 * 3).fill(77) };
    expect([...new Set(resizeBilinear(flat, 3, 9).data)]).toEqual([77]);
    // stripes 0/255 one pixel wide, shrunk 2× → grey
    const stripes = { width: 8, height: 2, data: new Uint8Array(8 * 2 * 3).map((_, i) => (Math.floor(i / 3) % 2 ? 255 : 0)) };
    for (const v of resizeBilinear(stripes, 4, 1).data) expect(Math.abs(v - 127.5)).toBeLessThan(40);
    // 2×1 [A B] → 1×2 [B; A]
    const rotated = rotateCounterClockwise({ width: 2, height: 1, data: Uint8Array.from([1, 1, 1, 2, 2, 2]) });
    expect(rotated).toEqual({ width: 1, height: 2, data: Uint8Array.from([2, 2, 2, 1, 1, 1]) });
  });
});

describe('recogniser pre/post-processing', () => {
  it('classes: blank first, then the keys, then space', () => {
    expect(characterClasses('a\nb\n')).toEqual(['', 'a', 'b', ' ']);
    expect(characterClasses('a\r\nb')).toEqual(['', 'a', 'b', ' ']);
  });

  it('greedy CTC merges repeats, drops blanks, keeps repeats split by a blank', () => {
    const classes = ['', 'a', 'b', ' '];
    const steps = [1, 1, 0, 1, 2, 2, 3, 0];
    const probabilities = new Float32Array(steps.length * classes.length).fill(0.1);
    const winners = [0.9, 0.7, 0.8, 0.6, 0.5, 0.9, 0.8, 0.9];
    steps.forEach((c, t) => (probabilities[t * classes.length + c] = winners[t]));
    const decoded = ctcGreedyDecode(probabilities, steps.length, classes);
    expect(decoded.text).toBe('aab ');
    // kept steps: 0 (a, 0.9), 3 (a, 0.6), 4 (b, 0.5), 6 (space, 0.8)
    expect(decoded.confidence).toBeCloseTo((0.9 + 0.6 + 0.5 + 0.8) / 4, 6);
    expect(ctcGreedyDecode(new Float32Array(8).fill(0.25).map((v, i) => (i % 4 === 0 ? 0.9 : v)), 2, classes)).toEqual({ text: '', confidence: 0 });
  });

  it('input: height 48, aspect kept, [-1, 1] in BGR order, padded to at least 320 with zeros', () => {
    const red = { width: 20, height: 10, data: new Uint8Array(20 * 10 * 3).map((_, i) => (i % 3 === 0 ? 255 : 0)) };
    const { data, dims } = recognizerInput(red);
    expect(dims).toEqual([1, 3, 48, 320]);
    const plane = 48 * 320;
    expect(data[0]).toBe(-1); // blue
    expect(data[2 * plane]).toBe(1); // red, last channel
    expect(data[2 * plane + 95]).toBe(1); // width 96 = 48 · 2
    expect(data[2 * plane + 96]).toBe(0); // padding
  });
});

// ----------------------------------------------------------------------------------------------
// Acceptance: rendered text read back by the real PP-OCRv4 models

const FONT_DIR = '/usr/share/fonts/truetype/dejavu';
const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSerif.ttf', 'DejaVuSansMono.ttf', 'DejaVuSans-Bold.ttf'].map((f) => `${FONT_DIR}/${f}`);
const fontsPresent = FONT_FILES.every((f) => existsSync(f));

interface TextCase {
  text: string;
  font: 'DejaVu Sans' | 'DejaVu Serif' | 'DejaVu Sans Mono';
  size: number;
  background: string;
  colour: string;
  bold?: boolean;
  /** degrees, clockwise */
  rotate?: number;
  /** second line under the first */
  second?: string;
}

const SANS = 'DejaVu Sans';
const SERIF = 'DejaVu Serif';
const MONO = 'DejaVu Sans Mono';
const CASES: TextCase[] = [
  { text: 'OPEN', font: SANS, size: 72, background: '#ffffff', colour: '#000000' },
  { text: 'OPEN', font: SERIF, size: 40, background: '#c0392b', colour: '#ffffff' },
  { text: 'Hello World', font: SERIF, size: 44, background: '#fdf1d6', colour: '#1d2a6b' },
  { text: 'Hello World', font: MONO, size: 30, background: '#ffffff', colour: '#333333' },
  { text: 'SALE 50%', font: SANS, size: 56, background: '#ffd400', colour: '#c00000', bold: true },
  { text: 'SALE 50%', font: MONO, size: 36, background: '#1b1b1b', colour: '#f0f0f0' },
  { text: 'Café', font: SANS, size: 64, background: '#1e3d59', colour: '#f5f0e1' },
  { text: 'Café', font: SERIF, size: 40, background: '#ffffff', colour: '#5a3e1b' },
  { text: 'STOP', font: SANS, size: 80, background: '#d21f1f', colour: '#ffffff', bold: true },
  { text: 'BAKERY', font: SERIF, size: 52, background: '#f3e0c4', colour: '#6b3e14' },
  { text: 'WELCOME', font: SANS, size: 48, background: '#2e7d32', colour: '#ffffff' },
  { text: 'REFINERY', font: MONO, size: 44, background: '#e8eaf6', colour: '#1a237e' },
  { text: 'FRESH COFFEE', font: SANS, size: 34, background: '#3e2723', colour: '#ffe0b2' },
  { text: 'GOOD MORNING', font: SERIF, size: 32, background: '#ffffff', colour: '#000000' },
  { text: 'Pizza & Pasta', font: SANS, size: 38, background: '#fff3e0', colour: '#bf360c' },
  { text: 'No Parking', font: SANS, size: 42, background: '#0d47a1', colour: '#ffffff', bold: true },
  { text: 'Ice Cream', font: SERIF, size: 46, background: '#fce4ec', colour: '#ad1457' },
  { text: 'Library', font: SERIF, size: 58, background: '#ffffff', colour: '#263238' },
  { text: 'EXIT', font: SANS, size: 64, background: '#1b5e20', colour: '#ffffff', bold: true },
  { text: 'Menu', font: MONO, size: 56, background: '#212121', colour: '#fafafa' },
  { text: 'Sunday 10am', font: SANS, size: 36, background: '#ede7f6', colour: '#311b92' },
  { text: 'BOOKS', font: SERIF, size: 28, background: '#ffffff', colour: '#4e342e' },
  { text: 'Open 24 hours', font: MONO, size: 30, background: '#fffde7', colour: '#000000' },
  { text: 'Garden', font: SANS, size: 24, background: '#e0f2f1', colour: '#004d40' },
  { text: 'HAPPY BIRTHDAY', font: SERIF, size: 30, background: '#f8bbd0', colour: '#4a148c', bold: true },
  { text: 'Station', font: SANS, size: 52, background: '#607d8b', colour: '#ffffff' },
  { text: 'Fresh Bread', font: SERIF, size: 40, background: '#fff8e1', colour: '#5d4037', rotate: -6 },
  { text: 'PHARMACY', font: SANS, size: 44, background: '#ffffff', colour: '#00897b', rotate: 5 },
  { text: 'Gift Shop', font: MONO, size: 38, background: '#ffecb3', colour: '#3e2723', second: 'OPEN DAILY' },
  { text: 'ZOO', font: SANS, size: 90, background: '#8bc34a', colour: '#1b1b1b', bold: true },
];

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function renderText(c: TextCase): RgbImage {
  const [width, height] = [420, 180];
  const weight = c.bold ? ' font-weight="bold"' : '';
  const transform = c.rotate ? ` transform="rotate(${c.rotate} ${width / 2} ${height / 2})"` : '';
  const line = (text: string, y: number) =>
    `<text x="${width / 2}" y="${y}" font-family="${c.font}" font-size="${c.size}"${weight} fill="${c.colour}" text-anchor="middle" dominant-baseline="central">${escapeXml(text)}</text>`;
  const lines = c.second ? line(c.text, height / 2 - c.size * 0.6) + line(c.second, height / 2 + c.size * 0.6) : line(c.text, height / 2);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="${width}" height="${height}" fill="${c.background}"/><g${transform}>${lines}</g></svg>`;
  const png = new Resvg(svg, { font: { loadSystemFonts: false, fontFiles: FONT_FILES, defaultFontFamily: SANS } }).render().asPng();
  return decodePng(png, c.text).image;
}

describe.skipIf(!fontsPresent)('PP-OCRv4 reads rendered text (acceptance)', () => {
  let ocr: PaddleOcr;
  const results: Array<{ c: TextCase; result: OcrResult; distance: number }> = [];

  beforeAll(async () => {
    ocr = await PaddleOcr.load();
    for (const c of CASES) {
      const result = await ocr.read(renderText(c));
      const expected = c.second ? `${c.text} ${c.second}` : c.text;
      results.push({ c, result, distance: matchText(expected, result.text).editDistance! });
    }
  });
  afterAll(async () => {
    await ocr?.dispose();
  });

  it('the recogniser has one class per key plus blank and space (6625)', () => {
    expect(ocr.classCount).toBe(6625);
  });

  it('normalised edit distance ≤ 0.1 on at least 90% of 30 cases (fonts, sizes, colours, rotation)', () => {
    expect(results).toHaveLength(30);
    const good = results.filter((r) => r.distance <= 0.1);
    const report = results.map((r) => `${JSON.stringify(r.c.text)} → ${JSON.stringify(r.result.text)} (${r.distance.toFixed(2)})`).join('\n');
    expect(good.length / results.length, report).toBeGreaterThanOrEqual(0.9);
  });

  it('two lines come back in reading order; boxes lie where the text was drawn', () => {
    const twoLines = results.find((r) => r.c.second)!;
    expect(twoLines.result.lines.map((line) => normalizeForMatch(line.text).replaceAll(' ', ''))).toEqual(['giftshop', 'opendaily']);
    expect(matchText('Gift Shop OPEN DAILY', twoLines.result.text).exact).toBe(true);
    const first = twoLines.result.lines[0].quad;
    const last = twoLines.result.lines.at(-1)!.quad;
    expect(first[2][1]).toBeLessThanOrEqual(last[0][1] + 4);
    const stop = results.find((r) => r.c.text === 'STOP')!;
    expect(stop.result.lines).toHaveLength(1);
    const [tl, , br] = stop.result.lines[0].quad;
    // the 80 px word is centred in the 420 × 180 image
    expect(tl[0]).toBeGreaterThan(90);
    expect(br[0]).toBeLessThan(330);
    expect(tl[1]).toBeGreaterThan(40);
    expect(br[1]).toBeLessThan(140);
    expect(stop.result.lines[0].confidence).toBeGreaterThan(0.9);
  });

  it('an image without text reads as nothing', async () => {
    const blank = { width: 320, height: 160, data: new Uint8Array(320 * 160 * 3).fill(230) };
    expect((await ocr.read(blank)).text).toBe('');
  });
});

describe.skipIf(!fontsPresent)('ocr scorer', () => {
  const sample = (key: string, text?: string[]): ScorableSample => ({
    key,
    imagePath: `${key}.png`,
    prompt: { id: key, text: 'a sign', suite: 'text-rendering', category: 'text-rendering', ...(text ? { expectations: { tag: 'text', text } } : {}) },
  });

  it('scores quoted strings: exact and edit distance per sample, lines and matches in detail', async () => {
    const images: Record<string, RgbImage> = {
      open: renderText({ text: 'OPEN', font: SANS, size: 72, background: '#ffffff', colour: '#000000' }),
      blank: { width: 200, height: 100, data: new Uint8Array(200 * 100 * 3).fill(255) },
    };
    const context: ScoringContext = { loadImage: async (s) => images[s.key.split('/')[0]], log: () => {} };
    const scorer = createOcrScorer();
    try {
      const samples = [sample('open/1', ['OPEN']), sample('open/2', ['open', 'CLOSED']), sample('blank', ['STOP']), sample('open/none')];
      expect(samples.map((s) => scorer.appliesTo!(s))).toEqual([true, true, true, false]);
      const records = await scorer.score(samples, context);
      const value = (key: string, metric: string) => records.find((r) => r.sampleKey === key && r.metric === metric)?.value;
      expect(records.map((r) => r.metric).filter((m, i, all) => all.indexOf(m) === i)).toEqual(OCR_METRICS.map((m) => m.name));
      expect([value('open/1', 'ocr_exact'), value('open/1', 'ocr_edit_distance')]).toEqual([1, 0]);
      // "CLOSED" is missing, so not every string is exact; its best window in "open" is "ope" or "open" at
      // distance 4 (drop c, l; s → p; d → n), 4/6 normalised; the mean with "open" (0) is 1/3
      expect(value('open/2', 'ocr_exact')).toBe(0);
      expect(value('open/2', 'ocr_edit_distance')).toBeCloseTo(1 / 3, 9);
      expect([value('blank', 'ocr_exact'), value('blank', 'ocr_edit_distance')]).toEqual([0, 1]);
      expect(records.some((r) => r.sampleKey === 'open/none')).toBe(false);
      const detail = records.find((r) => r.sampleKey === 'open/1')!.detail as { text: string; lines: Array<{ quad: unknown; confidence: number }> };
      expect(detail.text).toBe('OPEN');
      expect(detail.lines[0].confidence).toBeGreaterThan(0.9);
    } finally {
      await scorer.dispose!();
    }
  });

  it('a model_dir without the PP-OCRv4 files fails with a clear error naming the option', () => {
    expect(() => createOcrScorer({ model_dir: '/nonexistent/ocr' })).toThrow(/model_dir.*ch_PP-OCRv4_det_infer\.onnx/);
    expect(() => createOcrScorer({ box_threshold: 2 })).toThrow(/box_threshold/);
  });
});
