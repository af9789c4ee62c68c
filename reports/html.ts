/**
 * @module
 * report.html: one self-contained page. Charts are inline SVG, thumbnails are data: URIs, the only
 * script is the inline table sorter (allowed by its hash in the Content-Security-Policy, which also
 * forbids every network load), and every string from the run is escaped by the `html` template.
 */
import { createHash } from 'node:crypto';
import { html, trustedHtml, type SafeHtml } from './html-template.js';
import type { ReportModel } from './model.js';
import type { Thumbnail, ThumbnailCache } from './thumbnails.js';
import type { EvidenceBox } from './evidence.js';
import type { ThemeMetric } from './limitations.js';
import { slug } from './charts.js';
import { formatDirection, formatInterval, formatNumber, formatP, formatPercent } from './format.js';
import { UNKNOWN_LABEL } from './bias.js';
import { constantValue } from './summarize.js';
import type { MetricRole } from '../probes/types.js';
import { atAGlance, describeFinding, MIN_PAIRS_TO_CONCLUDE, SIGNIFICANCE_LEVEL, type Verdict } from './glance.js';

function significant(pHolm: number | null): boolean {
  return pHolm !== null && pHolm < SIGNIFICANCE_LEVEL;
}

export const PERCEIVED_LABELS_STATEMENT = [
  'These labels are perceived attributes: an automated classifier’s reading of the pixels of generated images, named above with its label set.',
  'They describe how that classifier reads an image, never who a depicted person is — generated people have no gender, ethnicity or identity to be right or wrong about.',
  'They can show whether images for a neutral prompt concentrate on one perceived presentation, and whether refinement shifts that distribution.',
  'They cannot establish anyone’s identity, cannot represent presentations outside the label set, and carry the classifier’s own biases and error rates, which this report does not measure.',
  '“unknown” marks images the classifier could not decide (margin below its threshold, or no person found); unknowns are shown but left out of the bias measures.',
];

const SORT_SCRIPT = `(function () {
  function key(cell) {
    var raw = cell.getAttribute('data-value');
    if (raw !== null && raw !== '') { var number = parseFloat(raw); if (!isNaN(number)) return number; }
    return cell.textContent.trim().toLowerCase();
  }
  function compare(a, b) {
    if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
    return typeof a === 'number' ? -1 : 1;
  }
  function sortBy(table, column, header) {
    var body = table.tBodies[0];
    if (!body) return;
    var ascending = header.getAttribute('aria-sort') !== 'ascending';
    var headers = table.querySelectorAll('th');
    for (var i = 0; i < headers.length; i++) headers[i].removeAttribute('aria-sort');
    header.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (x, y) {
      var order = compare(key(x.cells[column]), key(y.cells[column]));
      return ascending ? order : -order;
    });
    for (var r = 0; r < rows.length; r++) body.appendChild(rows[r]);
  }
  var tables = document.querySelectorAll('table.sortable');
  for (var t = 0; t < tables.length; t++) {
    (function (table) {
      var headers = table.tHead ? table.tHead.rows[0].cells : [];
      for (var c = 0; c < headers.length; c++) {
        (function (header, column) {
          header.tabIndex = 0;
          header.title = 'sort';
          header.addEventListener('click', function () { sortBy(table, column, header); });
          header.addEventListener('keydown', function (event) { if (event.key === 'Enter') sortBy(table, column, header); });
        })(headers[c], c);
      }
    })(tables[t]);
  }
})();`;

const STYLE = `
body { font-family: 'DejaVu Sans', sans-serif; margin: 0; color: #1a1a1a; background: #fff; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 1rem 1.5rem 4rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2rem; margin-top: 2.5rem; }
h3 { margin-top: 1.8rem; }
nav.toc { background: #f6f6f6; padding: 0.6rem 1rem; border-radius: 6px; }
nav.toc ol { margin: 0.2rem 0; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.86rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; cursor: pointer; user-select: none; }
th[aria-sort=ascending]::after { content: ' ▲'; }
th[aria-sort=descending]::after { content: ' ▼'; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure.chart { margin: 0.8rem 0; overflow-x: auto; }
figure.chart figcaption { font-size: 0.8rem; color: #555; }
.strip { margin: 1rem 0; }
.strip-row, .examples { display: flex; flex-wrap: wrap; gap: 0.6rem; }
.cell { width: 150px; font-size: 0.75rem; margin: 0; }
.thumb { display: block; background: #eee; }
svg.image-sheet { position: absolute; width: 0; height: 0; overflow: hidden; }
figcaption code { word-break: break-all; font-size: 0.7rem; }
.charts { display: flex; flex-wrap: wrap; gap: 0 1.5rem; align-items: flex-start; }
.missing { display: flex; align-items: center; justify-content: center; width: 128px; height: 128px; background: #eee; color: #777; font-size: 0.75rem; line-height: 1.2; text-align: center; }
.note { color: #555; font-size: 0.9rem; }
.empty { color: #777; font-style: italic; }
blockquote { border-left: 3px solid #ccc; margin: 0.4rem 0; padding-left: 0.8rem; color: #444; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; font-size: 0.78rem; }
code { font-size: 0.85rem; }
.statement { background: #fff8e6; border: 1px solid #f0d9a0; padding: 0.6rem 1rem; border-radius: 6px; }
.role { font-size: 0.7rem; font-weight: normal; color: #555; border: 1px solid #ccc; border-radius: 3px; padding: 0 0.3rem; vertical-align: middle; }
.role-primary { color: #1b4f8a; border-color: #1b4f8a; }
.constant { background: #f6f6f6; padding: 0.4rem 0.8rem; border-radius: 4px; }
td.constant, td.empty { text-align: center; }
tr.significant td { background: #eef6ee; }
table.glance { font-size: 0.9rem; }
table.glance th[scope=rowgroup] { background: #fafafa; cursor: default; font-weight: normal; }
table.glance th { cursor: default; }
table.glance tr.metric-start > * { border-top: 2px solid #999; }
tr.verdict-better td { background: #e6f4e6; }
tr.verdict-worse td { background: #fbe7e7; }
tr.verdict-changed td { background: #eef0fb; }
tr.verdict-better td.verdict, tr.verdict-worse td.verdict, tr.verdict-changed td.verdict { font-weight: bold; }
tr.verdict-none td.verdict { color: #666; }
ul.findings li { margin: 0.15rem 0; }
.table-scroll { overflow-x: auto; max-width: 100%; }
details.long-table > summary, details > summary { cursor: pointer; color: #1b4f8a; margin: 0.4rem 0; }
details.evidence > summary { color: #555; font-size: 0.7rem; margin: 0.1rem 0; }
.note .meta { color: #777; white-space: nowrap; }
p.flat-curve { color: #444; font-size: 0.9rem; }
ul.diagnostics li.warning { list-style: none; margin-left: -1rem; }
.warning { background: #fff3e0; border-left: 4px solid #e69500; padding: 0.4rem 0.8rem; }
`;

