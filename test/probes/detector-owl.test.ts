import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PromptExpectations } from '../../datasets/types.js';
import { UserError } from '../../pipelines/errors.js';
import type { RgbImage } from '../../pipelines/image/png.js';
import { GraphBuilder, writeModel } from '../../pipelines/onnx/writer.js';
import { TINY_OWL_DEFAULTS, ensureTinyOwlFolder, writeTinyOwlFolder } from '../../pipelines/tiny/owlvit.js';
import { createDetectorGenevalScorer } from '../../probes/detector/detector-scorer.js';
import { OwlDetector } from '../../probes/detector/owl-detector.js';
import { loadOwlFolder } from '../../probes/detector/owl-folder.js';
import { loadScorerRegistry } from '../../probes/registry.js';
import type { ScorableSample, ScoreRecord, Scorer, ScoringContext } from '../../probes/types.js';

const root = mkdtempSync(join(tmpdir(), 'refinery-detector-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];
const RED: [number, number, number] = [255, 0, 0];
const BLUE: [number, number, number] = [0, 0, 255];
const GREY: [number, number, number] = [128, 128, 128];

/** A grey image with solid rectangles [x, y, w, h, colour]. */
function scene(width: number, height: number, rects: Array<[number, number, number, number, [number, number, number]]>): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(GREY, i * 3);
  for (const [x0, y0, w, h, colour] of rects) {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) data.set(colour, (y * width + x) * 3);
  }
  return { width, height, data };
}

/** On a 128 × 64 image the tiny model's 4 × 4 grid has 32 × 16 cells; this fills cell (row, column). */
const cell = (row: number, column: number, colour: [number, number, number]): [number, number, number, number, [number, number, number]] => [
  32 * column,
  16 * row,
  32,
  16,
  colour,
];

/** The tiny model's score for a patch of one uniform colour, from its definition (float32 steps). */
function uniformPatchScore(value: number, channel: number): number {
  const normalised = Math.fround(Math.fround(Math.fround(value / 255) - Math.fround(CLIP_MEAN[channel])) / Math.fround(CLIP_STD[channel]));
  return 1 / (1 + Math.exp(-(TINY_OWL_DEFAULTS.gain * normalised - TINY_OWL_DEFAULTS.bias)));
}

function sample(key: string, text: string, expectations: PromptExpectations): ScorableSample {
  return { key, imagePath: `${key}.png`, prompt: { id: key, text, suite: 'test', category: expectations.tag ?? 'test', expectations } };
}

function contextFor(images: Record<string, RgbImage>): ScoringContext {
  return { loadImage: async (s) => images[s.key], log: () => {} };
}

const TWO_OBJECT: PromptExpectations = { tag: 'two_object', include: [{ class: 'cat', count: 1 }, { class: 'dog', count: 1 }] };
const CAT_LEFT_OF_DOG: PromptExpectations = { tag: 'position', include: [{ class: 'dog', count: 1 }, { class: 'cat', count: 1, position: ['left of', 0] }] };
const TWO_CATS: PromptExpectations = { tag: 'counting', include: [{ class: 'cat', count: 2 }], exclude: [{ class: 'cat', count: 3 }] };

let owlvitDir: string;
beforeAll(() => {
  owlvitDir = join(root, 'tiny-owlvit');
  writeTinyOwlFolder(owlvitDir);
});

