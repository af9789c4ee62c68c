import { Resvg } from '@resvg/resvg-js';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../datasets/random.js';
import type { PromptExpectations, Relation } from '../../datasets/types.js';
import { decodePng, type RgbImage } from '../../pipelines/image/png.js';
import {
  analyseColourGeometry,
  colourGeometryApplies,
  createColourGeometryScorer,
  resolveColourGeometryConfig,
} from '../../probes/geometry/colour-geometry.js';
import { connectedComponents, downsample, type LabelImage } from '../../probes/geometry/colour-segmentation.js';
import { classifyRgb, DEFAULT_COLOUR_TABLE, rgbToHsv } from '../../probes/geometry/colour-table.js';
import { relativePosition, type Box } from '../../probes/geometry/geneval-rules.js';
import type { ScorableSample } from '../../probes/types.js';

type Rgb = [number, number, number];

// Base colours of the rendered objects (not the table's: the table must generalise to them).
const PALETTE: Record<string, Rgb> = {
  red: [220, 30, 30],
  orange: [255, 140, 0],
  yellow: [240, 205, 0],
  green: [30, 160, 60],
  blue: [30, 80, 225],
  purple: [135, 45, 220],
  pink: [255, 105, 180],
};
const DISTRACTORS: Record<string, Rgb> = { brown: [139, 69, 19], gray: [120, 120, 120], black: [25, 25, 25], white: [248, 248, 248] };

const hex = ([r, g, b]: Rgb) => `#${[r, g, b].map((c) => Math.round(Math.min(255, Math.max(0, c))).toString(16).padStart(2, '0')).join('')}`;
const lighter = (c: Rgb): Rgb => c.map((v) => v + (255 - v) * 0.35) as Rgb;
const darker = (c: Rgb): Rgb => c.map((v) => v * 0.72) as Rgb;

interface Shape {
  kind: 'cube' | 'sphere';
  /** centre and size of the shape's bounding box */
  cx: number;
  cy: number;
  size: number;
  colour: Rgb;
}

function shapeBox(s: Shape): Box {
  return { x1: s.cx - s.size / 2, y1: s.cy - s.size / 2, x2: s.cx + s.size / 2, y2: s.cy + s.size / 2 };
}

let gradientId = 0;
function shapeSvg(s: Shape, shaded = true): string {
  const b = shapeBox(s);
  if (s.kind === 'sphere') {
    const id = `g${gradientId++}`;
    const fill = shaded ? `url(#${id})` : hex(s.colour);
    return (
      (shaded
        ? `<defs><radialGradient id="${id}" cx="0.35" cy="0.35" r="0.75"><stop offset="0" stop-color="${hex(lighter(s.colour))}"/>` +
          `<stop offset="1" stop-color="${hex(darker(s.colour))}"/></radialGradient></defs>`
        : '') + `<circle cx="${s.cx}" cy="${s.cy}" r="${s.size / 2}" fill="${fill}"/>`
    );
  }
  // a cube in oblique projection filling the box: front face, lighter top, darker side
  const depth = s.size * 0.28;
  const face = s.size - depth;
  const [x, y] = [b.x1, b.y1 + depth];
  const pts = (p: number[][]) => p.map(([px, py]) => `${px},${py}`).join(' ');
  return (
    `<rect x="${x}" y="${y}" width="${face}" height="${face}" fill="${hex(s.colour)}"/>` +
    `<polygon points="${pts([[x, y], [x + depth, y - depth], [x + face + depth, y - depth], [x + face, y]])}" fill="${hex(shaded ? lighter(s.colour) : s.colour)}"/>` +
    `<polygon points="${pts([[x + face, y], [x + face + depth, y - depth], [x + face + depth, y + face - depth], [x + face, y + face]])}" fill="${hex(shaded ? darker(s.colour) : s.colour)}"/>`
  );
}

function render(size: number, shapes: string[], noiseSeed: number, noise = 24): RgbImage {
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 256 256">` +
    `<defs><linearGradient id="bg" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#e4e4de"/><stop offset="1" stop-color="#a8a8ae"/></linearGradient></defs>` +
    `<rect width="256" height="256" fill="url(#bg)"/>${shapes.join('')}</svg>`;
  const { image } = decodePng(new Resvg(svg).render().asPng(), 'synthetic');
  const random = seededRandom(noiseSeed);
  for (let i = 0; i < image.data.length; i++) {
    image.data[i] = Math.min(255, Math.max(0, Math.round(image.data[i] + (random() + random() - 1) * noise)));
  }
  return image;
}

const OPPOSITE: Record<Relation, Relation> = { 'left of': 'right of', 'right of': 'left of', above: 'below', below: 'above' };
const DIRECTION: Record<Relation, [number, number]> = { 'left of': [-1, 0], 'right of': [1, 0], above: [0, -1], below: [0, 1] };