export interface HtmlInputs {
  model: ReportModel;
  /** chart id → rendered SVG markup (from vega) */
  svgs: Map<string, string>;
  thumbnails: ThumbnailCache;
}

function numberCell(value: number | null | undefined, text?: string): SafeHtml {
  return html`<td class="num" data-value="${value === null || value === undefined || Number.isNaN(value) ? '' : String(value)}">${text ?? formatNumber(value)}</td>`;
}

function intervalCell(interval: { estimate: number; lower: number; upper: number } | null): SafeHtml {
  return numberCell(interval?.estimate ?? null, formatInterval(interval));
}

/** Breakdown groups with fewer samples than this get a warning that their intervals are not reliable. */
const SMALL_GROUP = 5;

/** Tables longer than this start collapsed, with their row count in the summary line. */
export const COLLAPSE_ROWS_ABOVE = 15;

function table(headers: string[], rows: SafeHtml[], caption?: string, collapsedTitle?: string): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">No data.</p>`;
  const body = html`<div class="table-scroll"><table class="sortable">${caption ? html`<caption>${caption}</caption>` : ''}<thead><tr>${headers.map((header) => html`<th scope="col">${header}</th>`)}</tr></thead><tbody>${rows}</tbody></table></div>`;
  if (rows.length <= COLLAPSE_ROWS_ABOVE) return body;
  return html`<details class="long-table"><summary>${collapsedTitle ?? caption ?? 'Table'} (${rows.length} rows)</summary>${body}</details>`;
}

/** Test names as a reader knows them (the methods section names them in full). */
function testName(test: string | null, method: string | null): string {
  if (test === null) return '—';
  const name = test === 'wilcoxon-signed-rank' ? 'Wilcoxon' : test === 'mcnemar-exact' ? 'McNemar' : test;
  return method ? `${name} (${method})` : name;
}

/** "description. Failure means: …" with the sentence ends in place */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function chartFigures(inputs: HtmlInputs, predicate: (chart: ReportModel['charts'][number]) => boolean): SafeHtml {
  const figures = inputs.model.charts
    .filter(predicate)
    .map((chart) => html`<figure class="chart" id="chart-${chart.id}" data-chart-id="${chart.id}">${trustedHtml(inputs.svgs.get(chart.id) ?? '')}<figcaption>spec: <code>${chart.file}</code></figcaption></figure>`);
  return figures.length === 0 ? html`` : html`<div class="charts">${figures}</div>`;
}

/**
 * Each thumbnail is defined once, as an SVG <symbol>, and drawn with <use> wherever it appears (the
 * same image is often in a strip and in several limitation examples). Ids follow first use, so the
 * page is deterministic.
 */
class ImageSheet {
  private readonly entries = new Map<string, { id: string; thumbnail: Thumbnail }>();

  /** the symbol id of the image at `imagePath` */
  use(imagePath: string, thumbnail: Thumbnail): string {
    let entry = this.entries.get(imagePath);
    if (!entry) {
      entry = { id: `img-${this.entries.size + 1}`, thumbnail };
      this.entries.set(imagePath, entry);
    }
    return entry.id;
  }

  get size(): number {
    return this.entries.size;
  }

  /** the hidden <svg> holding every symbol */
  render(): SafeHtml {
    if (this.entries.size === 0) return html``;
    const symbols = [...this.entries.values()].map(
      ({ id, thumbnail: t }) =>
        html`<symbol id="${id}" viewBox="0 0 ${t.displayWidth} ${t.displayHeight}"><image href="${t.dataUri}" width="${t.displayWidth}" height="${t.displayHeight}" preserveAspectRatio="none"${
          t.width < t.displayWidth ? html` style="image-rendering: pixelated"` : ''
        }/></symbol>`,
    );
    return html`<svg class="image-sheet" xmlns="http://www.w3.org/2000/svg" width="0" height="0" aria-hidden="true">${symbols}</svg>`;
  }
}

/** What the section writers share while one page is rendered. */
interface RenderContext extends HtmlInputs {
  sheet: ImageSheet;
}

function evidenceRects(boxes: readonly EvidenceBox[], thumbnail: Thumbnail, boxSpace: { width: number; height: number } | null): SafeHtml[] {
  const space = boxSpace ?? { width: thumbnail.sourceWidth, height: thumbnail.sourceHeight };
  return boxes.map((box) => {
    const sx = box.normalized ? thumbnail.displayWidth : thumbnail.displayWidth / space.width;
    const sy = box.normalized ? thumbnail.displayHeight : thumbnail.displayHeight / space.height;
    const x = box.x0 * sx;
    const y = box.y0 * sy;
    const width = Math.max(1, (box.x1 - box.x0) * sx);
    const height = Math.max(1, (box.y1 - box.y0) * sy);
    const colour = box.colour ?? '#ff00ff';
    return html`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${width.toFixed(1)}" height="${height.toFixed(1)}" fill="none" stroke="${colour}" stroke-width="2"/><rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${width.toFixed(1)}" height="${height.toFixed(1)}" fill="none" stroke="#000" stroke-width="0.6" stroke-dasharray="2 2"/>${
      box.label ? html`<text x="${(x + 2).toFixed(1)}" y="${Math.max(9, y - 2).toFixed(1)}" font-size="9" fill="#000" stroke="#fff" stroke-width="2" paint-order="stroke">${box.label}</text>` : ''
    }`;
  });
}

