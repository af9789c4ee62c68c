/**
 * Colour segmentation for the colour-geometry probe: label pixels with named colours (colour-table.ts),
 * find 8-connected components, and pick one main object per colour. Pure functions over RgbImage.
 */
import type { RgbImage } from '../../pipelines/image/png.js';
import { classifyRgb, type ColourEntry } from './colour-table.js';
import type { Box } from './geneval-rules.js';

export const UNLABELLED = 255;

export interface SegmentationOptions {
  /** the image is area-averaged down to at most this many pixels on its longer side before labelling */
  analysisSize: number;
  /** replace each label by the most frequent one in its 3 × 3 neighbourhood (removes pixel noise) */
  smoothLabels: boolean;
}

export interface LabelImage {
  width: number;
  height: number;
  /** index into the colour table per pixel, UNLABELLED for none */
  labels: Uint8Array;
  /** original pixels per label pixel, horizontally and vertically */
  scaleX: number;
  scaleY: number;
}

/** Area-average downsampling to at most `maxSide` on the longer side (a copy when already small). */
export function downsample(image: RgbImage, maxSide: number): { image: RgbImage; scaleX: number; scaleY: number } {
  const { width, height, data } = image;
  const factor = Math.max(width, height) / maxSide;
  if (factor <= 1) return { image, scaleX: 1, scaleY: 1 };
  const outW = Math.max(1, Math.round(width / factor));
  const outH = Math.max(1, Math.round(height / factor));
  const scaleX = width / outW;
  const scaleY = height / outH;
  const out = new Uint8Array(outW * outH * 3);
  for (let y = 0; y < outH; y++) {
    const sy0 = Math.floor(y * scaleY);
    const sy1 = Math.max(sy0 + 1, Math.floor((y + 1) * scaleY));
    for (let x = 0; x < outW; x++) {
      const sx0 = Math.floor(x * scaleX);
      const sx1 = Math.max(sx0 + 1, Math.floor((x + 1) * scaleX));
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = sy0; sy < sy1; sy++) {
        let i = (sy * width + sx0) * 3;
        for (let sx = sx0; sx < sx1; sx++, i += 3) {
          r += data[i];
          g += data[i + 1];
          b += data[i + 2];
        }
      }
      const n = (sy1 - sy0) * (sx1 - sx0);
      const o = (y * outW + x) * 3;
      out[o] = Math.round(r / n);
      out[o + 1] = Math.round(g / n);
      out[o + 2] = Math.round(b / n);
    }
  }
  return { image: { width: outW, height: outH, data: out }, scaleX, scaleY };
}

function modeFilter(labels: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  const counts = new Int32Array(256);
  const seen = new Uint8Array(9);
  for (let y = 0; y < height; y++) {
    const y0 = Math.max(0, y - 1);
    const y1 = Math.min(height - 1, y + 1);
    for (let x = 0; x < width; x++) {
      const x0 = Math.max(0, x - 1);
      const x1 = Math.min(width - 1, x + 1);
      let distinct = 0;
      for (let yy = y0; yy <= y1; yy++) {
        for (let xx = x0; xx <= x1; xx++) {
          const label = labels[yy * width + xx];
          if (counts[label]++ === 0) seen[distinct++] = label;
        }
      }
      // ties keep the pixel's own label
      let best = labels[y * width + x];
      for (let k = 0; k < distinct; k++) if (counts[seen[k]] > counts[best]) best = seen[k];
      for (let k = 0; k < distinct; k++) counts[seen[k]] = 0;
      out[y * width + x] = best;
    }
  }
  return out;
}

/** Labels every pixel (after downsampling) with the index of its colour in `table`. */
export function labelPixels(image: RgbImage, table: readonly ColourEntry[], options: SegmentationOptions): LabelImage {
  if (table.length >= UNLABELLED) throw new Error(`colour table too long (${table.length} entries)`);
  const { image: small, scaleX, scaleY } = downsample(image, options.analysisSize);
  const { width, height, data } = small;
  let labels: Uint8Array = new Uint8Array(width * height);
  for (let p = 0, i = 0; p < labels.length; p++, i += 3) {
    const index = classifyRgb(table, data[i], data[i + 1], data[i + 2]);
    labels[p] = index < 0 ? UNLABELLED : index;
  }
  if (options.smoothLabels) labels = modeFilter(labels, width, height);
  return { width, height, labels, scaleX, scaleY };
}

