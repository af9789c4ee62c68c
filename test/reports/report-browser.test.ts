// Opens a built report in headless Chromium (Debian `chromium`, driven by playwright-core) and checks
// what a reader sees: no console errors, no network requests, every chart drawn, a non-blank page, and
// the <script> prompt shown as text. Skipped, with a message, where chromium is not installed.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { buildReport } from '../../reports/build.js';
import type { ReportModel } from '../../reports/model.js';
import { decodePng } from '../../pipelines/image/png.js';
import { SCRIPT_PROMPT, writeSyntheticRun } from './synthetic-run.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`report browser test skipped: ${CHROMIUM} not found (install Debian's chromium package)`);

describe.skipIf(!hasChromium)('report.html in headless Chromium', () => {
  let root: string;
  let htmlPath: string;
  let model: ReportModel;
  let browser: Browser;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'refinery-browser-'));
    writeSyntheticRun(join(root, 'run'));
    const result = await buildReport(join(root, 'run'), { out: join(root, 'report') });
    htmlPath = result.htmlPath;
    model = JSON.parse(readFileSync(join(root, 'report', 'report.json'), 'utf8')) as ReportModel;
    browser = await chromium.launch({ executablePath: CHROMIUM });
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('loads with no console errors, no requests but the file itself, every chart, and the prompt as text', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const consoleErrors: string[] = [];
    const requests: string[] = [];
    const dialogs: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
    page.on('request', (request) => requests.push(request.url()));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const url = pathToFileURL(htmlPath).href;
    await page.goto(url, { waitUntil: 'load' });

    expect(consoleErrors).toEqual([]);
    // inline data: images are decoded in place, not fetched; anything else would be a network load
    expect(requests.filter((request) => !request.startsWith('data:'))).toEqual([url]);

    expect(model.charts.length).toBeGreaterThan(0);
    expect(await page.locator('figure.chart > svg').count()).toBe(model.charts.length);
    for (const chart of model.charts) {
      const box = await page.locator(`figure#chart-${chart.id} > svg`).boundingBox();
      expect(box!.width).toBeGreaterThan(50);
      expect(box!.height).toBeGreaterThan(50);
    }

    const shown = page.locator('.strip h4', { hasText: SCRIPT_PROMPT });
    expect(await shown.count()).toBe(1);
    expect(await page.locator('script').count()).toBe(1);
    expect(dialogs).toEqual([]);

    // the table sorter runs (its script is allowed by the page's CSP hash)
    const header = page.locator('#conditions + table th', { hasText: 'units' });
    await header.click();
    expect(await header.getAttribute('aria-sort')).toBe('ascending');
    expect(consoleErrors).toEqual([]);

    const screenshot = decodePng(await page.screenshot({ fullPage: false }), 'screenshot').image;
    let sum = 0;
    let sumSquares = 0;
    const pixels = screenshot.width * screenshot.height;
    for (let i = 0; i < pixels; i++) {
      const luminance = 0.299 * screenshot.data[3 * i] + 0.587 * screenshot.data[3 * i + 1] + 0.114 * screenshot.data[3 * i + 2];
      sum += luminance;
      sumSquares += luminance * luminance;
    }
    const variance = sumSquares / pixels - (sum / pixels) ** 2;
    // a blank page has variance 0; black text on white gives hundreds
    expect(variance).toBeGreaterThan(100);
    await page.close();
  });
});