describe('detector folder', () => {
  it('loads a tiny OWL-ViT folder in the transformers.js layout', () => {
    const folder = loadOwlFolder(owlvitDir);
    expect(folder).toMatchObject({ name: 'tiny-owlvit', modelType: 'owlvit', textLength: 16, takesAttentionMask: true });
    expect(folder.preprocessing).toMatchObject({ height: 64, width: 64, resample: 3, doPad: false });
    // OWL-ViT pads queries with "!" (id 0) to 16 tokens
    const ids = folder.tokenizer.encode('a photo of a cat').ids;
    expect(ids).toHaveLength(16);
    expect(ids.slice(7)).toEqual(new Array(9).fill(0));
  });

  it('rejects a CLIP folder, naming what is missing and the wrong model_type', () => {
    const clipDir = join(root, 'clip-like');
    mkdirSync(join(clipDir, 'onnx'), { recursive: true });
    writeFileSync(join(clipDir, 'config.json'), JSON.stringify({ model_type: 'clip' }));
    writeFileSync(join(clipDir, 'onnx', 'text_model.onnx'), '');
    let error: unknown;
    try {
      loadOwlFolder(clipDir);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UserError);
    const message = (error as Error).message;
    expect(message).toContain('looks like a CLIP folder');
    expect(message).toContain('missing preprocessor_config.json, vocab.json, merges.txt, tokenizer_config.json, onnx/model.onnx');
    expect(message).toContain('config.json model_type is "clip", expected "owlvit" or "owlv2"');
    expect(message).not.toContain('\n');
  });

  it('rejects a graph without the detection outputs, and a missing folder', () => {
    const dir = join(root, 'no-boxes');
    writeTinyOwlFolder(dir);
    const graph = new GraphBuilder('not_a_detector');
    const pixels = graph.input('pixel_values', 'float32', ['batch_size', 3, 64, 64]);
    graph.input('input_ids', 'int64', ['text_batch_size', 16]);
    graph.output('image_embeds', 'float32', ['batch_size', 3, 64, 64], graph.node('Identity', [pixels]));
    writeModel(join(dir, 'onnx', 'model.onnx'), graph);
    expect(() => loadOwlFolder(dir)).toThrow(/output logits is absent, expected float \[batch, patches, queries\]; output pred_boxes is absent/);
    expect(() => loadOwlFolder(join(root, 'nowhere'))).toThrow(UserError);
    expect(() => loadOwlFolder(join(root, 'nowhere'))).toThrow(/detector folder not found/);
  });

  it('rejects a tokenizer that pads to another length than the text model takes', () => {
    const dir = join(root, 'long-tokenizer');
    writeTinyOwlFolder(dir);
    const configPath = join(dir, 'tokenizer_config.json');
    writeFileSync(configPath, JSON.stringify({ ...JSON.parse(readFileSync(configPath, 'utf8')), model_max_length: 77 }));
    expect(() => loadOwlFolder(dir)).toThrow(/model_max_length is 77, but the text model takes 16 tokens/);
  });

  it('ensureTinyOwlFolder writes once and reuses', () => {
    const cache = join(root, 'cache');
    const first = ensureTinyOwlFolder(cache);
    expect(loadOwlFolder(first).modelType).toBe('owlvit');
    expect(ensureTinyOwlFolder(cache)).toBe(first);
  });
});

describe('detection on the tiny OWL-ViT', () => {
  let detector: OwlDetector;
  beforeAll(async () => {
    detector = await OwlDetector.load(loadOwlFolder(owlvitDir));
  });
  afterAll(async () => detector?.dispose());
  const queries = [
    { className: 'cat', text: 'a photo of a cat' },
    { className: 'dog', text: 'a photo of a dog' },
  ];

  it('finds one box per uniform patch with the score the model defines, in original pixels', async () => {
    const allRed = scene(128, 64, [[0, 0, 128, 64, RED]]);
    const { detections } = await detector.detect(allRed, queries, { threshold: 0.1, nmsIou: 0.3 });
    expect(Object.keys(detections)).toEqual(['cat']);
    expect(detections.cat).toHaveLength(16); // cells touch but do not overlap: NMS keeps all
    const expectedScore = uniformPatchScore(255, 0);
    for (const d of detections.cat) expect(d.score).toBeCloseTo(expectedScore, 5);
    const boxes = detections.cat.map((d) => `${d.box.x1},${d.box.y1},${d.box.x2},${d.box.y2}`).sort();
    const cells = Array.from({ length: 16 }, (_, p) => `${32 * (p % 4)},${16 * Math.floor(p / 4)},${32 * (p % 4) + 32},${16 * Math.floor(p / 4) + 16}`).sort();
    expect(boxes).toEqual(cells);
  });

  it('finds nothing on a grey image (the padding tokens are masked out)', async () => {
    const { detections } = await detector.detect(scene(128, 64, []), queries, { threshold: 0.1, nmsIou: 0.3 });
    expect(detections).toEqual({});
  });

  it('locates objects by colour and query', async () => {
    const image = scene(128, 64, [cell(1, 0, RED), cell(2, 3, BLUE)]);
    const { detections } = await detector.detect(image, queries, { threshold: 0.1, nmsIou: 0.3 });
    expect(detections.cat.map((d) => d.box)).toEqual([{ x1: 0, y1: 16, x2: 32, y2: 32 }]);
    expect(detections.dog.map((d) => d.box)).toEqual([{ x1: 96, y1: 32, x2: 128, y2: 48 }]);
  });

  it('runs a batch of images in one call (dynamic batch) with the same results as one by one', async () => {
    const a = scene(128, 64, [cell(0, 0, RED)]);
    const b = scene(128, 64, [cell(3, 2, BLUE), cell(0, 3, RED)]);
    const options = { threshold: 0.1, nmsIou: 0.3 };
    const batched = await detector.detectMany([a, b], queries, options);
    expect(batched.map((r) => r.detections)).toEqual([(await detector.detect(a, queries, options)).detections, (await detector.detect(b, queries, options)).detections]);
    expect(batched[1].detections.dog[0].box).toEqual({ x1: 64, y1: 48, x2: 96, y2: 64 });
  });
});

