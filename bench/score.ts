/**
 * Scoring throughput: images per second for each scorer (CLIP, colour geometry, OCR, health) and for all
 * of them together, on synthetic 1024×1024 scenes (coloured shapes, a sign with text, noise) on this
 * machine's CPU. Images are decoded once up front, so decoding is not charged to any scorer; each scorer's
 * first call (model loading, session warm-up) is timed separately from the steady-state pass, and every
 * pass uses fresh sample keys so no embedding cache is hit.
 *
 *   npx tsx bench/score.ts [--clip DIR] [--images 4] [--size 1024] [--cache-dir DIR] [--scorers clip,health,…]
 *
 * Without --clip the tiny random-weight CLIP is used (its vision tower is far smaller than ViT-L/14: the
 * CLIP row then measures the preprocessing and plumbing, not a real CLIP's cost).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Resvg } from '@resvg/resvg-js';
import type { PromptInstance } from '../datasets/types.js';
import { decodePng, encodePng, type RgbImage } from '../pipelines/image/png.js';
import { ensureTinyModels } from '../pipelines/tiny/tiny-models.js';
import { createScorer, loadScorerRegistry } from '../probes/registry.js';
import type { ScorableSample, Scorer, ScoringContext } from '../probes/types.js';

const { values } = parseArgs({
  options: {
    clip: { type: 'string' },
    images: { type: 'string', default: '4' },
    size: { type: 'string', default: '1024' },
    'cache-dir': { type: 'string', default: join(tmpdir(), 'refinery-bench-models') },
    scorers: { type: 'string', default: 'clip,colour-geometry,ocr,health' },
  },
});
const imageCount = Number(values.images);
const size = Number(values.size);
if (!(imageCount >= 1) || !(size >= 64)) throw new Error('--images must be ≥ 1 and --size ≥ 64');
const wanted = values.scorers!.split(',').map((s) => s.trim()).filter(Boolean);

const prompt: PromptInstance = {
  id: 'bench/0',
  text: 'a red cube to the left of a blue sphere in front of a shop sign that says "OPEN"',
  suite: 'bench',
  category: 'bench',
  expectations: {
    tag: 'position',
    include: [
      { class: 'sphere', count: 1, color: 'blue' },
      { class: 'cube', count: 1, color: 'red', position: ['left of', 0] },
    ],
    text: ['OPEN'],
  },
};

function scene(index: number): RgbImage {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 1024 1024">` +
    '<defs><linearGradient id="bg" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#dfe6ec"/><stop offset="1" stop-color="#9aa4ad"/></linearGradient></defs>' +
    '<rect width="1024" height="1024" fill="url(#bg)"/>' +
    `<rect x="${120 + index * 10}" y="560" width="220" height="220" fill="#d42a2a"/>` +
    `<circle cx="${720 - index * 10}" cy="660" r="120" fill="#2a55d4"/>` +
    '<rect x="312" y="120" width="400" height="180" rx="16" fill="#fafafa" stroke="#333" stroke-width="8"/>' +
    '<text x="512" y="210" font-family="DejaVu Sans" font-size="110" font-weight="bold" fill="#1b1b1b" text-anchor="middle" dominant-baseline="central">OPEN</text></svg>';
  const fontDir = '/usr/share/fonts/truetype/dejavu';
  const image = decodePng(new Resvg(svg, { font: { loadSystemFonts: true, fontFiles: [`${fontDir}/DejaVuSans-Bold.ttf`, `${fontDir}/DejaVuSans.ttf`] } }).render().asPng(), 'scene').image;
  let state = 12345 + index;
  for (let i = 0; i < image.data.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    image.data[i] = Math.min(255, Math.max(0, image.data[i] + ((state >>> 16) % 17) - 8));
  }
  return image;
}

const workDir = mkdtempSync(join(tmpdir(), 'refinery-bench-score-'));
const paths: string[] = [];
const images = new Map<string, RgbImage>();
for (let i = 0; i < imageCount; i++) {
  const path = join(workDir, `image-${i}.png`);
  writeFileSync(path, encodePng(scene(i)));
  paths.push(path);
}
const decodeStart = performance.now();
for (const path of paths) images.set(path, decodePng(readFileSync(path), path).image);
const decodeSeconds = (performance.now() - decodeStart) / 1000;

const context: ScoringContext = {
  loadImage: async (sample) => images.get(sample.imagePath)!,
  log: () => {},
};
const samplesFor = (pass: string): ScorableSample[] => paths.map((imagePath, i) => ({ key: `${pass}-${i}`, imagePath, prompt }));

const clipDir = values.clip ? resolve(values.clip) : (await ensureTinyModels(values['cache-dir']!)).clip;
const registry = await loadScorerRegistry();
const missing = wanted.filter((id) => !registry.has(id));
const scorers: Scorer[] = [];
/** metrics whose values show the scorers read the scenes right (every scene has the sign and the relation) */
const SANITY_METRICS = ['ocr_exact', 'relation_correct', 'health_ok'];
const sanity: string[] = [];
const rows: Array<{ name: string; first: number | null; seconds: number; records: number }> = [];

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const start = performance.now();
  const value = await run();
  return { value, seconds: (performance.now() - start) / 1000 };
}