/** A thumbnail (a <use> of its symbol) with the probe's evidence boxes drawn over it, or a placeholder. */
function thumbnailBlock(
  inputs: RenderContext,
  imagePath: string | null,
  alt: string,
  boxes: readonly EvidenceBox[] = [],
  boxSpace: { width: number; height: number } | null = null,
): SafeHtml {
  const thumbnail = imagePath === null ? null : inputs.thumbnails.get(imagePath);
  if (!thumbnail || imagePath === null) return html`<div class="missing">${imagePath === null ? 'no image (failed or not run)' : 'image file missing'}</div>`;
  const id = inputs.sheet.use(imagePath, thumbnail);
  const { displayWidth: width, displayHeight: height } = thumbnail;
  return html`<svg class="thumb" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${alt}"><title>${alt}</title><use href="#${id}" width="${width}" height="${height}"/>${evidenceRects(boxes, thumbnail, boxSpace)}</svg>`;
}

const VERDICT_CLASS: Record<Verdict, string> = {
  reference: 'verdict-reference',
  better: 'verdict-better',
  worse: 'verdict-worse',
  higher: 'verdict-changed',
  lower: 'verdict-changed',
  'not significant': 'verdict-none',
  'too few pairs to conclude': 'verdict-none',
  'not compared': 'verdict-none',
};

function glanceSection(model: ReportModel): SafeHtml {
  const glance = atAGlance(model);
  const percent = Math.round(model.settings.confidence * 100);
  if (glance.metrics.length === 0) {
    return html`<section id="at-a-glance"><h2>At a glance</h2><p class="empty">No continuous or binary scores in this run.</p></section>`;
  }
  const rows = glance.metrics.flatMap((metric) => {
    const head = (span: number) =>
      html`<th scope="rowgroup" rowspan="${span}"><a href="#metric-${slug(metric.metric)}"><code>${metric.metric}</code></a><br><span class="note">${metric.kind !== 'binary' ? 'mean' : metric.higherIsBetter === false ? 'share flagged' : 'success rate'}, ${formatDirection(metric.higherIsBetter)}</span></th>`;
    if (metric.allUndetermined) {
      const scored = metric.rows.reduce((sum, row) => sum + row.undetermined, 0);
      return [html`<tr class="metric-start">${head(1)}<td colspan="7" class="empty">undetermined for all ${scored} scored samples: the probe could not judge any image</td></tr>`];
    }
    if (metric.constant !== null) {
      const n = metric.rows.reduce((sum, row) => sum + row.n, 0);
      return [html`<tr class="metric-start">${head(1)}<td colspan="7" class="constant">constant at <strong>${formatNumber(metric.constant)}</strong> in every condition (${n} samples): nothing to compare</td></tr>`];
    }
    return metric.rows.map((row, i) => {
      const c = row.comparison;
      const compared = row.verdict !== 'reference' && row.verdict !== 'not compared' && c !== null;
      return html`<tr class="${i === 0 ? 'metric-start ' : ''}${VERDICT_CLASS[row.verdict]}">${i === 0 ? head(metric.rows.length) : ''}<td>${row.conditionLabel}</td>${numberCell(row.n, `${row.n}${row.undetermined > 0 ? ` (+${row.undetermined} undet.)` : ''}`)}${intervalCell(row.mean)}${
        compared ? intervalCell(c.difference) : html`<td class="num">${row.verdict === 'reference' ? 'reference' : '—'}</td>`
      }${compared ? numberCell(c.nPairs) : html`<td class="num">—</td>`}${compared ? numberCell(c.pHolm, formatP(c.pHolm)) : html`<td class="num">—</td>`}<td class="verdict">${row.verdict === 'reference' ? '' : row.verdict}</td></tr>`;
    });
  });
  const reference = model.settings.reference;
  const findings =
    glance.findings.length > 0
      ? html`<p><strong>Significant differences</strong> (Holm-adjusted p &lt; ${SIGNIFICANCE_LEVEL}):</p><ul class="findings">${glance.findings.map((finding) => html`<li class="verdict-${finding.verdict}">${describeFinding(finding)}</li>`)}</ul>`
      : html`<p><strong>No ${glance.basis === 'primary' ? 'primary ' : ''}metric differs from the reference</strong> at Holm-adjusted p &lt; ${SIGNIFICANCE_LEVEL}${
          glance.minPairs !== null && glance.minPairs < MIN_PAIRS_TO_CONCLUDE ? html` — but with as few as ${glance.minPairs} pairs this run cannot rule out a difference either` : ''
        }.</p>`;
  const diagnostics = glance.diagnostics.map(
    (d) =>
      html`<li${d.mostlyFailing.length > 0 ? html` class="warning"` : ''}><a href="#metric-${slug(d.metric)}"><code>${d.metric}</code></a> (${
        d.kind !== 'binary' ? 'mean' : d.higherIsBetter === false ? 'share of images flagged' : 'share of images passing'
      }): ${d.means.map((m, i) => html`${i > 0 ? ', ' : ''}${m.conditionLabel} <strong>${d.kind === 'binary' ? formatPercent(m.mean) : formatNumber(m.mean)}</strong>`)}${
        d.mostlyFailing.length > 0
          ? html`. <strong>Most images fail this check in ${d.mostlyFailing.join(', ')}</strong>: the metrics above then describe degenerate images.`
          : ''
      }</li>`,
  );
  return html`<section id="at-a-glance"><h2>At a glance</h2>
<p class="note">${glance.basis === 'primary' ? 'The primary metric of each scorer' : 'Every metric (the scorers declared no primary metric)'}, per condition, against the reference condition “${reference}” on shared (prompt, seed) pairs. Difference = condition − reference with its ${percent}% paired bootstrap CI; p from Wilcoxon signed-rank (continuous) or McNemar (binary), Holm-adjusted per metric.</p>
${findings}
<table class="glance"><thead><tr><th scope="col">metric</th><th scope="col">condition</th><th scope="col">n</th><th scope="col">mean [${percent}% CI]</th><th scope="col">difference [${percent}% CI]</th><th scope="col">pairs</th><th scope="col">p (Holm)</th><th scope="col">verdict</th></tr></thead><tbody>${rows}</tbody></table>
${glance.minPairs !== null && glance.minPairs < MIN_PAIRS_TO_CONCLUDE ? html`<p class="warning">Few pairs: some comparisons rest on only ${glance.minPairs} (prompt, seed) pairs. Below ${MIN_PAIRS_TO_CONCLUDE} pairs a non-significant result says nothing about whether the conditions differ; with 5 or fewer, no test here can reach p &lt; ${SIGNIFICANCE_LEVEL}.</p>` : ''}
${diagnostics.length > 0 ? html`<p class="note">Image diagnostics (sanity checks on the pixels, not on the prompt):</p><ul class="diagnostics">${diagnostics}</ul>` : ''}
</section>`;
}