describe('scorer detector-geneval on the tiny OWL-ViT', () => {
  let scorer: Scorer;
  let records: Map<string, ScoreRecord>;
  const images: Record<string, RgbImage> = {
    'two-object': scene(128, 64, [cell(1, 0, RED), cell(2, 3, BLUE)]),
    'left-of': scene(128, 64, [cell(1, 0, RED), cell(1, 3, BLUE)]),
    'right-of': scene(128, 64, [cell(1, 3, RED), cell(1, 0, BLUE)]),
    'two-cats': scene(128, 64, [cell(0, 0, RED), cell(2, 2, RED)]),
    'three-cats': scene(128, 64, [cell(0, 0, RED), cell(2, 2, RED), cell(3, 0, RED)]),
    'no-bird': scene(128, 64, [cell(1, 0, RED)]),
    colours: scene(128, 64, [cell(1, 0, RED), cell(2, 3, BLUE)]),
  };
  const samples = [
    sample('two-object', 'a photo of a cat and a dog', TWO_OBJECT),
    sample('left-of', 'a photo of a cat left of a dog', CAT_LEFT_OF_DOG),
    sample('right-of', 'a photo of a cat left of a dog', CAT_LEFT_OF_DOG),
    sample('two-cats', 'a photo of two cats', TWO_CATS),
    sample('three-cats', 'a photo of two cats', TWO_CATS),
    sample('no-bird', 'a photo of a bird', { tag: 'single_object', include: [{ class: 'bird', count: 1 }] }),
    sample('colours', 'a photo of a red cat and a blue dog', { tag: 'color_attr', include: [{ class: 'cat', count: 1, color: 'red' }, { class: 'dog', count: 1, color: 'blue' }] }),
    sample('no-expectations', 'a lighthouse', {}),
  ];

  beforeAll(async () => {
    scorer = createDetectorGenevalScorer({ model: 'tiny-owlvit' }, { baseDir: root });
    const scored = await scorer.score(samples, contextFor(images));
    records = new Map(scored.map((r) => [r.sampleKey, r]));
  });
  afterAll(async () => scorer?.dispose?.());

  it('labels its metric and every record "GenEval rules with <detector>"', () => {
    expect(scorer.metrics.map((m) => m.name)).toEqual(['geneval_correct']);
    expect(scorer.metrics[0].description).toMatch(/^GenEval rules with tiny-owlvit/);
    for (const record of records.values()) {
      expect(record).toMatchObject({ scorer: 'detector-geneval', metric: 'geneval_correct' });
      expect((record.detail as { rules: string }).rules).toBe('GenEval rules with tiny-owlvit');
    }
  });

  it('skips samples without include clauses', () => {
    expect(records.has('no-expectations')).toBe(false);
    expect(records.size).toBe(7);
  });

  it('judges presence, position, count and exclusion end to end', () => {
    const outcome = (key: string) => [records.get(key)!.value, records.get(key)!.label];
    expect(outcome('two-object')).toEqual([1, 'correct']);
    expect(outcome('left-of')).toEqual([1, 'correct']);
    expect(outcome('right-of')).toEqual([0, 'wrong']);
    expect(outcome('two-cats')).toEqual([1, 'correct']);
    expect(outcome('three-cats')).toEqual([0, 'wrong']);
    expect(outcome('no-bird')).toEqual([0, 'wrong']);
    expect(outcome('colours')).toEqual([null, 'undetermined']);
  });

  it('records the tag, the failed clauses and the boxes', () => {
    const wrongWay = records.get('right-of')!.detail as Record<string, unknown>;
    expect(wrongWay.tag).toBe('position');
    expect(wrongWay.failed).toEqual(['expected cat left of target, found right of target']);
    expect(wrongWay.detections).toMatchObject({ cat: [{ box: { x1: 96, y1: 16, x2: 128, y2: 32 } }], dog: [{ box: { x1: 0, y1: 16, x2: 32, y2: 32 } }] });
    expect(wrongWay.queries).toEqual(['a photo of a dog', 'a photo of a cat']);
    expect((records.get('three-cats')!.detail as { failed: string[] }).failed).toEqual(['expected cat<3, found 3']);
    const colours = records.get('colours')!.detail as Record<string, unknown>;
    expect(colours.colour).toMatch(/^colour not checked/);
    expect(colours.uncheckedColours).toEqual(['red cat', 'blue dog']);
  });
});