function expectationsFor(subject: { kind: string; colour: string }, reference: { kind: string; colour: string }, relation: Relation): PromptExpectations {
  return {
    tag: 'position',
    include: [
      { class: reference.kind, count: 1, color: reference.colour },
      { class: subject.kind, count: 1, color: subject.colour, position: [relation, 0] },
    ],
  };
}

/** The GenEval-normalised offset component along the relation's axis, for the true (drawn) boxes. */
function margin(subject: Box, reference: Box, relation: Relation): number {
  const [ux, uy] = DIRECTION[relation];
  const d = [(subject.x1 + subject.x2 - reference.x1 - reference.x2) / 2, (subject.y1 + subject.y2 - reference.y1 - reference.y2) / 2];
  const sizes = [subject.x2 - subject.x1 + reference.x2 - reference.x1, subject.y2 - subject.y1 + reference.y2 - reference.y1];
  const shrunk = d.map((v, axis) => Math.max(Math.abs(v) - 0.1 * sizes[axis], 0) * Math.sign(v));
  return (shrunk[0] * ux + shrunk[1] * uy) / Math.hypot(d[0], d[1]);
}

interface Case {
  image: RgbImage;
  subject: Shape & { name: string };
  reference: Shape & { name: string };
  relation: Relation;
  /** true relation holds for the drawn boxes with a clear margin past the 0.5 cut */
  unambiguous: boolean;
}

function makeCase(seed: number, options: { omit?: 'subject' | 'reference' } = {}): Case {
  const random = seededRandom(seed);
  const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const names = Object.keys(PALETTE);
  const subjectColour = pick(names);
  const referenceColour = pick(names.filter((n) => n !== subjectColour));
  const relation = pick(['left of', 'right of', 'above', 'below'] as Relation[]);
  for (;;) {
    const refSize = 44 + random() * 36;
    const subSize = 38 + random() * 34;
    const reference: Shape = { kind: pick(['cube', 'sphere'] as const), cx: 40 + random() * 176, cy: 40 + random() * 176, size: refSize, colour: PALETTE[referenceColour] };
    // distance along the relation from 0.12 (heavy overlap) to 1.0 × the summed sizes, sideways jitter up
    // to ±0.8 × the distance: layouts in GenEval's dead zone or near its cut fall out of the unambiguous set
    const distance = (0.12 + random() * 0.88) * (refSize + subSize);
    const side = (random() - 0.5) * 1.6 * distance;
    const [ux, uy] = DIRECTION[relation];
    const subject: Shape = {
      kind: pick(['cube', 'sphere'] as const),
      cx: reference.cx + ux * distance - uy * side,
      cy: reference.cy + uy * distance + ux * side,
      size: subSize,
      colour: PALETTE[subjectColour],
    };
    const inside = [subject, reference].every((s) => {
      const b = shapeBox(s);
      return b.x1 >= 4 && b.y1 >= 4 && b.x2 <= 252 && b.y2 <= 252;
    });
    if (!inside) continue;
    const targets = [shapeBox(subject), shapeBox(reference)];
    const otherColours = [...names.filter((n) => n !== subjectColour && n !== referenceColour).map((n) => PALETTE[n]), ...Object.values(DISTRACTORS)];
    const distractors: string[] = [];
    for (let tries = 0, n = Math.floor(random() * 3); distractors.length < n && tries < 50; tries++) {
      const d: Shape = { kind: pick(['cube', 'sphere'] as const), cx: 15 + random() * 226, cy: 15 + random() * 226, size: 18 + random() * 26, colour: pick(otherColours) };
      const b = shapeBox(d);
      const clear = targets.every((t) => b.x2 < t.x1 - 4 || b.x1 > t.x2 + 4 || b.y2 < t.y1 - 4 || b.y1 > t.y2 + 4);
      if (clear) distractors.push(shapeSvg(d, random() < 0.5));
    }
    const drawn = [subject, reference].filter((_, i) => options.omit !== (i === 0 ? 'subject' : 'reference'));
    const ordered = random() < 0.5 ? drawn : drawn.reverse();
    const image = render(seed % 5 === 0 ? 512 : 256, [...distractors, ...ordered.map((s) => shapeSvg(s))], seed * 7919 + 1);
    const m = margin(shapeBox(subject), shapeBox(reference), relation);
    return {
      image,
      subject: { ...subject, name: subjectColour },
      reference: { ...reference, name: referenceColour },
      relation,
      unambiguous: relativePosition(shapeBox(subject), shapeBox(reference)).includes(relation) && m >= 0.6,
    };
  }
}

