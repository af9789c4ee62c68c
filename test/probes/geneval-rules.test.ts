import { describe, expect, it } from 'vitest';
import type { PromptExpectations } from '../../datasets/types.js';
import {
  boxIoU,
  detectionsNeedingColour,
  evaluateGenEval,
  relativePosition,
  selectDetections,
  type Box,
  type Detection,
} from '../../probes/geometry/geneval-rules.js';

const box = (x1: number, y1: number, x2: number, y2: number): Box => ({ x1, y1, x2, y2 });
const det = (b: Box, score = 0.95, color?: string): Detection => ({ box: b, score, ...(color ? { color } : {}) });

describe('GenEval position rule', () => {
  // Worked by hand: offset d = centre(A) − centre(B); shrink each axis by 0.1·(size_A + size_B); divide by ‖d‖.
  it('a clear horizontal offset: d = (−20, 0), shrunk (−18, 0), /20 → dx = −0.9 → left of', () => {
    expect(relativePosition(box(0, 0, 10, 10), box(20, 0, 30, 10))).toEqual(['left of']);
    expect(relativePosition(box(20, 0, 30, 10), box(0, 0, 10, 10))).toEqual(['right of']);
  });

  it('vertical: y grows downward, so a smaller centre y is "above"', () => {
    expect(relativePosition(box(0, 0, 10, 10), box(0, 30, 10, 40))).toEqual(['above']);
    expect(relativePosition(box(0, 30, 10, 40), box(0, 0, 10, 10))).toEqual(['below']);
  });

  it('dead zone: |d| = 1 < 0.1·(10 + 10) = 2 on x and 0 on y → no relation', () => {
    expect(relativePosition(box(0, 0, 10, 10), box(1, 0, 11, 10))).toEqual([]);
    // identical boxes: d = 0
    expect(relativePosition(box(5, 5, 15, 15), box(5, 5, 15, 15))).toEqual([]);
  });

  it('direction cut is strict: |d| = 4 gives (4 − 2)/4 = 0.5 (not > 0.5); |d| = 4.1 gives 0.512', () => {
    expect(relativePosition(box(0, 0, 10, 10), box(4, 0, 14, 10))).toEqual([]);
    expect(relativePosition(box(0, 0, 10, 10), box(4.1, 0, 14.1, 10))).toEqual(['left of']);
    // just outside the dead zone but inside the cut: |d| = 2.5 → 0.5/2.5 = 0.2
    expect(relativePosition(box(0, 0, 10, 10), box(2.5, 0, 12.5, 10))).toEqual([]);
  });

  it('two relations on a diagonal: d = (−40, −40), shrunk (−38, −38), /56.57 → (−0.672, −0.672)', () => {
    expect(relativePosition(box(0, 0, 10, 10), box(40, 40, 50, 50))).toEqual(['left of', 'above']);
    expect(relativePosition(box(40, 40, 50, 50), box(0, 0, 10, 10))).toEqual(['right of', 'below']);
  });

  it('one of two axes: d = (−40, −20), shrunk (−38, −18), /44.72 → (−0.850, −0.402) → left of only', () => {
    expect(relativePosition(box(0, 0, 10, 10), box(40, 20, 50, 30))).toEqual(['left of']);
  });

  it('sizes are per axis: A 100×20 at (50,10), B 20×20 at (10,60): shrunk (40−12, −(50−4)) /64.03 → (0.437, −0.718) → above', () => {
    expect(relativePosition(box(0, 0, 100, 20), box(0, 50, 20, 70))).toEqual(['above']);
  });

  it('a larger threshold widens the dead zone', () => {
    // |d| = 20, sizes 10 + 10: threshold 0.1 → 18/20 = 0.9; threshold 0.6 → (20 − 12)/20 = 0.4
    expect(relativePosition(box(0, 0, 10, 10), box(20, 0, 30, 10), 0.6)).toEqual([]);
  });
});

describe('GenEval detection selection', () => {
  it('score strictly above 0.3 (0.9 for counting), most confident first, at most 16', () => {
    const raw = { cup: [det(box(0, 0, 1, 1), 0.3), det(box(0, 0, 2, 2), 0.5), det(box(0, 0, 3, 3), 0.95), det(box(0, 0, 4, 4), 0.9)] };
    expect(selectDetections(raw, 'position').cup.map((d) => d.score)).toEqual([0.95, 0.9, 0.5]);
    expect(selectDetections(raw, 'counting').cup.map((d) => d.score)).toEqual([0.95]);
    const many = { dog: Array.from({ length: 20 }, (_, i) => det(box(i, 0, i + 1, 1), 0.5 + i / 100)) };
    expect(selectDetections(many, undefined).dog).toHaveLength(16);
    expect(selectDetections({ cat: [det(box(0, 0, 1, 1), 0.1)] }, undefined)).toEqual({});
  });

  it('NMS only when max_overlap < 1; IoU uses inclusive pixels', () => {
    // boxes 0..9 and 1..10: intersection 9×10 = 90 inclusive pixels, union 100 + 100 − 90 = 110
    expect(boxIoU(box(0, 0, 9, 9), box(1, 0, 10, 9))).toBeCloseTo(90 / 110, 12);
    const raw = { cup: [det(box(0, 0, 9, 9), 0.9), det(box(1, 0, 10, 9), 0.8), det(box(50, 50, 60, 60), 0.7)] };
    expect(selectDetections(raw, undefined).cup).toHaveLength(3);
    expect(selectDetections(raw, undefined, { maxOverlap: 0.5 }).cup.map((d) => d.score)).toEqual([0.9, 0.7]);
  });
});

