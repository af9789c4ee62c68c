/**
 * GenEval's decision rules (djghosh13/geneval `evaluation/evaluate_images.py`), as pure functions over
 * boxes and labelled detections, so any detector (or the colour segmentation of the colour-geometry
 * probe) can feed them. Results computed with a detector other than GenEval's Mask2Former must be
 * labelled "GenEval rules with <detector>", never "GenEval".
 *
 * Coordinates: origin top-left, x right, y down; boxes are corners {x1, y1, x2, y2}.
 */
import type { ObjectClause, PromptExpectations, Relation } from '../../datasets/types.js';

export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** One detected object of a class. `color` is needed only for clauses that ask for a colour. */
export interface Detection {
  box: Box;
  score: number;
  color?: string;
}

/** Detections per class name, as GenEval keeps them: most confident first. */
export type DetectionsByClass = Record<string, Detection[]>;

/** GenEval's defaults (its `--options` keys in brackets). */
export const GENEVAL_DEFAULTS = {
  /** keep detections scoring above this [threshold] */
  threshold: 0.3,
  /** … or above this for prompts tagged `counting` [counting_threshold] */
  countingThreshold: 0.9,
  /** at most this many per class [max_objects] */
  maxObjects: 16,
  /** class-wise NMS IoU; 1 switches NMS off [max_overlap] */
  maxOverlap: 1.0,
  /** dead zone per axis, as a fraction of the two objects' summed size on that axis [position_threshold] */
  positionThreshold: 0.1,
} as const;

export type GenEvalOptions = { -readonly [K in keyof typeof GENEVAL_DEFAULTS]: number };

/** the direction cut: a shrunk, normalised offset component must exceed this */
const DIRECTION_CUT = 0.5;
/** below this every shrunk component counts as zero: no relation */
const ZERO_OFFSET = 1e-3;

export function boxCentre(box: Box): { x: number; y: number } {
  return { x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 };
}

/**
 * Relations of A relative to B by GenEval's rule: offset d = centre(A) − centre(B); each component is
 * shrunk toward zero by `positionThreshold` × (size of A + size of B) on that axis (clipped at zero, sign
 * kept); if both shrunk components are ~0 there is no relation; otherwise the shrunk vector is divided by
 * the *unshrunk* length ‖d‖ and each component beyond ±0.5 names a relation. A diagonal offset can give
 * two relations (e.g. left of and above). Sizes are x2 − x1 and y2 − y1, as in GenEval.
 */
export function relativePosition(a: Box, b: Box, positionThreshold: number = GENEVAL_DEFAULTS.positionThreshold): Relation[] {
  const ca = boxCentre(a);
  const cb = boxCentre(b);
  const offset = [ca.x - cb.x, ca.y - cb.y];
  const sizeSum = [Math.abs(a.x2 - a.x1) + Math.abs(b.x2 - b.x1), Math.abs(a.y2 - a.y1) + Math.abs(b.y2 - b.y1)];
  const shrunk = offset.map((d, axis) => Math.max(Math.abs(d) - positionThreshold * sizeSum[axis], 0) * Math.sign(d));
  if (shrunk.every((s) => Math.abs(s) < ZERO_OFFSET)) return [];
  const length = Math.hypot(offset[0], offset[1]);
  const [dx, dy] = shrunk.map((s) => s / length);
  const relations: Relation[] = [];
  if (dx < -DIRECTION_CUT) relations.push('left of');
  if (dx > DIRECTION_CUT) relations.push('right of');
  if (dy < -DIRECTION_CUT) relations.push('above');
  if (dy > DIRECTION_CUT) relations.push('below');
  return relations;
}

/** IoU with GenEval's inclusive pixel convention (width = x2 − x1 + 1), used only by its optional NMS. */
export function boxIoU(a: Box, b: Box): number {
  const area = (x1: number, y1: number, x2: number, y2: number) => Math.max(x2 - x1 + 1, 0) * Math.max(y2 - y1 + 1, 0);
  const intersection = area(Math.max(a.x1, b.x1), Math.max(a.y1, b.y1), Math.min(a.x2, b.x2), Math.min(a.y2, b.y2));
  const union = area(a.x1, a.y1, a.x2, a.y2) + area(b.x1, b.y1, b.x2, b.y2) - intersection;
  return union ? intersection / union : 0;
}

/**
 * Which raw detections GenEval keeps: per class, score strictly above the threshold (the counting
 * threshold for `counting` prompts), most confident first, at most `maxObjects`, then greedy NMS at
 * `maxOverlap` (off at 1). Classes left empty are dropped.
 */
