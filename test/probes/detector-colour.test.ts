import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromptExpectations } from '../../datasets/types.js';
import type { RgbImage } from '../../pipelines/image/png.js';
import { ensureTinyModels } from '../../pipelines/tiny/tiny-models.js';
import { writeTinyOwlFolder } from '../../pipelines/tiny/owlvit.js';
import type { ImageSource } from '../../probes/clip/clip-model.js';
import {
  classifyColours,
  colourClassEmbeddings,
  cropBox,
  GENEVAL_COLOURS,
  GENEVAL_COLOUR_TEMPLATES,
  type ColourEmbedder,
} from '../../probes/detector/colour-classifier.js';
import { createDetectorGenevalScorer, judgeSelected, type DetectorRuleSettings } from '../../probes/detector/detector-scorer.js';
import type { DetectionsByClass } from '../../probes/geometry/geneval-rules.js';
import type { ScorableSample, ScoringContext } from '../../probes/types.js';

const root = mkdtempSync(join(tmpdir(), 'refinery-detector-colour-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** 8 × 4 image whose pixel (x, y) is (x, y, 7). */
const ramp: RgbImage = {
  width: 8,
  height: 4,
  data: Uint8Array.from({ length: 8 * 4 * 3 }, (_, i) => {
    const pixel = Math.floor(i / 3);
    return [pixel % 8, Math.floor(pixel / 8), 7][i % 3];
  }),
};

describe('cropBox (PIL Image.crop of a float box)', () => {
  it('rounds each coordinate half to even and copies the rows', () => {
    const crop = cropBox(ramp, { x1: 1.5, y1: 0.5, x2: 4.5, y2: 2.5 }); // → x 2..4, y 0..2
    expect([crop.width, crop.height]).toEqual([2, 2]);
    expect(Array.from(crop.data)).toEqual([2, 0, 7, 3, 0, 7, 2, 1, 7, 3, 1, 7]);
  });

  it('clamps to the image and keeps at least one pixel', () => {
    expect(cropBox(ramp, { x1: -3, y1: -1, x2: 20, y2: 9 })).toMatchObject({ width: 8, height: 4 });
    expect(cropBox(ramp, { x1: 5.2, y1: 2, x2: 5.3, y2: 2 })).toMatchObject({ width: 1, height: 1 });
    expect(cropBox(ramp, { x1: 9, y1: 5, x2: 12, y2: 7 })).toMatchObject({ width: 1, height: 1 });
  });
});

/**
 * A stand-in CLIP: a text's embedding points at the colour it names (with a template-specific tilt,
 * so the averaging matters), an image's at the colour prototype nearest to its mean pixel.
 */
const PROTOTYPES: Record<string, [number, number, number]> = { red: [220, 30, 30], blue: [30, 30, 220], green: [30, 200, 30], white: [245, 245, 245] };
class FakeClip implements ColourEmbedder {
  readonly textsSeen: string[] = [];
  readonly cropSizes: string[] = [];
  async embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
    this.textsSeen.push(...texts);
    return texts.map((text) => {
      const v = new Float32Array(GENEVAL_COLOURS.length + 3);
      const colour = GENEVAL_COLOURS.findIndex((c) => text.includes(` ${c} `) || text.includes(` ${c}-`));
      v[colour] = 1;
      const template = text.includes('-colored') ? 1 : text.endsWith(' object') ? 2 : 0;
      v[GENEVAL_COLOURS.length + template] = 0.5;
      return unit(v);
    });
  }
  async embedImages(images: readonly ImageSource[]): Promise<Float32Array[]> {
    return Promise.all(
      images.map(async (source) => {
        const image = await source.load();
        this.cropSizes.push(`${image.width}x${image.height}`);
        const mean = [0, 1, 2].map((c) => {
          let sum = 0;
          for (let i = c; i < image.data.length; i += 3) sum += image.data[i];
          return sum / (image.data.length / 3);
        });
        let best = 'red';
        let bestDistance = Infinity;
        for (const [name, rgb] of Object.entries(PROTOTYPES)) {
          const distance = rgb.reduce((d, v, c) => d + (v - mean[c]) ** 2, 0);
          if (distance < bestDistance) [best, bestDistance] = [name, distance];
        }
        const v = new Float32Array(GENEVAL_COLOURS.length + 3);
        v[GENEVAL_COLOURS.indexOf(best as (typeof GENEVAL_COLOURS)[number])] = 1;
        return unit(v);
      }),
    );
  }
}

function unit(v: Float32Array): Float32Array {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/** A grey image with solid rectangles. */
function scene(width: number, height: number, rects: Array<[number, number, number, number, [number, number, number]]>): RgbImage {
  const data = new Uint8Array(width * height * 3).fill(128);
  for (const [x0, y0, w, h, colour] of rects) for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) data.set(colour, (y * width + x) * 3);
  return { width, height, data };
}

describe('CLIP colour classification (GenEval: ten colours, three templates averaged)', () => {
  it('averages the three normalised template embeddings per colour and renormalises', async () => {
    const clip = new FakeClip();
    const classes = await colourClassEmbeddings(clip, 'car');
    expect(clip.textsSeen).toHaveLength(30);
    expect(clip.textsSeen.slice(0, 3)).toEqual(['a photo of a red car', 'a photo of a red-colored car', 'a photo of a red object']);
    const red = classes[0];
    expect(Math.hypot(...red)).toBeCloseTo(1, 6);
    // the colour axis dominates; each template's tilt enters with weight 1/3 before renormalising
    const texts = await clip.embedTexts(['a photo of a red car', 'a photo of a red-colored car', 'a photo of a red object']);
    const mean = texts[0].map((_, i) => (texts[0][i] + texts[1][i] + texts[2][i]) / 3);
    const expected = unit(Float32Array.from(mean));
    for (let i = 0; i < red.length; i++) expect(red[i]).toBeCloseTo(expected[i], 6);
  });

  it('gives each detection the colour of its box crop', async () => {
    const clip = new FakeClip();
    const image = scene(64, 32, [[0, 0, 16, 16, [220, 30, 30]], [40, 8, 20, 20, [30, 30, 220]]]);
    const detections = [
      { box: { x1: 0, y1: 0, x2: 16, y2: 16 }, score: 0.9 },
      { box: { x1: 40.4, y1: 8, x2: 60, y2: 28.5 }, score: 0.8 },
    ];
    const votes = await classifyColours(clip, image, 'sample-1', 'car', detections);
    expect(votes.map((v) => v.colour)).toEqual(['red', 'blue']);
    expect(clip.cropSizes).toEqual(['16x16', '20x20']);
    expect(votes[0].similarities).toHaveLength(10);
    expect(await classifyColours(clip, image, 'sample-1', 'car', [])).toEqual([]);
  });
});

describe('GenEval colour clauses on classified detections', () => {
  const settings: DetectorRuleSettings = { threshold: 0.1, countingThreshold: 0.1, maxObjects: 16, nmsIou: 0.3, positionThreshold: 0.1 };
  const RED_CAR_BLUE_BUS: PromptExpectations = { tag: 'color_attr', include: [{ class: 'car', count: 1, color: 'red' }, { class: 'bus', count: 1, color: 'blue' }] };
  const box = { x1: 0, y1: 0, x2: 10, y2: 10 };

  it('is correct when both objects have the asked colours, wrong with the reason otherwise', () => {
    const right: DetectionsByClass = { car: [{ box, score: 0.9, color: 'red' }], bus: [{ box, score: 0.8, color: 'blue' }] };
    expect(judgeSelected(RED_CAR_BLUE_BUS, right, settings, true).outcome).toBe('correct');
    const swapped: DetectionsByClass = { car: [{ box, score: 0.9, color: 'blue' }], bus: [{ box, score: 0.8, color: 'red' }] };
    const verdict = judgeSelected(RED_CAR_BLUE_BUS, swapped, settings, true);
    expect(verdict.outcome).toBe('wrong');
    expect(verdict.reasons[0]).toMatch(/expected red car>=1, found 0 red/);
    expect(verdict.uncheckedColours).toEqual([]);
  });

  it('counts colours over the top-count detections only', () => {
    const twoRed: PromptExpectations = { tag: 'colors', include: [{ class: 'car', count: 2, color: 'red' }] };
    const detections: DetectionsByClass = {
      car: [
        { box, score: 0.9, color: 'red' },
        { box, score: 0.8, color: 'green' },
        { box, score: 0.7, color: 'red' },
      ],
    };
    expect(judgeSelected(twoRed, detections, settings, true).outcome).toBe('wrong');
  });

  it('without a classifier leaves colour undetermined, as before', () => {
    const right: DetectionsByClass = { car: [{ box, score: 0.9 }], bus: [{ box, score: 0.8 }] };
    const verdict = judgeSelected(RED_CAR_BLUE_BUS, right, settings, false);
    expect(verdict.outcome).toBe('undetermined');
    expect(verdict.uncheckedColours).toEqual(['red car', 'blue bus']);
  });
});

describe('detector-geneval with a CLIP model (tiny OWL-ViT + tiny CLIP)', () => {
  let owlDir: string;
  let clipDir: string;
  beforeAll(async () => {
    owlDir = join(root, 'tiny-owlvit');
    writeTinyOwlFolder(owlDir);
    clipDir = (await ensureTinyModels(join(root, 'models'))).clip;
  });

  const RED = [255, 0, 0] as const;
  const BLUE = [0, 0, 255] as const;
  const image = scene(128, 64, [[0, 16, 32, 16, [...RED]], [96, 32, 32, 16, [...BLUE]]]);
  const sample: ScorableSample = {
    key: 'colours',
    imagePath: 'colours.png',
    prompt: {
      id: 'colours',
      text: 'a photo of a red cat and a blue dog',
      suite: 'test',
      category: 'color_attr',
      expectations: { tag: 'color_attr', include: [{ class: 'cat', count: 1, color: 'red' }, { class: 'dog', count: 1, color: 'blue' }] },
    },
  };
  const context: ScoringContext = { loadImage: async () => image, log: () => {} };

  it('checks colour clauses: a 0/1 verdict, the votes on the detections, the method recorded', async () => {
    const scorer = createDetectorGenevalScorer({ model: owlDir }, { baseDir: root, models: { clip: clipDir } });
    try {
      expect(scorer.description).toMatch(/colour by CLIP on box crops/);
      const [record] = await scorer.score([sample], context);
      expect([0, 1]).toContain(record.value);
      const detail = record.detail as Record<string, unknown>;
      expect(detail.colourClassifier).toMatchObject({ model: 'clip', templates: [...GENEVAL_COLOUR_TEMPLATES] });
      expect(detail.uncheckedColours).toBeUndefined();
      const detections = detail.detections as DetectionsByClass;
      for (const className of ['cat', 'dog']) expect(GENEVAL_COLOURS).toContain(detections[className][0].color);
    } finally {
      await scorer.dispose?.();
    }
  });

  it("colour_classifier 'none' keeps colour undetermined; 'clip' without a CLIP folder is refused", async () => {
    const scorer = createDetectorGenevalScorer({ model: owlDir, colour_classifier: 'none' }, { baseDir: root, models: { clip: clipDir } });
    try {
      const [record] = await scorer.score([sample], context);
      expect([record.value, record.label]).toEqual([null, 'undetermined']);
    } finally {
      await scorer.dispose?.();
    }
    expect(() => createDetectorGenevalScorer({ model: owlDir, colour_classifier: 'clip' }, { baseDir: root })).toThrow(/colour_classifier 'clip' needs a CLIP folder/);
  });
});
