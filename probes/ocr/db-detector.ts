/**
 * Pre- and post-processing of PaddleOCR's DB (differentiable binarisation) text detector, following
 * PaddleOCR's `DetResizeForTest` (limit type "max"), `NormalizeImage` and `DBPostProcess` (quad boxes,
 * "fast" box score) and `filter_tag_det_res`:
 *
 * 1. resize so that the longer side is at most `limitSideLen` (never enlarged), each side rounded to a
 *    multiple of 32 (at least 32);
 * 2. scale to [0, 1], subtract the ImageNet mean and divide by its std, per channel in B, G, R order
 *    (PaddleOCR reads images with OpenCV, so its models see BGR);
 * 3. threshold the probability map at `threshold`; each 8-connected region gives its minimum-area
 *    rectangle; regions whose short side is under 3 map pixels, or whose mean probability inside the
 *    rectangle is under `boxThreshold`, are dropped;
 * 4. "unclip": grow the rectangle on every side by area · unclipRatio / perimeter (what a round-joined
 *    polygon offset followed by a minimum-area rectangle gives for a rectangle), drop it when its short
 *    side is under 5, and scale it back to image coordinates (rounded, clipped to the image);
 * 5. drop boxes 3 pixels wide or high or less.
 *
 * The difference from OpenCV: regions are 8-connected components of the thresholded map rather than
 * `findContours` outlines (holes inside a region never make boxes of their own).
 */
import type { RgbImage } from '../../pipelines/image/png.js';
import { resizeBilinear, type Point, type Quad } from './image-ops.js';

export interface DetectorOptions {
  /** longer side limit of the detector input (PaddleOCR `det_limit_side_len`, default 960) */
  limitSideLen: number;
  /** probability threshold of the binary map (`det_db_thresh`, default 0.3) */
  threshold: number;
  /** minimum mean probability inside a box (`det_db_box_thresh`, default 0.6) */
  boxThreshold: number;
  /** box growth (`det_db_unclip_ratio`, default 1.5) */
  unclipRatio: number;
  /** at most this many regions are considered, in scan order (`max_candidates`, default 1000) */
  maxCandidates: number;
}

export const DEFAULT_DETECTOR_OPTIONS: DetectorOptions = {
  limitSideLen: 960,
  threshold: 0.3,
  boxThreshold: 0.6,
  unclipRatio: 1.5,
  maxCandidates: 1000,
};

const MIN_SIZE = 3;
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/** Detector input size for an image (step 1). */
export function detectorInputSize(width: number, height: number, limitSideLen: number): { width: number; height: number } {
  const ratio = Math.max(width, height) > limitSideLen ? limitSideLen / Math.max(width, height) : 1;
  const side = (length: number) => Math.max(Math.round(Math.trunc(length * ratio) / 32) * 32, 32);
  return { width: side(width), height: side(height) };
}

/** Steps 1–2: the [1, 3, H, W] detector input. */
export function detectorInput(image: RgbImage, limitSideLen: number): { data: Float32Array; dims: [1, 3, number, number] } {
  const size = detectorInputSize(image.width, image.height, limitSideLen);
  const resized = resizeBilinear(image, size.width, size.height);
  const plane = size.width * size.height;
  const data = new Float32Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let channel = 0; channel < 3; channel++) {
      // channel 0 is blue: RGB index 2 − channel
      const value = resized.data[p * 3 + (2 - channel)] / 255;
      data[channel * plane + p] = (value - IMAGENET_MEAN[channel]) / IMAGENET_STD[channel];
    }
  }
  return { data, dims: [1, 3, size.height, size.width] };
}

export interface DetectedBox {
  quad: Quad;
  /** mean probability inside the box before unclipping */
  score: number;
}

export interface RotatedRect {
  centre: Point;
  /** unit vector along the first side */
  axis: Point;
  /** side lengths along `axis` and along its normal */
  size: [number, number];
}