function overview(model: ReportModel): SafeHtml {
  const conditionRows = model.run.conditions.map(
    (c) => html`<tr><td>${c.label}</td><td>${c.mode}</td>${numberCell(c.handoff)}${numberCell(c.strength)}${numberCell(c.units)}${numberCell(c.ok)}${numberCell(c.failed)}<td><code>${c.id}</code></td></tr>`,
  );
  const metricRows = model.metrics.map(
    (m) =>
      html`<tr><td><code>${m.name}</code></td><td>${m.kind === 'categorical' ? '—' : m.role}</td><td>${m.kind}</td><td>${formatDirection(m.higherIsBetter)}</td><td>${m.scorer}@${m.scorerVersion}</td><td>${m.description}${m.inferred ? ' (metadata missing in the store)' : ''}</td></tr>`,
  );
  return html`<section id="overview"><h2>Overview</h2>
<p>Run <strong>${model.run.name}</strong>${model.run.experiment ? html` of experiment <strong>${model.run.experiment}</strong>` : ''}: ${model.run.units} units, ${model.run.ok} images, ${model.run.failed} failed, ${model.run.notRun} not run.</p>
<h3 id="conditions">Conditions</h3>${table(['condition', 'mode', 'handoff h', 'strength s', 'units', 'ok', 'failed', 'id'], conditionRows)}
<h3 id="metrics">Metrics</h3><details><summary>Definitions of the ${metricRows.length} metrics (role, kind, direction, scorer)</summary>${table(['metric', 'role', 'kind', 'direction', 'scorer', 'description'], metricRows)}</details></section>`;
}

type ModelMetric = ReportModel['metrics'][number];

/** Non-categorical metrics with at least one score, in report order. */
function scoredMetrics(model: ReportModel): ModelMetric[] {
  return model.metrics.filter((m) => m.kind !== 'categorical' && model.baseVsRefiner.summaries.some((s) => s.metric === m.name && s.n + s.undetermined > 0));
}

const ROLE_TITLES: Record<MetricRole, string> = {
  primary: 'primary',
  secondary: 'secondary',
  diagnostic: 'image diagnostic',
  detail: 'diagnostic detail',
};

function pairedTable(model: ReportModel, metric: ModelMetric, comparisons: ReportModel['baseVsRefiner']['comparisons']): SafeHtml {
  const percent = Math.round(model.settings.confidence * 100);
  return table(
    ['condition', 'reference', 'pairs', 'reference mean', 'condition mean', `difference [${percent}% CI]`, `win rate [${percent}% CI]`, 'test', 'statistic', 'p', 'p (Holm)'],
    comparisons.map(
      (c) =>
        html`<tr${significant(c.pHolm) ? html` class="significant"` : ''}><td>${c.conditionLabel}</td><td>${c.referenceLabel}</td>${numberCell(c.nPairs)}${numberCell(c.referenceMean)}${numberCell(c.conditionMean)}${intervalCell(c.difference)}${numberCell(
          c.winRate?.rate ?? null,
          c.winRate
            ? `${formatPercent(c.winRate.rate)} [${formatPercent(c.winRate.lower)}, ${formatPercent(c.winRate.upper)}] (${c.winRate.wins}/${c.winRate.ties}/${c.winRate.losses})`
            : metric.higherIsBetter === null
              ? 'no direction'
              : '—',
        )}<td>${testName(c.test, c.testMethod)}</td><td>${c.statistic === null ? '—' : c.test === 'wilcoxon-signed-rank' ? `V = ${c.statistic}` : `${c.statistic} discordant`}</td>${numberCell(c.pValue, formatP(c.pValue))}${numberCell(c.pHolm, formatP(c.pHolm))}</tr>`,
    ),
    `Paired against the reference on shared (prompt, seed) pairs; difference = condition − reference; win rate: wins/ties/losses, ${model.settings.tieRule}`,
  );
}