const config = resolveColourGeometryConfig();
const analyse = (c: Case, relation: Relation) =>
  analyseColourGeometry(
    c.image,
    expectationsFor({ kind: c.subject.kind, colour: c.subject.name }, { kind: c.reference.kind, colour: c.reference.name }, relation),
    config,
  );

describe('colour table', () => {
  it('RGB → HSV on hand-computed values', () => {
    expect(rgbToHsv(255, 0, 0)).toEqual([0, 1, 1]);
    expect(rgbToHsv(0, 255, 0)).toEqual([120, 1, 1]);
    expect(rgbToHsv(0, 0, 255)).toEqual([240, 1, 1]);
    // orange (255, 165, 0): H = 60 · (165 − 0) / 255 = 38.82°
    expect(rgbToHsv(255, 165, 0)[0]).toBeCloseTo(38.8235, 3);
    // purple (128, 0, 128): H = 60 · (4 + (128 − 0)/128) = 300°, S = 1, V = 128/255
    const [h, s, v] = rgbToHsv(128, 0, 128);
    expect([h, s]).toEqual([300, 1]);
    expect(v).toBeCloseTo(128 / 255, 12);
    expect(rgbToHsv(128, 128, 128)).toEqual([0, 0, 128 / 255]);
  });

  it.each([
    [[255, 0, 0], 'red'],
    [[220, 20, 60], 'red'], // crimson
    [[255, 99, 71], 'red'], // tomato
    [[255, 165, 0], 'orange'],
    [[255, 140, 0], 'orange'], // dark orange
    [[255, 215, 0], 'yellow'], // gold
    [[34, 139, 34], 'green'], // forest green
    [[0, 0, 128], 'blue'], // navy
    [[135, 206, 235], 'blue'], // sky blue
    [[128, 0, 128], 'purple'],
    [[102, 51, 153], 'purple'], // rebeccapurple
    [[255, 105, 180], 'pink'], // hot pink
    [[255, 182, 193], 'pink'], // light pink
    [[139, 69, 19], 'brown'], // saddle brown
    [[0, 0, 0], 'black'],
    [[255, 255, 255], 'white'],
    [[128, 128, 128], 'gray'],
  ] as Array<[Rgb, string]>)('%j is %s', (rgb, name) => {
    expect(DEFAULT_COLOUR_TABLE[classifyRgb(DEFAULT_COLOUR_TABLE, ...rgb)].name).toBe(name);
  });

  it('overrides replace a colour in place or add one; aliases resolve', () => {
    const custom = resolveColourGeometryConfig({ colours: { teal: [{ hue: [160, 200], saturation: [0.4, 1] }] }, aliases: { navy: 'blue' } });
    expect(custom.table.map((e) => e.name).at(-1)).toBe('teal');
    expect(() => resolveColourGeometryConfig({ colours: { red: [{ hue: [400, 10] }] } })).toThrow(/colours\.red\[0\]\.hue\[0\]/);
    expect(() => resolveColourGeometryConfig({ aliases: { navy: 'marine' } })).toThrow(/unknown colour 'marine'/);
    expect(() => resolveColourGeometryConfig({ min_area: 0.1 })).toThrow(/scorer 'colour-geometry' options: .*min_area/);
  });
});

describe('segmentation helpers', () => {
  it('area-average downsampling', () => {
    const data = new Uint8Array(4 * 4 * 3);
    for (let p = 0; p < 16; p++) data.fill((p % 4) < 2 ? 0 : 200, p * 3, p * 3 + 3);
    const { image, scaleX } = downsample({ width: 4, height: 4, data }, 2);
    expect([image.width, image.height, scaleX]).toEqual([2, 2, 2]);
    expect([...image.data]).toEqual([0, 0, 0, 200, 200, 200, 0, 0, 0, 200, 200, 200]);
  });

  it('8-connected components: diagonal neighbours join', () => {
    // 0 . .      label 0 at (0,0), (1,1), (2,2): one component under 8-connectivity
    // . 0 .      label 1 at (2,0)
    // . . 0
    const U = 255;
    const image: LabelImage = { width: 3, height: 3, labels: Uint8Array.from([0, U, 1, U, 0, U, U, U, 0]), scaleX: 1, scaleY: 1 };
    const components = connectedComponents(image);
    expect(components).toEqual([
      { label: 0, area: 3, minX: 0, minY: 0, maxX: 2, maxY: 2 },
      { label: 1, area: 1, minX: 2, minY: 0, maxX: 2, maxY: 0 },
    ]);
    expect(connectedComponents(image, new Set([1]))).toHaveLength(1);
  });
});

