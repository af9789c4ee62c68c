/**
 * @module
 * Vega-lite spec builders. Every chart carries its data inline, so the `charts/*.vl.json` files re-plot
 * anywhere and the SVG rendered from them needs nothing from the network.
 */

export interface ChartSpec {
  /** file-safe, unique within a report */
  id: string;
  title: string;
  /** section anchor the chart belongs to */
  section: string;
  /** the metric it shows, when it shows one */
  metric: string | null;
  spec: Record<string, unknown>;
}

export const CHART_FONT = 'DejaVu Sans';
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export const CHART_CONFIG = {
  font: CHART_FONT,
  background: 'white',
  view: { stroke: '#ccc' },
  axis: { labelFont: CHART_FONT, titleFont: CHART_FONT, labelLimit: 220 },
  legend: { labelFont: CHART_FONT, titleFont: CHART_FONT, labelLimit: 260 },
  title: { font: CHART_FONT, anchor: 'start', fontSize: 13, subtitleFont: CHART_FONT, subtitleFontSize: 11, subtitleColor: '#555' },
} as const;

/**
 * A chart heading: a short `text` and the method in `subtitle`. vega measures text by estimate (0.8 ×
 * font size per character, wider than DejaVu Sans), and the estimate sizes the SVG, so a long one-line
 * title would make the chart far wider than its plot.
 */
export interface ChartTitle {
  text: string;
  subtitle?: string;
}

/** the one-line form of a chart heading, for report.json and captions */
export function titleText(title: string | ChartTitle): string {
  return typeof title === 'string' ? title : title.subtitle ? `${title.text} (${title.subtitle})` : title.text;
}

/** lower-case letters, digits and dashes only */
export function slug(text: string): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return cleaned === '' ? 'chart' : cleaned.slice(0, 60);
}

function base(title: string | ChartTitle, values: unknown[]): Record<string, unknown> {
  return { $schema: SCHEMA, title, config: CHART_CONFIG, data: { values } };
}

export interface CurveDatum {
  series: string;
  x: number;
  mean: number;
  lower: number;
  upper: number;
  condition: string;
  n: number;
}

/**
 * Mean with interval bars against handoff fraction or SDEdit strength, one line per series (the legend
 * is left out when there is only one). `yDomain` fixes the value axis, e.g. [0, 1] for a success rate.
 */
export function curveChart(
  title: string | ChartTitle,
  xTitle: string,
  yTitle: string,
  values: CurveDatum[],
  xDomain: [number, number],
  yDomain: [number, number] | null = null,
): Record<string, unknown> {
  // padding keeps the interval bars at the ends of the domain (h = 1, s = 0) clear of the frame
  const x = { field: 'x', type: 'quantitative', title: xTitle, scale: { domain: xDomain, nice: false, padding: 10 } };
  const color = new Set(values.map((value) => value.series)).size > 1 ? { field: 'series', type: 'nominal', title: 'series' } : { value: '#4c78a8' };
  const yScale = yDomain ? { domain: yDomain } : { zero: false };
  return {
    ...base(title, values),
    width: 360,
    height: 220,
    layer: [
      { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { field: 'lower', type: 'quantitative', title: yTitle, scale: yScale }, y2: { field: 'upper' }, color } },
      { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'mean', type: 'quantitative' }, color } },
    ],
  };
}

export interface IntervalDatum {
  group: string;
  colour: string;
  mean: number;
  lower: number;
  upper: number;
  n: number;
}

/** Horizontal points with interval bars: one row per group, one colour per condition or run. */
export function intervalChart(
  title: string | ChartTitle,
  groupTitle: string,
  colourTitle: string,
  valueTitle: string,
  values: IntervalDatum[],
  valueDomain: [number, number] | null = null,
): Record<string, unknown> {
  const y = { field: 'group', type: 'nominal', title: groupTitle, sort: null };
  const colour = { field: 'colour', type: 'nominal', title: colourTitle, sort: null };
  const yOffset = { field: 'colour', type: 'nominal', sort: null };
  return {
    ...base(title, values),
    width: 360,
    layer: [
      { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { y, yOffset, x: { field: 'lower', type: 'quantitative', title: valueTitle, scale: valueDomain ? { domain: valueDomain } : { zero: false } }, x2: { field: 'upper' }, color: colour } },
      { mark: { type: 'point', filled: true, size: 40 }, encoding: { y, yOffset, x: { field: 'mean', type: 'quantitative' }, color: colour } },
    ],
  };
}

export interface StackDatum {
  prompt: string;
  condition: string;
  label: string;
  count: number;
  /** position of the label in the label set, for a stable stacking order */
  order: number;
}

/** Per-prompt stacked bars of label shares, one column per condition. */
export function stackedShareChart(title: string | ChartTitle, labelTitle: string, values: StackDatum[]): Record<string, unknown> {
  return {
    ...base(title, values),
    facet: { column: { field: 'condition', type: 'nominal', title: 'condition', sort: null } },
    spec: {
      width: 180,
      mark: 'bar',
      encoding: {
        y: { field: 'prompt', type: 'nominal', title: 'prompt', sort: null },
        x: { aggregate: 'sum', field: 'count', type: 'quantitative', stack: 'normalize', title: 'share of images' },
        color: { field: 'label', type: 'nominal', title: labelTitle, sort: null },
        order: { field: 'order', type: 'quantitative' },
      },
    },
  };
}