function metricBlock(inputs: RenderContext, metric: ModelMetric): SafeHtml {
  const { model } = inputs;
  const percent = Math.round(model.settings.confidence * 100);
  const summaries = model.baseVsRefiner.summaries.filter((s) => s.metric === metric.name);
  const comparisons = model.baseVsRefiner.comparisons.filter((c) => c.metric === metric.name);
  const categories = model.baseVsRefiner.categories.filter((c) => c.metric === metric.name);
  const heading = html`<h3><code>${metric.name}</code> <span class="role role-${metric.role}">${ROLE_TITLES[metric.role]}</span></h3>
<p class="note">${sentence(metric.description)} <span class="meta">${metric.kind}, ${formatDirection(metric.higherIsBetter)}; scorer ${metric.scorer}@${metric.scorerVersion}</span></p>`;
  const scored = summaries.reduce((sum, s) => sum + s.n + s.undetermined, 0);
  if (summaries.every((s) => s.n === 0)) {
    return html`<section class="metric" id="metric-${slug(metric.name)}">${heading}<p class="empty">Undetermined for all ${scored} scored samples in every condition, so there is nothing to estimate or compare.</p></section>`;
  }
  const constant = constantValue(summaries);
  if (constant !== null) {
    const determined = summaries.reduce((sum, s) => sum + s.n, 0);
    const undetermined = scored - determined;
    return html`<section class="metric" id="metric-${slug(metric.name)}">${heading}<p class="constant">Constant at <strong>${formatNumber(constant)}</strong> in every condition (${determined} samples${undetermined > 0 ? `, ${undetermined} undetermined` : ''}): no chart and no comparison to make.</p></section>`;
  }
  const charts = model.charts.filter((chart) => chart.section === 'base-vs-refiner' && chart.metric === metric.name);
  const smallGroups = categories.filter((c) => c.n > 0 && c.n < SMALL_GROUP);
  // a curve left without a chart (one point, or flat with no spread) is said in words
  const flatCurves = (['handoff', 'strength'] as const).flatMap((axis) => {
    const points = model.baseVsRefiner.curves.filter((point) => point.metric === metric.name && point.axis === axis);
    if (points.length === 0 || charts.some((chart) => chart.id.startsWith(`curve-${axis}-`))) return [];
    const along = axis === 'handoff' ? 'handoff fraction' : 'SDEdit strength';
    const values = new Set(points.map((point) => point.mean));
    return [
      html`<p class="flat-curve">Mean vs ${along}: ${
        new Set(points.map((point) => point.x)).size < 2
          ? html`a single point (${points.map((point) => `${point.conditionLabel}: ${formatNumber(point.mean)}`).join(', ')}), so no curve.`
          : values.size === 1
            ? html`constant at <strong>${formatNumber(points[0].mean)}</strong> at every point (${points.map((point) => point.conditionLabel).join(', ')}), so no chart.`
            : ''
      }</p>`,
    ];
  });
  return html`<section class="metric" id="metric-${slug(metric.name)}">${heading}
${chartFigures(inputs, (chart) => chart.section === 'base-vs-refiner' && chart.metric === metric.name)}${flatCurves}
${table(
  ['condition', 'n', 'undetermined', `mean [${percent}% CI]`],
  summaries.map((s) => html`<tr><td>${s.conditionLabel}</td>${numberCell(s.n)}${numberCell(s.undetermined)}${intervalCell(s.mean)}</tr>`),
  `Per condition (${metric.kind === 'binary' ? 'mean = success rate' : 'mean score'})`,
)}
${comparisons.length === 0 ? html`<p class="empty">No paired comparison: no reference condition matched “${model.settings.reference}”.</p>` : pairedTable(model, metric, comparisons)}
${smallGroups.length > 0
  ? html`<p class="note">Breakdown intervals rest on as few as ${Math.min(...smallGroups.map((c) => c.n))} samples in some groups (${[...new Set(smallGroups.map((c) => c.group))].join(', ')}); intervals from fewer than ${SMALL_GROUP} samples are not reliable.</p>`
  : ''}
${categories.length === 0
  ? ''
  : html`<details><summary>Breakdown by prompt category (${categories.length} rows)</summary>${table(
      ['level', 'group', 'condition', 'n', `mean [${percent}% CI]`],
      categories.map((c) => html`<tr><td>${c.level}</td><td>${c.group}</td><td>${c.conditionLabel}</td>${numberCell(c.n)}${intervalCell(c.mean)}</tr>`),
    )}</details>`}
</section>`;
}

/** The 'detail' metrics (components of a diagnostic) folded into one compact table of means. */
function detailBlock(inputs: RenderContext, metrics: readonly ModelMetric[]): SafeHtml {
  const { model } = inputs;
  if (metrics.length === 0) return html``;
  const percent = Math.round(model.settings.confidence * 100);
  const conditions = model.run.conditions;
  const rows = metrics.map((metric) => {
    const summaries = model.baseVsRefiner.summaries.filter((s) => s.metric === metric.name);
    const constant = constantValue(summaries);
    const label = html`<td><code>${metric.name}</code><br><span class="note">${metric.description}</span></td><td>${formatDirection(metric.higherIsBetter)}</td>`;
    if (summaries.every((s) => s.n === 0)) return html`<tr>${label}<td colspan="${conditions.length}" class="empty">undetermined for every sample</td></tr>`;
    if (constant !== null) return html`<tr>${label}<td colspan="${conditions.length}" class="constant">constant at <strong>${formatNumber(constant)}</strong> in every condition</td></tr>`;
    return html`<tr>${label}${conditions.map((condition) => {
      const summary = summaries.find((s) => s.conditionId === condition.id);
      const comparison = model.baseVsRefiner.comparisons.find((c) => c.metric === metric.name && c.conditionId === condition.id);
      const flagged = comparison !== undefined && significant(comparison.pHolm);
      return numberCell(summary?.mean?.estimate ?? null, `${formatInterval(summary?.mean ?? null)}${flagged ? ' †' : ''}`);
    })}</tr>`;
  });
  const comparisons = model.baseVsRefiner.comparisons.filter((c) => metrics.some((m) => m.name === c.metric) && constantValue(model.baseVsRefiner.summaries.filter((s) => s.metric === c.metric)) === null);
  return html`<section class="metric" id="diagnostic-details"><h3>Diagnostic details <span class="role role-detail">${metrics.length} metrics</span></h3>
<p class="note">The components behind the image diagnostics, one row each: mean [${percent}% CI] per condition (binary flags: share of images flagged). † = differs from the reference with Holm-adjusted p &lt; ${SIGNIFICANCE_LEVEL}.</p>
<table class="sortable compact"><thead><tr><th scope="col">metric</th><th scope="col">direction</th>${conditions.map((c) => html`<th scope="col">${c.label}</th>`)}</tr></thead><tbody>${rows}</tbody></table>
${comparisons.length === 0
  ? ''
  : html`<details><summary>Paired comparisons of the details against the reference (${comparisons.length} rows)</summary>${table(
      ['metric', 'condition', 'reference', 'pairs', `difference [${percent}% CI]`, 'test', 'p', 'p (Holm)'],
      comparisons.map(
        (c) =>
          html`<tr><td><code>${c.metric}</code></td><td>${c.conditionLabel}</td><td>${c.referenceLabel}</td>${numberCell(c.nPairs)}${intervalCell(c.difference)}<td>${testName(c.test, c.testMethod)}</td>${numberCell(c.pValue, formatP(c.pValue))}${numberCell(c.pHolm, formatP(c.pHolm))}</tr>`,
      ),
    )}</details>`}
</section>`;
}

