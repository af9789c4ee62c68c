import { describe, expect, it } from 'vitest';
import type { PromptExpectations } from '../../datasets/types.js';
import { judgeDetections, queryClasses, type DetectorRuleSettings } from '../../probes/detector/detector-scorer.js';
import { continuousIoU, decodeOwlOutputs, nonMaximumSuppression, type OwlRawOutputs } from '../../probes/detector/owl-detector.js';
import type { Box, Detection, DetectionsByClass } from '../../probes/geometry/geneval-rules.js';

const logit = (p: number) => Math.log(p / (1 - p));
const box = (x1: number, y1: number, x2: number, y2: number): Box => ({ x1, y1, x2, y2 });
const det = (score: number, b: Box): Detection => ({ score, box: b });

const SETTINGS: DetectorRuleSettings = { threshold: 0.1, countingThreshold: 0.1, maxObjects: 16, nmsIou: 0.3, positionThreshold: 0.1 };

describe('IoU and NMS', () => {
  it('computes continuous IoU', () => {
    expect(continuousIoU(box(0, 0, 10, 10), box(5, 0, 15, 10))).toBeCloseTo(50 / 150, 12);
    expect(continuousIoU(box(0, 0, 10, 10), box(10, 0, 20, 10))).toBe(0); // touching edges
    expect(continuousIoU(box(0, 0, 10, 10), box(0, 0, 10, 10))).toBe(1);
  });

  it('keeps the most confident of overlapping boxes and boxes at or below the IoU limit', () => {
    const a = det(0.9, box(0, 0, 10, 10));
    const overlapping = det(0.5, box(1, 0, 11, 10)); // IoU 90/110
    const atLimit = det(0.4, box(0, 5, 10, 20)); // IoU with a: 50/200 = 0.25
    const far = det(0.8, box(50, 50, 60, 60));
    expect(nonMaximumSuppression([overlapping, a, atLimit, far], 0.3)).toEqual([a, far, atLimit]);
    expect(nonMaximumSuppression([overlapping, a, atLimit, far], 0.25)).toEqual([a, far, atLimit]); // suppress only IoU > limit
    expect(nonMaximumSuppression([overlapping, a, atLimit, far], 0.2)).toEqual([a, far]);
    expect(nonMaximumSuppression([overlapping, a], 1)).toEqual([a, overlapping]); // NMS off
  });
});

describe('decoding OWL-ViT outputs', () => {
  // 1 image, 3 patches, 2 queries (cat, dog)
  const raw: OwlRawOutputs = {
    batch: 1,
    patches: 3,
    queries: 2,
    logits: Float32Array.from([logit(0.8), logit(0.3), logit(0.05), logit(0.6), logit(0.1), logit(0.09)]),
    predBoxes: Float32Array.from([0.25, 0.5, 0.5, 0.5, 0.9, 0.1, 0.4, 0.4, 0.5, 0.5, 1, 1]),
  };
  const queries = [
    { className: 'cat', text: 'a photo of a cat' },
    { className: 'dog', text: 'a photo of a dog' },
  ];

  it('labels each box with its best query, thresholds sigmoid scores strictly, scales and clips corners', () => {
    const found = decodeOwlOutputs(raw, 0, queries, { scaleX: 200, scaleY: 100, width: 200, height: 100 }, { threshold: 0.1, nmsIou: 0.3 });
    expect(Object.keys(found).sort()).toEqual(['cat', 'dog']);
    expect(found.cat).toHaveLength(1); // patch 0: cat 0.8 beats dog 0.3
    expect(found.cat[0].score).toBeCloseTo(0.8, 6);
    expect(found.cat[0].box).toEqual({ x1: 0, y1: 25, x2: 100, y2: 75 });
    // patch 1: dog 0.6; its box (0.9 ± 0.2) × 200 is clipped at the right edge
    expect(found.dog).toHaveLength(1);
    expect(found.dog[0].score).toBeCloseTo(0.6, 6);
    expect(found.dog[0].box.x1).toBeCloseTo(140, 4);
    expect(found.dog[0].box.x2).toBe(200);
    expect(found.dog[0].box.y1).toBe(0);
    expect(found.dog[0].box.y2).toBeCloseTo(30, 4);
    // patch 2: best is 0.1, not strictly above 0.1
  });

  it('uses the padded-square scale when told (OWLv2)', () => {
    const found = decodeOwlOutputs(raw, 0, queries, { scaleX: 200, scaleY: 200, width: 200, height: 100 }, { threshold: 0.5, nmsIou: 0.3 });
    expect(found.cat[0].box).toEqual({ x1: 0, y1: 50, x2: 100, y2: 100 }); // 0.75 × 200 = 150 clipped to 100
  });

  it('refuses logits for a different number of queries', () => {
    expect(() => decodeOwlOutputs(raw, 0, queries.slice(0, 1), { scaleX: 1, scaleY: 1, width: 1, height: 1 }, { threshold: 0, nmsIou: 1 })).toThrow(/2 queries, 1 were sent/);
  });
});