/** Andrew's monotone chain; returns the hull counter-clockwise (in y-down coordinates: clockwise on screen). */
export function convexHull(points: readonly Point[]): Point[] {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const unique = sorted.filter((p, i) => i === 0 || p[0] !== sorted[i - 1][0] || p[1] !== sorted[i - 1][1]);
  if (unique.length < 3) return unique;
  const cross = (o: Point, a: Point, b: Point) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const p of unique) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = unique.length - 1; i >= 0; i--) {
    const p = unique[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/** Minimum-area enclosing rectangle of a point set (rotating calipers over the hull's edges). */
export function minAreaRect(points: readonly Point[]): RotatedRect {
  const hull = convexHull(points);
  if (hull.length === 0) throw new Error('minAreaRect: no points');
  if (hull.length === 1) return { centre: hull[0], axis: [1, 0], size: [0, 0] };
  let best: RotatedRect | null = null;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i];
    const b = hull[(i + 1) % hull.length];
    const length = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (length === 0) continue;
    const ux = (b[0] - a[0]) / length;
    const uy = (b[1] - a[1]) / length;
    let minU = Infinity;
    let maxU = -Infinity;
    let minV = Infinity;
    let maxV = -Infinity;
    for (const [x, y] of hull) {
      const u = x * ux + y * uy;
      const v = -x * uy + y * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea - 1e-9) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = { centre: [cu * ux - cv * uy, cu * uy + cv * ux], axis: [ux, uy], size: [maxU - minU, maxV - minV] };
    }
  }
  return best!;
}

/** The rectangle's corners in PaddleOCR's `get_mini_boxes` order: top-left, top-right, bottom-right, bottom-left. */
export function rectCorners(rect: RotatedRect): Quad {
  const [cx, cy] = rect.centre;
  const [ux, uy] = rect.axis;
  const [hw, hh] = [rect.size[0] / 2, rect.size[1] / 2];
  const corners: Point[] = [
    [cx - ux * hw + uy * hh, cy - uy * hw - ux * hh],
    [cx + ux * hw + uy * hh, cy + uy * hw - ux * hh],
    [cx + ux * hw - uy * hh, cy + uy * hw + ux * hh],
    [cx - ux * hw - uy * hh, cy - uy * hw + ux * hh],
  ];
  const byX = corners.sort((a, b) => a[0] - b[0]);
  const [topLeft, bottomLeft] = byX[1][1] > byX[0][1] ? [byX[0], byX[1]] : [byX[1], byX[0]];
  const [topRight, bottomRight] = byX[3][1] > byX[2][1] ? [byX[2], byX[3]] : [byX[3], byX[2]];
  return [topLeft, topRight, bottomRight, bottomLeft];
}

function polygonArea(quad: readonly Point[]): number {
  let twice = 0;
  for (let i = 0; i < quad.length; i++) {
    const [x1, y1] = quad[i];
    const [x2, y2] = quad[(i + 1) % quad.length];
    twice += x1 * y2 - x2 * y1;
  }
  return Math.abs(twice) / 2;
}

function polygonPerimeter(quad: readonly Point[]): number {
  let total = 0;
  for (let i = 0; i < quad.length; i++) {
    const [x1, y1] = quad[i];
    const [x2, y2] = quad[(i + 1) % quad.length];
    total += Math.hypot(x2 - x1, y2 - y1);
  }
  return total;
}

/** Whether integer point (x, y) lies inside or on the convex quad. */
function insideConvex(quad: readonly Point[], x: number, y: number): boolean {
  let sign = 0;
  for (let i = 0; i < quad.length; i++) {
    const [x1, y1] = quad[i];
    const [x2, y2] = quad[(i + 1) % quad.length];
    const cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1);
    if (Math.abs(cross) < 1e-9) continue;
    const s = cross > 0 ? 1 : -1;
    if (sign === 0) sign = s;
    else if (s !== sign) return false;
  }
  return true;
}

/** PaddleOCR's "fast" box score: mean probability over the map pixels inside the (integer-truncated) quad. */
export function boxScore(probability: Float32Array, width: number, height: number, quad: Quad): number {
  const xs = quad.map((p) => p[0]);
  const ys = quad.map((p) => p[1]);
  const clampX = (v: number) => Math.min(width - 1, Math.max(0, v));
  const clampY = (v: number) => Math.min(height - 1, Math.max(0, v));
  const xMin = clampX(Math.floor(Math.min(...xs)));
  const xMax = clampX(Math.ceil(Math.max(...xs)));
  const yMin = clampY(Math.floor(Math.min(...ys)));
  const yMax = clampY(Math.ceil(Math.max(...ys)));
  const integerQuad = quad.map(([x, y]) => [Math.trunc(x), Math.trunc(y)] as Point);
  let sum = 0;
  let count = 0;
  for (let y = yMin; y <= yMax; y++) {
    for (let x = xMin; x <= xMax; x++) {
      if (!insideConvex(integerQuad, x, y)) continue;
      sum += probability[y * width + x];
      count++;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/**
 * 8-connected regions of `mask`, as the leftmost and rightmost pixel centre of each of their rows
 * (enough for the convex hull), in scan order of their first pixel.
 */
export function regionOutlines(mask: Uint8Array, width: number, height: number): Point[][] {
  const labels = new Int32Array(width * height).fill(-1);
  const outlines: Point[][] = [];
  const stack: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start] >= 0) continue;
    const label = outlines.length;
    const rowMin = new Map<number, number>();
    const rowMax = new Map<number, number>();
    labels[start] = label;
    stack.push(start);
    while (stack.length > 0) {
      const index = stack.pop()!;
      const x = index % width;
      const y = (index - x) / width;
      if (!rowMin.has(y) || x < rowMin.get(y)!) rowMin.set(y, x);
      if (!rowMax.has(y) || x > rowMax.get(y)!) rowMax.set(y, x);
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width || (dx === 0 && dy === 0)) continue;
          const neighbour = ny * width + nx;
          if (mask[neighbour] && labels[neighbour] < 0) {
            labels[neighbour] = label;
            stack.push(neighbour);
          }
        }
      }
    }
    const points: Point[] = [];
    for (const [y, x] of rowMin) points.push([x, y], [rowMax.get(y)!, y]);
    outlines.push(points);
  }
  return outlines;
}