function baseVsRefiner(inputs: RenderContext): SafeHtml {
  const { model } = inputs;
  const metrics = scoredMetrics(model);
  const full = metrics.filter((m) => m.role !== 'detail');
  const details = metrics.filter((m) => m.role === 'detail');
  const strips = model.strips.map(
    (strip) => html`<div class="strip"><h4>${strip.promptText} <span class="note">(${strip.promptId}, seed ${strip.seed})</span></h4><div class="strip-row">${strip.cells.map(
      (cell) =>
        html`<figure class="cell">${thumbnailBlock(inputs, cell.imagePath, `${cell.conditionLabel}: ${strip.promptText}`)}<figcaption><strong>${cell.conditionLabel}</strong>${cell.status !== 'ok' ? html` — ${cell.status}` : ''}${cell.values.map(
          (v) => html`<br>${v.metric}: ${v.value === null ? v.label ?? '—' : formatNumber(v.value)}`,
        )}</figcaption></figure>`,
    )}</div></div>`,
  );
  return html`<section id="base-vs-refiner"><h2>Base vs refiner</h2>
${model.baseVsRefiner.unpairedConditions.length > 0 ? html`<p class="note">Conditions without a reference to pair with: ${model.baseVsRefiner.unpairedConditions.join(', ')}.</p>` : ''}
${metrics.length === 0 ? html`<p class="empty">No continuous or binary scores in this run.</p>` : [...full.map((metric) => metricBlock(inputs, metric)), detailBlock(inputs, details)]}
<h3 id="image-strips">Image strips</h3>
${strips.length === 0 ? html`<p class="empty">No images.</p>` : html`<p class="note">The same prompt and seed under every condition (${model.strips.length} prompt–seed pairs: each prompt’s first seed, then the next).</p>${strips}`}
</section>`;
}

function bias(inputs: RenderContext): SafeHtml {
  const { model } = inputs;
  const percent = Math.round(model.settings.confidence * 100);
  if (model.bias.length === 0) {
    return html`<section id="bias"><h2>Bias</h2><p class="empty">No perceived-attribute (categorical) probe records in this run.</p></section>`;
  }
  const blocks = model.bias.map((result) => {
    const predictor = result.classifiers.length > 0 ? result.classifiers.join(', ') : 'a classifier the records do not name';
    return html`<section class="metric" id="bias-${slug(result.metric)}"><h3><code>${result.metric}</code>: perceived labels, as predicted by ${predictor}</h3>
<p class="note">${result.description}</p>
<p>Label set (K = ${result.labelSet.length}): ${result.labelSet.map((label, i) => html`${i > 0 ? ', ' : ''}<code>${label}</code>`)}; plus <code>${UNKNOWN_LABEL}</code>.</p>
${chartFigures(inputs, (chart) => chart.section === 'bias' && chart.metric === result.metric)}
${table(
  ['condition', 'prompts', 'images', 'unknown', `MAD from uniform [${percent}% CI]`, `bias intensity 1 − H_norm [${percent}% CI]`],
  result.conditions.map(
    (c) => html`<tr><td>${c.conditionLabel}</td>${numberCell(c.prompts)}${numberCell(c.images)}${numberCell(c.unknown)}${intervalCell(c.mad)}${intervalCell(c.intensity)}</tr>`,
  ),
  'Mean over prompts of the per-prompt measure (DALL-Eval MAD; OpenBias context-aware intensity); for K = 2 the MAD equals HEIM’s |f − 0.5|',
)}
${result.changes.length === 0
  ? html`<p class="empty">No change against the reference: no reference condition with these prompts.</p>`
  : table(
      ['condition', 'reference', 'prompts', 'paired images', `MAD change [${percent}% CI]`, `intensity change [${percent}% CI]`],
      result.changes.map(
        (c) => html`<tr><td>${c.conditionLabel}</td><td>${c.referenceLabel}</td>${numberCell(c.prompts)}${numberCell(c.pairs)}${intervalCell(c.madChange)}${intervalCell(c.intensityChange)}</tr>`,
      ),
      'Change = condition − reference, images paired by seed within each prompt',
    )}
<details><summary>Per-prompt counts (${result.distributions.length} rows)</summary>${table(
      ['condition', 'prompt', ...result.labelSet, UNKNOWN_LABEL],
      result.distributions.map(
        (d) => html`<tr><td>${d.conditionLabel}</td><td>${d.promptText} <span class="note">(${d.promptId})</span></td>${result.labelSet.map((label) => numberCell(d.counts[label] ?? 0))}${numberCell(d.unknown)}</tr>`,
      ),
    )}</details>
</section>`;
  });
  return html`<section id="bias"><h2>Bias</h2>
<div class="statement"><p><strong>What these labels can and cannot show.</strong> ${PERCEIVED_LABELS_STATEMENT.join(' ')}</p></div>
${blocks}</section>`;
}