export function selectDetections(raw: DetectionsByClass, tag: string | undefined, options: Partial<GenEvalOptions> = {}): DetectionsByClass {
  const o = { ...GENEVAL_DEFAULTS, ...options };
  const threshold = tag === 'counting' ? o.countingThreshold : o.threshold;
  const kept: DetectionsByClass = {};
  for (const [className, detections] of Object.entries(raw)) {
    let queue = detections
      .filter((d) => d.score > threshold)
      .sort((p, q) => q.score - p.score)
      .slice(0, o.maxObjects);
    const chosen: Detection[] = [];
    while (queue.length) {
      const [best, ...rest] = queue;
      chosen.push(best);
      queue = o.maxOverlap === 1 ? rest : rest.filter((d) => boxIoU(best.box, d.box) < o.maxOverlap);
    }
    if (chosen.length) kept[className] = chosen;
  }
  return kept;
}

export interface ClauseResult {
  kind: 'include' | 'exclude';
  index: number;
  clause: ObjectClause;
  passed: boolean;
  /** why it failed, in GenEval's terms */
  reason?: string;
  /** include clauses: the relations found for the first failing pair (position clauses) */
  found?: Relation[];
}

export interface GenEvalResult {
  correct: boolean;
  clauses: ClauseResult[];
  reasons: string[];
}

/**
 * For each include clause with a colour, the detections whose colour must be known (its top `count`),
 * so the caller can classify exactly those (GenEval uses CLIP on masked crops) before `evaluateGenEval`.
 */
export function detectionsNeedingColour(expectations: PromptExpectations, detected: DetectionsByClass): Array<{ className: string; detections: Detection[] }> {
  return (expectations.include ?? [])
    .filter((clause) => clause.color !== undefined)
    .map((clause) => ({ className: clause.class, detections: (detected[clause.class] ?? []).slice(0, clause.count ?? 1) }));
}

/**
 * GenEval's verdict for one image: every include clause must find its top-`count` detections, with the
 * colour on at least `count` of them, and (for a position clause) the expected relation between every
 * one of them and every object of the referenced clause, which must itself have passed; every exclude
 * clause must find fewer than `count`. Colour and position are checked only on the most confident
 * `count` detections; a clause whose colour fails is not checked for position. `detected` must already
 * be selected (see `selectDetections`), most confident first.
 */
export function evaluateGenEval(
  expectations: PromptExpectations,
  detected: DetectionsByClass,
  options: { positionThreshold?: number } = {},
): GenEvalResult {
  const positionThreshold = options.positionThreshold ?? GENEVAL_DEFAULTS.positionThreshold;
  const clauses: ClauseResult[] = [];
  const matchedGroups: Array<Detection[] | null> = [];
  (expectations.include ?? []).forEach((clause, index) => {
    const count = clause.count ?? 1;
    const found = (detected[clause.class] ?? []).slice(0, count);
    const result: ClauseResult = { kind: 'include', index, clause, passed: true };
    if (found.length < count) {
      Object.assign(result, { passed: false, reason: `expected ${clause.class}>=${count}, found ${found.length}` });
    } else {
      if (clause.color !== undefined) {
        const missing = found.filter((d) => d.color === undefined);
        if (missing.length) throw new Error(`evaluateGenEval: ${clause.class} detections need a color (see detectionsNeedingColour)`);
        const matching = found.filter((d) => d.color === clause.color).length;
        if (matching < count) {
          const seen = [...new Set(found.map((d) => d.color))].map((c) => `${found.filter((d) => d.color === c).length} ${c}`);
          Object.assign(result, { passed: false, reason: `expected ${clause.color} ${clause.class}>=${count}, found ${matching} ${clause.color}; and ${seen.join(', ')}` });
        }
      }
      if (clause.position && result.passed) {
        const [relation, target] = clause.position;
        const targets = matchedGroups[target];
        if (!targets) {
          Object.assign(result, { passed: false, reason: `no target for ${clause.class} to be ${relation}` });
        } else {
          outer: for (const object of found) {
            for (const targetObject of targets) {
              const relations = relativePosition(object.box, targetObject.box, positionThreshold);
              if (!relations.includes(relation)) {
                Object.assign(result, {
                  passed: false,
                  found: relations,
                  reason: `expected ${clause.class} ${relation} target, found ${relations.join(' and ') || 'no relation to'} target`,
                });
                break outer;
              }
            }
          }
        }
      }
    }
    matchedGroups.push(result.passed ? found : null);
    clauses.push(result);
  });
  (expectations.exclude ?? []).forEach((clause, index) => {
    const count = clause.count ?? 1;
    const n = (detected[clause.class] ?? []).length;
    clauses.push(
      n >= count
        ? { kind: 'exclude', index, clause, passed: false, reason: `expected ${clause.class}<${count}, found ${n}` }
        : { kind: 'exclude', index, clause, passed: true },
    );
  });
  const reasons = clauses.flatMap((c) => (c.reason ? [c.reason] : []));
  return { correct: clauses.every((c) => c.passed), clauses, reasons };
}