describe('NMS on overlapping proposals', () => {
  it('merges two proposals of one object, so a single object does not count twice', async () => {
    const dir = join(root, 'overlapping');
    // patches 0 and 1 both propose (almost) the box over cells 0 and 1
    writeTinyOwlFolder(dir, { boxes: { 0: [0.25, 0.125, 0.5, 0.25], 1: [0.26, 0.125, 0.5, 0.25] } });
    const image = scene(128, 64, [[0, 0, 64, 16, RED]]);
    const twoCats = [sample('wide-cat', 'a photo of two cats', TWO_CATS)];
    const withNms = createDetectorGenevalScorer({ model: dir }, { baseDir: root });
    const withoutNms = createDetectorGenevalScorer({ model: dir, nms_iou: 1 }, { baseDir: root });
    try {
      const [merged] = await withNms.score(twoCats, contextFor({ 'wide-cat': image }));
      expect(merged).toMatchObject({ value: 0, detail: { failed: ['expected cat>=2, found 1'] } });
      expect((merged.detail as { detections: { cat: Array<{ box: unknown }> } }).detections.cat[0].box).toEqual({ x1: 0, y1: 0, x2: 64, y2: 16 });
      const [duplicated] = await withoutNms.score(twoCats, contextFor({ 'wide-cat': image }));
      expect(duplicated.value).toBe(1);
    } finally {
      await withNms.dispose?.();
      await withoutNms.dispose?.();
    }
  });
});

describe('tiny OWLv2 (padded square)', () => {
  it('maps boxes back through the padded square of a wide image', async () => {
    const dir = join(root, 'tiny-owlv2');
    writeTinyOwlFolder(dir, { modelType: 'owlv2' });
    const folder = loadOwlFolder(dir);
    expect(folder.preprocessing).toMatchObject({ modelType: 'owlv2', doPad: true, padValue: 0 });
    const detector = await OwlDetector.load(folder);
    try {
      // 128 × 64 pads to 128 × 128 and resizes to 64: grid cells are 32 × 32 of the original
      const image = scene(128, 64, [[32, 0, 32, 32, RED], [96, 32, 32, 32, BLUE]]);
      const { detections } = await detector.detect(
        image,
        [
          { className: 'cat', text: 'a photo of a cat' },
          { className: 'dog', text: 'a photo of a dog' },
        ],
        { threshold: 0.1, nmsIou: 0.3 },
      );
      expect(detections.cat.map((d) => d.box)).toEqual([{ x1: 32, y1: 0, x2: 64, y2: 32 }]);
      expect(detections.dog.map((d) => d.box)).toEqual([{ x1: 96, y1: 32, x2: 128, y2: 64 }]);
    } finally {
      await detector.dispose();
    }
  });
});

describe('registry', () => {
  it('lists detector-geneval and refuses unknown options with the option named', async () => {
    const registry = await loadScorerRegistry();
    expect(registry.has('detector-geneval')).toBe(true);
    expect(() => createDetectorGenevalScorer({ model: owlvitDir, treshold: 0.2 }, { baseDir: root })).toThrow(/options: Unrecognized key.*treshold/);
    expect(() => createDetectorGenevalScorer({ model: owlvitDir, query_template: 'a photo' }, { baseDir: root })).toThrow(/options\.query_template: must contain \{class\}/);
    expect(() => createDetectorGenevalScorer({}, { baseDir: root })).toThrow(/needs an OWL-ViT \/ OWLv2 folder/);
  });
});