/**
 * Steps 3–5: boxes in source-image coordinates from the detector's probability map [mapHeight, mapWidth]
 * of a `sourceWidth`×`sourceHeight` image.
 */
export function boxesFromProbabilityMap(
  probability: Float32Array,
  mapWidth: number,
  mapHeight: number,
  sourceWidth: number,
  sourceHeight: number,
  options: DetectorOptions = DEFAULT_DETECTOR_OPTIONS,
): DetectedBox[] {
  if (probability.length !== mapWidth * mapHeight) throw new Error(`probability map has ${probability.length} values, expected ${mapWidth}·${mapHeight}`);
  const mask = new Uint8Array(probability.length);
  for (let i = 0; i < probability.length; i++) mask[i] = probability[i] > options.threshold ? 1 : 0;
  const boxes: DetectedBox[] = [];
  for (const outline of regionOutlines(mask, mapWidth, mapHeight).slice(0, options.maxCandidates)) {
    const rect = minAreaRect(outline);
    if (Math.min(...rect.size) < MIN_SIZE) continue;
    const quad = rectCorners(rect);
    const score = boxScore(probability, mapWidth, mapHeight, quad);
    if (score < options.boxThreshold) continue;
    const distance = (polygonArea(quad) * options.unclipRatio) / polygonPerimeter(quad);
    const grown: RotatedRect = { ...rect, size: [rect.size[0] + 2 * distance, rect.size[1] + 2 * distance] };
    if (Math.min(...grown.size) < MIN_SIZE + 2) continue;
    const scaled = rectCorners(grown).map(([x, y]) => [
      Math.min(sourceWidth, Math.max(0, Math.round((x / mapWidth) * sourceWidth))),
      Math.min(sourceHeight, Math.max(0, Math.round((y / mapHeight) * sourceHeight))),
    ]) as Quad;
    const clipped = scaled.map(([x, y]) => [Math.min(sourceWidth - 1, x), Math.min(sourceHeight - 1, y)]) as Quad;
    const side = (a: Point, b: Point) => Math.trunc(Math.hypot(a[0] - b[0], a[1] - b[1]));
    if (side(clipped[0], clipped[1]) <= 3 || side(clipped[0], clipped[3]) <= 3) continue;
    boxes.push({ quad: clipped, score });
  }
  return boxes;
}

/**
 * Reading order: boxes grouped into lines (a box joins the current line when its vertical centre lies
 * within the line's first box), lines top to bottom, boxes in a line left to right.
 */
export function readingOrder<T extends { quad: Quad }>(boxes: readonly T[]): T[] {
  const extent = (b: T) => {
    const ys = b.quad.map((p) => p[1]);
    const xs = b.quad.map((p) => p[0]);
    return { top: Math.min(...ys), bottom: Math.max(...ys), centreY: (Math.min(...ys) + Math.max(...ys)) / 2, left: Math.min(...xs) };
  };
  const items = boxes.map((box) => ({ box, ...extent(box) })).sort((a, b) => a.centreY - b.centreY || a.left - b.left);
  const ordered: T[] = [];
  let line: typeof items = [];
  const flush = () => {
    ordered.push(...line.sort((a, b) => a.left - b.left).map((item) => item.box));
    line = [];
  };
  for (const item of items) {
    if (line.length > 0 && (item.centreY < line[0].top || item.centreY > line[0].bottom)) flush();
    line.push(item);
  }
  flush();
  return ordered;
}