describe('GenEval clause checks', () => {
  const position: PromptExpectations = {
    tag: 'position',
    include: [
      { class: 'teddy bear', count: 1 },
      { class: 'dog', count: 1, position: ['right of', 0] },
    ],
  };

  it('position: correct when the dog is right of the bear, wrong with the reason otherwise', () => {
    const bear = det(box(0, 0, 100, 100));
    expect(evaluateGenEval(position, { 'teddy bear': [bear], dog: [det(box(300, 0, 400, 100))] }).correct).toBe(true);
    const wrong = evaluateGenEval(position, { 'teddy bear': [bear], dog: [det(box(0, 300, 100, 400))] });
    expect(wrong.correct).toBe(false);
    expect(wrong.reasons).toEqual(['expected dog right of target, found below target']);
    expect(wrong.clauses[1].found).toEqual(['below']);
  });

  it('position: a diagonal that also satisfies the expected relation passes (two-relation case)', () => {
    const result = evaluateGenEval(position, { 'teddy bear': [det(box(0, 0, 100, 100))], dog: [det(box(300, 300, 400, 400))] });
    expect(result.correct).toBe(true);
  });

  it('presence: a missing object fails the clause and the position that refers to it', () => {
    const noBear = evaluateGenEval(position, { dog: [det(box(0, 0, 10, 10))] });
    expect(noBear.correct).toBe(false);
    expect(noBear.reasons).toEqual(['expected teddy bear>=1, found 0', 'no target for dog to be right of']);
    expect(evaluateGenEval(position, { 'teddy bear': [det(box(0, 0, 10, 10))] }).reasons).toEqual(['expected dog>=1, found 0']);
  });

  it('position uses only the most confident detection of each clause', () => {
    // the second (less confident) bear is to the right of the dog, but only the first counts
    const result = evaluateGenEval(position, {
      'teddy bear': [det(box(0, 0, 100, 100), 0.9), det(box(600, 0, 700, 100), 0.8)],
      dog: [det(box(300, 0, 400, 100))],
    });
    expect(result.correct).toBe(true);
  });

  it('counting: include N and exclude N + 1 mean exactly N', () => {
    const counting: PromptExpectations = { tag: 'counting', include: [{ class: 'clock', count: 2 }], exclude: [{ class: 'clock', count: 3 }] };
    const clocks = (n: number) => ({ clock: Array.from({ length: n }, (_, i) => det(box(i * 20, 0, i * 20 + 10, 10))) });
    expect(evaluateGenEval(counting, clocks(2)).correct).toBe(true);
    expect(evaluateGenEval(counting, clocks(1)).reasons).toEqual(['expected clock>=2, found 1']);
    expect(evaluateGenEval(counting, clocks(3)).reasons).toEqual(['expected clock<3, found 3']);
  });

  it('colour: counted among the top-count detections only', () => {
    const colors: PromptExpectations = { tag: 'colors', include: [{ class: 'car', count: 1, color: 'red' }] };
    expect(evaluateGenEval(colors, { car: [det(box(0, 0, 1, 1), 0.9, 'red')] }).correct).toBe(true);
    const blueFirst = evaluateGenEval(colors, { car: [det(box(0, 0, 1, 1), 0.9, 'blue'), det(box(5, 5, 6, 6), 0.8, 'red')] });
    expect(blueFirst.correct).toBe(false);
    expect(blueFirst.reasons).toEqual(['expected red car>=1, found 0 red; and 1 blue']);
    expect(detectionsNeedingColour(colors, { car: [det(box(0, 0, 1, 1)), det(box(5, 5, 6, 6))] })[0].detections).toHaveLength(1);
    expect(() => evaluateGenEval(colors, { car: [det(box(0, 0, 1, 1))] })).toThrow(/need a color/);
  });

  it('a failed colour skips the position check and leaves no target for later clauses', () => {
    const expectations: PromptExpectations = {
      include: [
        { class: 'cube', count: 1, color: 'blue' },
        { class: 'sphere', count: 1, color: 'red', position: ['above', 0] },
      ],
    };
    const result = evaluateGenEval(expectations, {
      cube: [det(box(0, 100, 50, 150), 0.9, 'green')],
      sphere: [det(box(0, 0, 50, 50), 0.9, 'red')],
    });
    expect(result.reasons).toEqual(['expected blue cube>=1, found 0 blue; and 1 green', 'no target for sphere to be above']);
  });

  it('every pair must hold when a clause asks for several objects', () => {
    const expectations: PromptExpectations = {
      include: [
        { class: 'table', count: 1 },
        { class: 'cup', count: 2, position: ['above', 0] },
      ],
    };
    const table = det(box(0, 200, 300, 300));
    expect(evaluateGenEval(expectations, { table: [table], cup: [det(box(0, 0, 50, 50)), det(box(200, 0, 250, 50))] }).correct).toBe(true);
    expect(evaluateGenEval(expectations, { table: [table], cup: [det(box(0, 0, 50, 50)), det(box(0, 400, 50, 450))] }).correct).toBe(false);
  });
});