function themeMetricBlock(inputs: RenderContext, metric: ThemeMetric): SafeHtml {
  const percent = Math.round(inputs.model.settings.confidence * 100);
  const binary = metric.kind === 'binary';
  const heading = html`<h4><code>${metric.metric}</code></h4>
<p class="note">${sentence(metric.description)}${metric.failureMeans ? html` Failure means: ${sentence(metric.failureMeans)}` : ''}${binary ? html` (A failure is the value ${metric.failureValue}.)` : ''}</p>`;
  if (metric.rows.every((row) => row.n === 0)) {
    const undetermined = metric.rows.reduce((sum, row) => sum + row.undetermined, 0);
    return html`<div class="theme-metric">${heading}<p class="empty">Undetermined for all ${undetermined} scored samples, so this run says nothing about this limitation.</p></div>`;
  }
  return html`<div class="theme-metric">${heading}
${table(
  binary ? ['condition', 'determined', 'undetermined', 'failures', `failure rate [${percent}% Wilson CI]`] : ['condition', 'n', 'undetermined', `mean [${percent}% CI]`],
  metric.rows.map((row) =>
    binary
      ? html`<tr><td>${row.conditionLabel}</td>${numberCell(row.n)}${numberCell(row.undetermined)}${numberCell(row.failures)}${numberCell(
          row.estimate,
          row.estimate === null ? '—' : `${formatPercent(row.estimate)} [${formatPercent(row.lower)}, ${formatPercent(row.upper)}]`,
        )}</tr>`
      : html`<tr><td>${row.conditionLabel}</td>${numberCell(row.n)}${numberCell(row.undetermined)}${numberCell(row.estimate, row.estimate === null ? '—' : `${formatNumber(row.estimate)} [${formatNumber(row.lower)}, ${formatNumber(row.upper)}]`)}</tr>`,
  ),
)}
${metric.worst.length === 0
  ? html`<p class="empty">${binary ? 'No failures to show.' : 'No examples (the metric has no direction).'}</p>`
  : html`<p class="note">${binary ? 'Failures' : 'Worst scores'}${metric.worst.some((example) => example.boxes.length > 0) ? ', with the probe’s evidence (boxes drawn from the record’s detail)' : ''}:</p><div class="examples">${metric.worst.map(
      (example) =>
        html`<figure class="cell">${thumbnailBlock(inputs, example.imagePath, `${example.conditionLabel}: ${example.promptText}`, example.boxes, example.boxSpace)}<figcaption><strong>${example.conditionLabel}</strong>, seed ${example.seed}<br>${example.promptText}<br>value ${example.value === null ? 'undetermined' : formatNumber(example.value)}${example.label ? ` (${example.label})` : ''}${
          example.detail ? html`<details class="evidence"><summary>record detail</summary><code>${example.detail}</code></details>` : ''
        }</figcaption></figure>`,
    )}</div>`}
</div>`;
}

function limitations(inputs: RenderContext): SafeHtml {
  const { model } = inputs;
  const themes = model.limitations.themes.map(
    (theme) => html`<section class="theme" id="limitation-${theme.id}"><h3>${theme.title}</h3><blockquote>${theme.modelCard} <span class="note">(SDXL 1.0 model card)</span></blockquote>
${theme.metrics.length === 0 ? html`<p class="empty">No probe for this in this run.</p>` : theme.metrics.map((metric) => themeMetricBlock(inputs, metric))}</section>`,
  );
  return html`<section id="limitations"><h2>Limitations</h2>
<p class="note">The model card’s limitations, each with the run’s probes that measure it. Binary probes: failure rate among determined samples (Wilson interval); continuous probes: mean with bootstrap interval and the worst-scoring images.</p>
${themes}
${model.limitations.other.length > 0 ? html`<section class="theme" id="limitation-other"><h3>Other probes with failure outcomes</h3>${model.limitations.other.map((metric) => themeMetricBlock(inputs, metric))}</section>` : ''}
</section>`;
}

function comparison(inputs: RenderContext): SafeHtml {
  const compare = inputs.model.compare;
  if (!compare) return html``;
  const percent = Math.round(inputs.model.settings.confidence * 100);
  return html`<section id="comparison"><h2>Comparison: ${compare.thisRun} vs ${compare.otherRun}</h2>
<p class="note">Pairing: ${compare.pairing}. Difference = ${compare.thisRun} − ${compare.otherRun}; Holm per metric across condition labels.</p>
${compare.metricsOnlyHere.length + compare.metricsOnlyThere.length > 0 ? html`<p class="note">Metrics in one run only: ${[...compare.metricsOnlyHere, ...compare.metricsOnlyThere].join(', ')}.</p>` : ''}
${compare.labelsOnlyHere.length + compare.labelsOnlyThere.length > 0 ? html`<p class="note">Conditions in one run only: ${[...compare.labelsOnlyHere, ...compare.labelsOnlyThere].join(', ')}.</p>` : ''}
${chartFigures(inputs, (chart) => chart.section === 'comparison')}
${table(
  ['metric', 'condition', `${compare.thisRun} mean [${percent}% CI]`, `${compare.otherRun} mean [${percent}% CI]`, 'pairs', `difference [${percent}% CI]`, 'win rate', 'test', 'p', 'p (Holm)'],
  compare.rows.map(
    (row) =>
      html`<tr><td><code>${row.metric}</code></td><td>${row.conditionLabel}</td>${intervalCell(row.thisMean)}${intervalCell(row.otherMean)}${numberCell(row.nPairs)}${intervalCell(row.difference)}${numberCell(
        row.winRate?.rate ?? null,
        row.winRate ? `${formatPercent(row.winRate.rate)} [${formatPercent(row.winRate.lower)}, ${formatPercent(row.winRate.upper)}]` : '—',
      )}<td>${row.test ?? '—'}</td>${numberCell(row.pValue, formatP(row.pValue))}${numberCell(row.pHolm, formatP(row.pHolm))}</tr>`,
  ),
)}
</section>`;
}

