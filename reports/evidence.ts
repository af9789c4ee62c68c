/**
 * @module
 * Finds drawable evidence in a score's `detail` JSON without knowing which probe wrote it: boxes
 * (`{box|bbox: [x0, y0, x1, y1]}`, `{x0, y0, x1, y1}` or `{x, y, width, height}`), with a label and a
 * colour where the object names one. Coordinates in [0, 1] are taken as fractions of the image,
 * larger ones as pixels of the original image.
 */

export interface EvidenceBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  label: string;
  /** a CSS colour keyword from the detail, or null for the default */
  colour: string | null;
  /** true when the coordinates are fractions of the image size */
  normalized: boolean;
}

const NAMED_COLOURS = new Set([
  'red', 'green', 'blue', 'yellow', 'orange', 'purple', 'pink', 'brown', 'black', 'white', 'gray', 'grey', 'cyan', 'magenta',
]);

function numbers(values: unknown): number[] | null {
  if (!Array.isArray(values) || values.length !== 4 || !values.every((v) => typeof v === 'number' && Number.isFinite(v))) return null;
  return values as number[];
}

function field(object: Record<string, unknown>, ...names: string[]): number | undefined {
  for (const name of names) {
    const value = object[name];
    if (typeof value === 'number' && Number.isFinite(value)) return value;
  }
  return undefined;
}

function boxOf(object: Record<string, unknown>): [number, number, number, number] | null {
  const array = numbers(object.box) ?? numbers(object.bbox);
  if (array) return [array[0], array[1], array[2], array[3]];
  for (const key of ['box', 'bbox']) {
    const nested = object[key];
    if (nested !== null && typeof nested === 'object' && !Array.isArray(nested)) {
      const inner = boxOf(nested as Record<string, unknown>);
      if (inner) return inner;
    }
  }
  const corners = (names: [string, string, string, string]) => {
    const values = names.map((name) => field(object, name));
    return values.every((value) => value !== undefined) ? (values as [number, number, number, number]) : null;
  };
  const box = corners(['x1', 'y1', 'x2', 'y2']) ?? corners(['x0', 'y0', 'x1', 'y1']) ?? corners(['xmin', 'ymin', 'xmax', 'ymax']) ?? corners(['left', 'top', 'right', 'bottom']);
  if (box) return box;
  const x = field(object, 'x');
  const y = field(object, 'y');
  const width = field(object, 'width', 'w');
  const height = field(object, 'height', 'h');
  if (x !== undefined && y !== undefined && width !== undefined && height !== undefined) return [x, y, x + width, y + height];
  return null;
}

function textOf(object: Record<string, unknown>, names: string[]): string | null {
  for (const name of names) {
    const value = object[name];
    if (typeof value === 'string' && value !== '') return value;
  }
  return null;
}

/** keys that group boxes rather than name them */
const STRUCTURAL_KEYS = new Set(['objects', 'relations', 'boxes', 'detections', 'items', 'findings', 'results', 'regions', 'parts']);

/** Boxes found anywhere in `detail` (depth-first, in key order, duplicates dropped), at most `limit`. */
export function extractBoxes(detail: unknown, limit = 12): EvidenceBox[] {
  const found: EvidenceBox[] = [];
  const seen = new Set<string>();
  const visit = (value: unknown, depth: number, inheritedLabel: string | null): void => {
    if (found.length >= limit || depth > 6 || value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1, inheritedLabel);
      return;
    }
    const object = value as Record<string, unknown>;
    const box = boxOf(object);
    const colourText = textOf(object, ['color', 'colour']) ?? (inheritedLabel && NAMED_COLOURS.has(inheritedLabel.toLowerCase()) ? inheritedLabel : null);
    const ownLabel = textOf(object, ['label', 'class', 'name', 'object', 'text']);
    const label = [colourText, ownLabel].filter((part, i, parts) => part && parts.indexOf(part) === i).join(' ') || inheritedLabel || '';
    if (box) {
      const [ax, ay, bx, by] = box;
      const entry: EvidenceBox = {
        x0: Math.min(ax, bx),
        y0: Math.min(ay, by),
        x1: Math.max(ax, bx),
        y1: Math.max(ay, by),
        label,
        colour: colourText && NAMED_COLOURS.has(colourText.toLowerCase()) ? colourText.toLowerCase() : null,
        normalized: Math.max(ax, ay, bx, by) <= 1,
      };
      const identity = `${entry.x0},${entry.y0},${entry.x1},${entry.y1}`;
      if (!seen.has(identity)) {
        seen.add(identity);
        found.push(entry);
      }
      return;
    }
    for (const key of Object.keys(object)) {
      visit(object[key], depth + 1, STRUCTURAL_KEYS.has(key) ? ownLabel ?? inheritedLabel : ownLabel ?? key);
    }
  };
  visit(detail, 0, null);
  return found;
}

/** The image size a detail states its pixel coordinates in (`imageSize: {width, height}`), if any. */
export function detailImageSize(detail: unknown): { width: number; height: number } | null {
  if (detail === null || typeof detail !== 'object') return null;
  const size = (detail as Record<string, unknown>).imageSize;
  if (size === null || typeof size !== 'object') return null;
  const { width, height } = size as Record<string, unknown>;
  return typeof width === 'number' && typeof height === 'number' && width > 0 && height > 0 ? { width, height } : null;
}

/** A short one-line rendering of `detail` for captions (JSON, truncated). */
export function detailExcerpt(detail: unknown, maxLength = 160): string {
  if (detail === undefined || detail === null) return '';
  const text = typeof detail === 'string' ? detail : JSON.stringify(detail);
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}