describe('colour-geometry probe on rendered scenes', () => {
  const cases = Array.from({ length: 100 }, (_, i) => makeCase(1000 + i));
  const unambiguous = cases.filter((c) => c.unambiguous);

  it('is right on ≥ 95 % of the unambiguous scenes (noise, overlaps, shading, distractors)', () => {
    expect(unambiguous.length).toBeGreaterThanOrEqual(60);
    const outcomes = unambiguous.map((c) => analyse(c, c.relation).relationOutcome);
    const correct = outcomes.filter((o) => o === 'correct').length;
    expect(correct / unambiguous.length).toBeGreaterThanOrEqual(0.95);
  });

  it('says wrong (not undetermined) on ≥ 95 % when the prompt states the opposite relation', () => {
    const outcomes = unambiguous.map((c) => analyse(c, OPPOSITE[c.relation]).relationOutcome);
    expect(outcomes.filter((o) => o === 'wrong').length / unambiguous.length).toBeGreaterThanOrEqual(0.95);
  });

  it('boxes in the detail match the drawn shapes', () => {
    const c = unambiguous[0];
    const analysis = analyse(c, c.relation);
    const found = analysis.relations[0];
    const truth = shapeBox(c.subject);
    for (const key of ['x1', 'y1', 'x2', 'y2'] as const) expect(Math.abs(found.subject.box![key] * (256 / c.image.width) - truth[key])).toBeLessThan(12);
  });

  it('is undetermined, with colours_present 0, when an object is missing', () => {
    for (let i = 0; i < 10; i++) {
      const c = makeCase(5000 + i, { omit: i % 2 ? 'subject' : 'reference' });
      const analysis = analyse(c, c.relation);
      expect(analysis.relationOutcome).toBe('undetermined');
      expect(analysis.relations[0].reason).toMatch(/^no (\w+) object/);
      expect(analysis.coloursPresent).toBe(false);
    }
  });

  it('is undetermined when a colour is ambiguous (two separate objects of it)', () => {
    const red = PALETTE.red;
    const image = render(
      256,
      [
        shapeSvg({ kind: 'sphere', cx: 60, cy: 60, size: 60, colour: red }),
        shapeSvg({ kind: 'sphere', cx: 190, cy: 190, size: 60, colour: red }),
        shapeSvg({ kind: 'cube', cx: 190, cy: 60, size: 60, colour: PALETTE.blue }),
      ],
      3,
    );
    const analysis = analyseColourGeometry(image, expectationsFor({ kind: 'sphere', colour: 'red' }, { kind: 'cube', colour: 'blue' }, 'left of'), config);
    expect(analysis.relationOutcome).toBe('undetermined');
    expect(analysis.objects.red.status).toBe('ambiguous');
  });
});

describe('colour-geometry scorer', () => {
  const scene = makeCase(1003);
  const sample = (expectations: PromptExpectations | undefined, key = 'k1'): ScorableSample => ({
    key,
    imagePath: '/unused.png',
    prompt: { id: 'p', text: 'a test', suite: 'test', category: 'spatial', ...(expectations ? { expectations } : {}) },
  });
  const context = { loadImage: async () => scene.image, log: () => {} };

  it('declares its metrics and scores only the samples it applies to', async () => {
    const scorer = createColourGeometryScorer();
    expect(scorer.metrics.map((m) => [m.name, m.kind])).toEqual([
      ['relation_correct', 'binary'],
      ['colours_present', 'binary'],
    ]);
    const relation = expectationsFor({ kind: scene.subject.kind, colour: scene.subject.name }, { kind: scene.reference.kind, colour: scene.reference.name }, scene.relation);
    const binding: PromptExpectations = { include: [{ class: 'cube', color: scene.subject.name }, { class: 'sphere', color: scene.reference.name }] };
    const counting: PromptExpectations = { include: [{ class: 'dog', count: 2 }] };
    expect(scorer.appliesTo!(sample(counting))).toBe(false);
    expect(colourGeometryApplies({ include: [{ class: 'a', color: 'red' }, { class: 'b', color: 'red' }] }, config)).toBe(false);
    const records = await scorer.score([sample(relation, 'rel'), sample(binding, 'bind'), sample(counting, 'count'), sample(undefined, 'none')], context);
    expect(records.map((r) => [r.sampleKey, r.metric, r.value, r.label])).toEqual([
      ['rel', 'colours_present', 1, 'present'],
      ['rel', 'relation_correct', scene.unambiguous ? 1 : expect.anything(), scene.unambiguous ? 'correct' : expect.anything()],
      ['bind', 'colours_present', 1, 'present'],
    ]);
    const detail = records[1].detail as { relations: Array<{ subject: { box: Box } }> };
    expect(detail.relations[0].subject.box).toEqual(expect.objectContaining({ x1: expect.any(Number) }));
    expect(JSON.parse(JSON.stringify(records[1].detail))).toEqual(records[1].detail);
  });
});