export interface Component {
  label: number;
  /** pixels in the label image */
  area: number;
  /** inclusive pixel bounds in the label image */
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** 8-connected components of equal label, for the labels in `wanted` (all labelled pixels when absent). */
export function connectedComponents(image: LabelImage, wanted?: ReadonlySet<number>): Component[] {
  const { width, height, labels } = image;
  const visited = new Uint8Array(labels.length);
  const stack = new Int32Array(labels.length);
  const components: Component[] = [];
  for (let start = 0; start < labels.length; start++) {
    const label = labels[start];
    if (visited[start] || label === UNLABELLED || (wanted && !wanted.has(label))) continue;
    let top = 0;
    stack[top++] = start;
    visited[start] = 1;
    const c: Component = { label, area: 0, minX: width, minY: height, maxX: -1, maxY: -1 };
    while (top > 0) {
      const p = stack[--top];
      const x = p % width;
      const y = (p - x) / width;
      c.area++;
      if (x < c.minX) c.minX = x;
      if (x > c.maxX) c.maxX = x;
      if (y < c.minY) c.minY = y;
      if (y > c.maxY) c.maxY = y;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          const q = yy * width + xx;
          if (!visited[q] && labels[q] === label) {
            visited[q] = 1;
            stack[top++] = q;
          }
        }
      }
    }
    components.push(c);
  }
  return components;
}

export interface ObjectSelectionOptions {
  /** components smaller than this fraction of the image are noise */
  minAreaFraction: number;
  /** components larger than this fraction are background, not an object */
  maxAreaFraction: number;
  /** pieces within this fraction of the image's longer side of the main one are merged into it (an object cut by an occluder) */
  mergeGapFraction: number;
  /** a separate piece at least this fraction of the main one's area makes the colour ambiguous */
  ambiguityRatio: number;
}

export type ColourObject =
  | { status: 'found'; box: Box; areaFraction: number; parts: number }
  | { status: 'missing'; largestAreaFraction: number }
  | { status: 'ambiguous'; boxes: Box[]; areaFractions: number[] };

function toImageBox(c: Pick<Component, 'minX' | 'minY' | 'maxX' | 'maxY'>, image: LabelImage): Box {
  return { x1: c.minX * image.scaleX, y1: c.minY * image.scaleY, x2: (c.maxX + 1) * image.scaleX, y2: (c.maxY + 1) * image.scaleY };
}

function gap(a: Component, b: Component): number {
  const gx = Math.max(0, a.minX - b.maxX - 1, b.minX - a.maxX - 1);
  const gy = Math.max(0, a.minY - b.maxY - 1, b.minY - a.maxY - 1);
  return Math.max(gx, gy);
}

/**
 * The one object of a colour: the largest component between the area limits, with nearby pieces merged
 * into it; `ambiguous` when another large piece of the colour stands apart, `missing` when nothing
 * qualifies.
 */
export function selectColourObject(components: Component[], image: LabelImage, options: ObjectSelectionOptions): ColourObject {
  const total = image.width * image.height;
  const sized = components.filter((c) => c.area / total <= options.maxAreaFraction).sort((a, b) => b.area - a.area);
  const eligible = sized.filter((c) => c.area / total >= options.minAreaFraction);
  if (!eligible.length) return { status: 'missing', largestAreaFraction: sized.length ? sized[0].area / total : 0 };
  const main: Component = { ...eligible[0] };
  let parts = 1;
  let rest = eligible.slice(1);
  const maxGap = options.mergeGapFraction * Math.max(image.width, image.height);
  for (let merged = true; merged; ) {
    merged = false;
    const keep: Component[] = [];
    for (const c of rest) {
      if (gap(main, c) <= maxGap) {
        main.area += c.area;
        main.minX = Math.min(main.minX, c.minX);
        main.minY = Math.min(main.minY, c.minY);
        main.maxX = Math.max(main.maxX, c.maxX);
        main.maxY = Math.max(main.maxY, c.maxY);
        parts++;
        merged = true;
      } else keep.push(c);
    }
    rest = keep;
  }
  const rivals = rest.filter((c) => c.area >= options.ambiguityRatio * main.area);
  if (rivals.length) {
    const all = [main, ...rivals];
    return { status: 'ambiguous', boxes: all.map((c) => toImageBox(c, image)), areaFractions: all.map((c) => c.area / total) };
  }
  return { status: 'found', box: toImageBox(main, image), areaFraction: main.area / total, parts };
}