try {
  for (const id of wanted.filter((id) => registry.has(id))) {
    const created = await timed(() => createScorer(id, {}, { baseDir: process.cwd(), models: { clip: clipDir } }, registry));
    const scorer = created.value;
    scorers.push(scorer);
    const warm = await timed(() => scorer.score(samplesFor(`warm-${id}`).slice(0, 1), context));
    const pass = await timed(() => scorer.score(samplesFor(`pass-${id}`), context));
    rows.push({ name: id, first: created.seconds + warm.seconds, seconds: pass.seconds, records: pass.value.length });
    for (const metric of SANITY_METRICS.filter((m) => pass.value.some((r) => r.metric === m))) {
      const values = pass.value.filter((r) => r.metric === metric && r.value !== null).map((r) => r.value as number);
      sanity.push(`${metric} mean ${(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length)).toFixed(3)} (${values.length} images)`);
    }
  }
  const together = await timed(async () => {
    let records = 0;
    for (const scorer of scorers) records += (await scorer.score(samplesFor(`all-${scorer.id}`), context)).length;
    return records;
  });
  rows.push({ name: `all ${scorers.length} together`, first: null, seconds: together.seconds, records: together.value });
} finally {
  for (const scorer of scorers) await scorer.dispose?.();
  rmSync(workDir, { recursive: true, force: true });
}

const pad = (text: string, width: number) => text.padEnd(width);
const num = (value: number, width: number, digits = 2) => value.toFixed(digits).padStart(width);
console.log(`scoring ${imageCount} image(s) of ${size}×${size} on ${cpus().length} CPU core(s); CLIP: ${values.clip ? clipDir : 'tiny random-weight CLIP'}`);
console.log(`PNG decode (not charged to scorers): ${num(decodeSeconds / imageCount, 0, 3)} s/image\n`);
console.log(`${pad('scorer', 22)} ${'first call (s)'.padStart(15)} ${'pass (s)'.padStart(10)} ${'s/image'.padStart(9)} ${'images/s'.padStart(9)} ${'records'.padStart(8)}`);
for (const row of rows) {
  console.log(
    `${pad(row.name, 22)} ${row.first === null ? '—'.padStart(15) : num(row.first, 15)} ${num(row.seconds, 10)} ${num(row.seconds / imageCount, 9, 3)} ${num(imageCount / row.seconds, 9)} ${String(row.records).padStart(8)}`,
  );
}
if (sanity.length > 0) console.log(`\nsanity (expected 1.000 each): ${sanity.join('; ')}`);
if (missing.length > 0) console.log(`\nnot registered, not measured: ${missing.join(', ')}`);
console.log('\nfirst call = creating the scorer (model loading) + scoring one image; pass = the steady-state scoring of all images.');