describe('GenEval rules on detector boxes', () => {
  const single: PromptExpectations = { tag: 'single_object', include: [{ class: 'cat', count: 1 }] };

  it('queries every class of include and exclude clauses once', () => {
    expect(queryClasses({ include: [{ class: 'cat', count: 2 }, { class: 'dog' }], exclude: [{ class: 'cat', count: 3 }] })).toEqual(['cat', 'dog']);
  });

  it('presence: correct with a detection above the threshold, wrong without', () => {
    expect(judgeDetections(single, { cat: [det(0.5, box(0, 0, 10, 10))] }, SETTINGS).outcome).toBe('correct');
    const below = judgeDetections(single, { cat: [det(0.1, box(0, 0, 10, 10))] }, SETTINGS);
    expect(below.outcome).toBe('wrong');
    expect(below.reasons).toEqual(['expected cat>=1, found 0']);
    expect(judgeDetections(single, { dog: [det(0.9, box(0, 0, 10, 10))] }, SETTINGS).outcome).toBe('wrong');
  });

  it('count with exclude: exactly N (GenEval counting prompts are include N + exclude N+1)', () => {
    const counting: PromptExpectations = { tag: 'counting', include: [{ class: 'cat', count: 2 }], exclude: [{ class: 'cat', count: 3 }] };
    const cats = (n: number): DetectionsByClass => ({ cat: Array.from({ length: n }, (_, i) => det(0.5, box(20 * i, 0, 20 * i + 10, 10))) });
    expect(judgeDetections(counting, cats(1), SETTINGS)).toMatchObject({ outcome: 'wrong', reasons: ['expected cat>=2, found 1'] });
    expect(judgeDetections(counting, cats(2), SETTINGS).outcome).toBe('correct');
    expect(judgeDetections(counting, cats(3), SETTINGS)).toMatchObject({ outcome: 'wrong', reasons: ['expected cat<3, found 3'] });
  });

  it('uses the counting threshold for prompts tagged counting only', () => {
    const settings = { ...SETTINGS, countingThreshold: 0.6 };
    const found = { cat: [det(0.9, box(0, 0, 10, 10)), det(0.5, box(20, 0, 30, 10))] };
    const counting: PromptExpectations = { tag: 'counting', include: [{ class: 'cat', count: 2 }], exclude: [{ class: 'cat', count: 3 }] };
    expect(judgeDetections(counting, found, settings).outcome).toBe('wrong');
    expect(judgeDetections({ ...counting, tag: 'two_object' }, found, settings).outcome).toBe('correct');
  });

  it('keeps at most max_objects per class, most confident first', () => {
    const many = { cat: Array.from({ length: 5 }, (_, i) => det(0.2 + 0.1 * i, box(20 * i, 0, 20 * i + 10, 10))) };
    const verdict = judgeDetections({ include: [{ class: 'cat', count: 1 }], exclude: [{ class: 'cat', count: 4 }] }, many, { ...SETTINGS, maxObjects: 3 });
    expect(verdict.selected.cat.map((d) => d.score)).toEqual([0.6, 0.5, 0.4].map((s) => expect.closeTo(s, 12)));
    expect(verdict.outcome).toBe('correct'); // 3 kept < 4
  });

  describe('position', () => {
    // "a photo of a cat left of a dog": GenEval puts the reference first
    const leftOf: PromptExpectations = { tag: 'position', include: [{ class: 'dog', count: 1 }, { class: 'cat', count: 1, position: ['left of', 0] }] };
    const dogAt = (b: Box) => ({ dog: [det(0.9, b)] });

    it('is correct when the subject is clearly left of the reference', () => {
      expect(judgeDetections(leftOf, { ...dogAt(box(100, 0, 120, 20)), cat: [det(0.9, box(0, 0, 20, 20))] }, SETTINGS).outcome).toBe('correct');
    });

    it('is wrong the other way round, with the relation found', () => {
      const verdict = judgeDetections(leftOf, { ...dogAt(box(0, 0, 20, 20)), cat: [det(0.9, box(100, 0, 120, 20))] }, SETTINGS);
      expect(verdict.outcome).toBe('wrong');
      expect(verdict.clauses[1]).toMatchObject({ passed: false, found: ['right of'] });
    });

    it('finds no relation inside the dead zone of 0.1 × the summed sizes', () => {
      // centres 3 apart on x; dead zone 0.1 × (20 + 20) = 4 → shrunk offset 0 → no relation
      const verdict = judgeDetections(leftOf, { ...dogAt(box(3, 0, 23, 20)), cat: [det(0.9, box(0, 0, 20, 20))] }, SETTINGS);
      expect(verdict.outcome).toBe('wrong');
      expect(verdict.clauses[1].found).toEqual([]);
      // 5 apart: shrunk 1, normalised by the unshrunk 5 → 0.2 < 0.5 → still no relation
      expect(judgeDetections(leftOf, { ...dogAt(box(5, 0, 25, 20)), cat: [det(0.9, box(0, 0, 20, 20))] }, SETTINGS).clauses[1].found).toEqual([]);
      // 10 apart: shrunk 6 / 10 = 0.6 > 0.5 → left of
      expect(judgeDetections(leftOf, { ...dogAt(box(10, 0, 30, 20)), cat: [det(0.9, box(0, 0, 20, 20))] }, SETTINGS).outcome).toBe('correct');
    });

    it('accepts a diagonal placement that gives two relations', () => {
      const verdict = judgeDetections(leftOf, { ...dogAt(box(100, 100, 120, 120)), cat: [det(0.9, box(0, 0, 20, 20))] }, SETTINGS);
      expect(verdict.outcome).toBe('correct');
    });

    it('fails the position clause when its reference object is missing', () => {
      const verdict = judgeDetections(leftOf, { cat: [det(0.9, box(0, 0, 20, 20))] }, SETTINGS);
      expect(verdict.reasons).toEqual(['expected dog>=1, found 0', 'no target for cat to be left of']);
    });
  });

  describe('colour (not checked)', () => {
    const colours: PromptExpectations = { tag: 'color_attr', include: [{ class: 'cat', count: 1, color: 'red' }, { class: 'dog', count: 1, color: 'blue' }] };

    it('is undetermined when everything but colour holds', () => {
      const verdict = judgeDetections(colours, { cat: [det(0.9, box(0, 0, 10, 10))], dog: [det(0.9, box(20, 0, 30, 10))] }, SETTINGS);
      expect(verdict.outcome).toBe('undetermined');
      expect(verdict.uncheckedColours).toEqual(['red cat', 'blue dog']);
      expect(verdict.clauses[0].clause.color).toBe('red'); // reported as asked
    });

    it('is wrong when a requirement other than colour already fails', () => {
      expect(judgeDetections(colours, { cat: [det(0.9, box(0, 0, 10, 10))] }, SETTINGS).outcome).toBe('wrong');
    });
  });
});