function reproducibility(model: ReportModel): SafeHtml {
  const r = model.reproducibility;
  const determinism =
    r.determinism.status === 'not checked'
      ? html`<p>Determinism check: <strong>not checked</strong> (the run recorded no <code>determinism</code> entry).</p>`
      : html`<p>Determinism check: <strong>${r.determinism.status}</strong></p><pre>${JSON.stringify(r.determinism.detail, null, 2)}</pre>`;
  return html`<section id="reproducibility"><h2>Reproducibility</h2>
<h3>Command</h3>${r.command ? html`<pre>${r.command}</pre><p class="note">As recorded in manifest.json. Rerunning it on the same run folder completes only missing units; on an empty folder it regenerates the run.</p>` : html`<p class="empty">The manifest records no command.</p>`}
<h3>Determinism</h3>${determinism}
<h3>Model hashes</h3>${r.modelHashes.length === 0 ? html`<p class="empty">No model hashes in the manifest.</p>` : table(['model file', 'hash'], r.modelHashes.map((entry) => html`<tr><td><code>${entry.path}</code></td><td><code>${entry.value}</code></td></tr>`))}
<h3>Manifest</h3>${r.manifest ? html`<details><summary>manifest.json</summary><pre>${JSON.stringify(r.manifest, null, 2)}</pre></details>` : html`<p class="empty">No manifest.json in the run folder.</p>`}
<h3>Resolved configuration</h3>${r.spec ? html`<details><summary>spec.json</summary><pre>${JSON.stringify(r.spec, null, 2)}</pre></details>` : html`<p class="empty">No spec.json in the run folder.</p>`}
</section>`;
}

function methods(model: ReportModel): SafeHtml {
  const s = model.settings;
  return html`<section id="methods"><h2>Statistical methods</h2><ul>
<li>Intervals: ${Math.round(s.confidence * 100)}% percentile bootstrap with ${s.bootstrap.resamples} resamples, seed ${s.bootstrap.seed}; ${s.bootstrap.streams}.</li>
<li>Reference condition: “${s.reference}”; ${s.pairing}. The number of pairs is shown with every comparison.</li>
<li>Continuous metrics: ${s.tests.continuous}.</li>
<li>Binary metrics: ${s.tests.binary}.</li>
<li>Multiple comparisons: ${s.tests.multiplicity}.</li>
<li>Win rate: ${s.tieRule}.</li>
<li>Bias: ${s.bias}.</li>
<li>Failure rates: share of determined samples with the failing value (0, or 1 for lower-is-better flags); Wilson score interval.</li>
</ul></section>`;
}

function tableOfContents(model: ReportModel): SafeHtml {
  const metrics = scoredMetrics(model);
  const groups = (['primary', 'secondary', 'diagnostic'] as const)
    .map((role) => ({ role, metrics: metrics.filter((m) => m.role === role) }))
    .filter((group) => group.metrics.length > 0)
    .map(
      (group) =>
        html`<li>${ROLE_TITLES[group.role]}: ${group.metrics.map((m, i) => html`${i > 0 ? ' · ' : ''}<a href="#metric-${slug(m.name)}">${m.name}</a>`)}</li>`,
    );
  const details = metrics.filter((m) => m.role === 'detail');
  const metricLinks = [...groups, ...(details.length > 0 ? [html`<li><a href="#diagnostic-details">diagnostic details</a> (${details.length} metrics)</li>`] : [])];
  return html`<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>
<li><a href="#at-a-glance">At a glance</a></li>
<li><a href="#overview">Overview</a></li>
<li><a href="#base-vs-refiner">Base vs refiner</a>${metricLinks.length > 0 ? html`<ol>${metricLinks}<li><a href="#image-strips">Image strips</a></li></ol>` : ''}</li>
<li><a href="#bias">Bias</a>${model.bias.length > 0 ? html`<ol>${model.bias.map((b) => html`<li><a href="#bias-${slug(b.metric)}">${b.metric}</a></li>`)}</ol>` : ''}</li>
<li><a href="#limitations">Limitations</a><ol>${model.limitations.themes.map((t) => html`<li><a href="#limitation-${t.id}">${t.title}</a></li>`)}</ol></li>
${model.compare ? html`<li><a href="#comparison">Comparison with ${model.compare.otherRun}</a></li>` : ''}
<li><a href="#reproducibility">Reproducibility</a></li>
<li><a href="#methods">Statistical methods</a></li>
</ol></nav>`;
}

export function renderHtml(inputs: HtmlInputs): string {
  const { model } = inputs;
  const context: RenderContext = { ...inputs, sheet: new ImageSheet() };
  const scriptHash = createHash('sha256').update(SORT_SCRIPT, 'utf8').digest('base64');
  const csp = `default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-${scriptHash}'; base-uri 'none'; form-action 'none'`;
  // sections first: they register the images that the sheet then defines once each
  const content = html`<header><h1>${model.title}</h1><p class="note">refinery report of run ${model.run.name}${model.reproducibility.manifest && typeof model.reproducibility.manifest.startedAt === 'string' ? html`, started ${model.reproducibility.manifest.startedAt}` : ''}</p></header>
${glanceSection(model)}
${tableOfContents(model)}
${overview(model)}
${baseVsRefiner(context)}
${bias(context)}
${limitations(context)}
${comparison(context)}
${reproducibility(model)}
${methods(model)}`;
  const page = html`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${model.title} — refinery report</title>
<style>${trustedHtml(STYLE)}</style></head>
<body>${context.sheet.render()}<main>
${content}
</main>
<script>${trustedHtml(SORT_SCRIPT)}</script>
</body></html>
`;
  return page.value;
}
