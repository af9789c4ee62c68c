/**
 * Image health statistics of an 8-bit RGB image: is it black, blank (near-constant), very flat, clipped
 * or burned-out with saturated colour? Pure functions; the scorer (health-scorer.ts) turns them into
 * records.
 *
 * Units: channel values are 0..255. `pixelStd` is the root mean square of the three per-channel
 * standard deviations (population), so an image of one constant colour — any colour — has std 0.
 * NaN / Inf images never reach this point: the runner reports a non-finite VAE output as a failed unit
 * and writes no PNG; an 8-bit PNG cannot hold a non-finite value.
 */

/** Thresholds of the health flags; every one is a scorer option (see `DEFAULT_HEALTH_THRESHOLDS`). */
export interface HealthThresholds {
  /** `black`: mean channel value at most this … (0..255) */
  blackMaxMean: number;
  /** … and pixel std at most this (a dark scene with structure is not black) */
  blackMaxStd: number;
  /** `blank`: pixel std below this (near-constant: one flat colour up to noise) */
  blankMaxStd: number;
  /** `low_variance`: pixel std below this (washed-out, fog-flat images; includes blank ones) */
  lowVarianceMaxStd: number;
  /** a pixel counts as saturated when HSV saturation ≥ this … */
  saturationMin: number;
  /** … and HSV value (max channel / 255) ≥ this */
  saturatedValueMin: number;
  /** `health_ok` fails when more than this fraction of channel values is 0 or 255 */
  maxClippedFraction: number;
  /** `health_ok` fails when more than this fraction of pixels is saturated */
  maxSaturatedFraction: number;
}

/**
 * Defaults, in 0..255 channel units. Natural photographs have a pixel std of roughly 40–80; a flat
 * grey or single-colour failure is below 2; a failed-to-black image has mean ≈ 0 and std ≈ 0.
 */
export const DEFAULT_HEALTH_THRESHOLDS: HealthThresholds = {
  blackMaxMean: 12,
  blackMaxStd: 8,
  blankMaxStd: 2,
  lowVarianceMaxStd: 10,
  saturationMin: 0.95,
  saturatedValueMin: 0.8,
  maxClippedFraction: 0.4,
  maxSaturatedFraction: 0.3,
};

export interface ImageStatistics {
  width: number;
  height: number;
  /** mean channel value (0..255) */
  mean: number;
  /** per-channel means R, G, B */
  channelMeans: [number, number, number];
  /** per-channel population standard deviations */
  channelStds: [number, number, number];
  /** √(mean of the per-channel variances) */
  pixelStd: number;
  /** fraction of channel values equal to 0 or 255 */
  clippedFraction: number;
  /** fraction of pixels with HSV saturation ≥ saturationMin and value ≥ saturatedValueMin */
  saturatedFraction: number;
}

export type HealthProblem = 'black' | 'blank' | 'low_variance' | 'clipped' | 'saturated';

export interface HealthAssessment {
  stats: ImageStatistics;
  black: boolean;
  blank: boolean;
  lowVariance: boolean;
  /** clippedFraction > maxClippedFraction */
  clipped: boolean;
  /** saturatedFraction > maxSaturatedFraction */
  saturated: boolean;
  /** every flag that is set, in the order of `HealthProblem` */
  problems: HealthProblem[];
  ok: boolean;
}

/** One pass over the pixels. */
export function imageStatistics(
  image: { width: number; height: number; data: Uint8Array },
  thresholds: Pick<HealthThresholds, 'saturationMin' | 'saturatedValueMin'> = DEFAULT_HEALTH_THRESHOLDS,
): ImageStatistics {
  const { width, height, data } = image;
  const pixels = width * height;
  if (pixels === 0) throw new Error('image health: the image has no pixels');
  if (data.length !== pixels * 3) throw new Error(`image health: ${data.length} bytes for ${width}x${height} RGB (expected ${pixels * 3})`);
  const sums = [0, 0, 0];
  const squares = [0, 0, 0];
  let clipped = 0;
  let saturated = 0;
  const minValue = thresholds.saturatedValueMin * 255;
  for (let p = 0, i = 0; p < pixels; p++, i += 3) {
    const r = data[i];
    const g = data[i + 1];
    const b = data[i + 2];
    sums[0] += r;
    sums[1] += g;
    sums[2] += b;
    squares[0] += r * r;
    squares[1] += g * g;
    squares[2] += b * b;
    if (r === 0 || r === 255) clipped++;
    if (g === 0 || g === 255) clipped++;
    if (b === 0 || b === 255) clipped++;
    const max = r > g ? (r > b ? r : b) : g > b ? g : b;
    if (max > 0 && max >= minValue) {
      const min = r < g ? (r < b ? r : b) : g < b ? g : b;
      if ((max - min) / max >= thresholds.saturationMin) saturated++;
    }
  }
  const channelMeans = sums.map((s) => s / pixels) as [number, number, number];
  const channelVariances = squares.map((sq, c) => Math.max(0, sq / pixels - channelMeans[c] * channelMeans[c]));
  const channelStds = channelVariances.map(Math.sqrt) as [number, number, number];
  return {
    width,
    height,
    mean: (channelMeans[0] + channelMeans[1] + channelMeans[2]) / 3,
    channelMeans,
    channelStds,
    pixelStd: Math.sqrt((channelVariances[0] + channelVariances[1] + channelVariances[2]) / 3),
    clippedFraction: clipped / (pixels * 3),
    saturatedFraction: saturated / pixels,
  };
}

/** Statistics plus the flags they raise under `thresholds`. */
export function assessImageHealth(
  image: { width: number; height: number; data: Uint8Array },
  thresholds: HealthThresholds = DEFAULT_HEALTH_THRESHOLDS,
): HealthAssessment {
  const stats = imageStatistics(image, thresholds);
  const black = stats.mean <= thresholds.blackMaxMean && stats.pixelStd <= thresholds.blackMaxStd;
  const blank = stats.pixelStd < thresholds.blankMaxStd;
  const lowVariance = stats.pixelStd < thresholds.lowVarianceMaxStd;
  const clipped = stats.clippedFraction > thresholds.maxClippedFraction;
  const saturated = stats.saturatedFraction > thresholds.maxSaturatedFraction;
  const flags: Array<[HealthProblem, boolean]> = [
    ['black', black],
    ['blank', blank],
    ['low_variance', lowVariance],
    ['clipped', clipped],
    ['saturated', saturated],
  ];
  const problems = flags.filter(([, set]) => set).map(([name]) => name);
  return { stats, black, blank, lowVariance, clipped, saturated, problems, ok: problems.length === 0 };
}
