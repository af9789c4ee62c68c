/**
 * Named colours as HSV ranges: DATA, overridable through the colour-geometry scorer's `colours` option.
 *
 * Hue H in degrees [0, 360) (a range with min > max wraps through 0, e.g. red [345, 10]); saturation S
 * and value V in [0, 1] (V = max(R, G, B) / 255, S = (max − min) / max). A pixel takes the FIRST entry
 * (in table order) with a range containing it, so the achromatic entries come first and catch dark,
 * pale and grey pixels before any hue is read. A pixel matching nothing is unlabelled.
 *
 * The names are GenEval's ten colours plus gray. Boundaries were placed between the CSS colours of each
 * name (e.g. CSS purple, hue 300, is purple; hot pink, hue 330, is pink; orange, hue 39, is orange;
 * gold, hue 51, is yellow) and so that shading down to about 60 % brightness keeps a chromatic
 * colour's name. Dark orange-hued pixels (V < 0.6) are brown: a deeply shaded orange object is read as
 * brown at its dark side, which only trims its box.
 */
export interface HsvRange {
  /** degrees [min, max]; wraps through 0 when min > max; absent = any hue */
  hue?: [number, number];
  /** [min, max] in [0, 1]; absent = any */
  saturation?: [number, number];
  /** [min, max] in [0, 1]; absent = any */
  value?: [number, number];
}

export interface ColourEntry {
  name: string;
  /** a pixel has this colour if any range contains it */
  ranges: HsvRange[];
}

export const DEFAULT_COLOUR_TABLE: readonly ColourEntry[] = [
  { name: 'black', ranges: [{ value: [0, 0.2] }] },
  { name: 'white', ranges: [{ saturation: [0, 0.15], value: [0.8, 1] }] },
  { name: 'gray', ranges: [{ saturation: [0, 0.15] }] },
  { name: 'brown', ranges: [{ hue: [10, 45], saturation: [0.3, 1], value: [0.2, 0.6] }] },
  { name: 'red', ranges: [{ hue: [345, 10], saturation: [0.4, 1], value: [0.2, 1] }] },
  { name: 'orange', ranges: [{ hue: [10, 45], saturation: [0.45, 1], value: [0.6, 1] }] },
  { name: 'yellow', ranges: [{ hue: [45, 70], saturation: [0.35, 1], value: [0.35, 1] }] },
  { name: 'green', ranges: [{ hue: [70, 165], saturation: [0.25, 1], value: [0.2, 1] }] },
  { name: 'blue', ranges: [{ hue: [165, 255], saturation: [0.3, 1], value: [0.2, 1] }] },
  { name: 'purple', ranges: [{ hue: [255, 310], saturation: [0.25, 1], value: [0.2, 1] }] },
  {
    name: 'pink',
    ranges: [
      { hue: [310, 345], saturation: [0.25, 1], value: [0.35, 1] },
      // pale reds: light pink (255, 182, 193) has S 0.29
      { hue: [345, 15], saturation: [0.15, 0.4], value: [0.7, 1] },
    ],
  },
];

/** Other spellings accepted in prompts. */
export const DEFAULT_COLOUR_ALIASES: Readonly<Record<string, string>> = { grey: 'gray', violet: 'purple' };

/**
 * The table with `overrides` applied: an existing name keeps its place and takes the new ranges; a new
 * name is appended (so it only gets pixels no earlier entry claims).
 */
export function mergeColourTable(base: readonly ColourEntry[], overrides: Record<string, HsvRange[]> = {}): ColourEntry[] {
  const table = base.map((entry) => ({ name: entry.name, ranges: overrides[entry.name] ?? entry.ranges }));
  for (const [name, ranges] of Object.entries(overrides)) if (!table.some((e) => e.name === name)) table.push({ name, ranges });
  return table;
}

/** H in degrees [0, 360), S and V in [0, 1]. */
export function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const delta = max - min;
  let hue = 0;
  if (delta > 0) {
    if (max === r) hue = 60 * (((g - b) / delta) % 6);
    else if (max === g) hue = 60 * ((b - r) / delta + 2);
    else hue = 60 * ((r - g) / delta + 4);
    if (hue < 0) hue += 360;
  }
  return [hue, max === 0 ? 0 : delta / max, max / 255];
}

function within(x: number, [min, max]: [number, number]): boolean {
  return x >= min && x <= max;
}

export function inRange(h: number, s: number, v: number, range: HsvRange): boolean {
  if (range.saturation && !within(s, range.saturation)) return false;
  if (range.value && !within(v, range.value)) return false;
  if (range.hue) {
    const [min, max] = range.hue;
    if (min <= max ? !(h >= min && h <= max) : !(h >= min || h <= max)) return false;
  }
  return true;
}

/** Index of the first entry whose ranges contain the colour, or -1. */
export function classifyRgb(table: readonly ColourEntry[], r: number, g: number, b: number): number {
  const [h, s, v] = rgbToHsv(r, g, b);
  for (let index = 0; index < table.length; index++) {
    const ranges = table[index].ranges;
    for (let k = 0; k < ranges.length; k++) if (inRange(h, s, v, ranges[k])) return index;
  }
  return -1;
}
