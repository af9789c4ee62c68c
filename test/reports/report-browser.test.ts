// Opens built reports in headless Chromium (Debian `chromium`, driven by playwright-core) and checks
// what a reader sees: no console errors, no network requests, every chart drawn, a non-blank page, and
// the <script> prompt shown as text. Reports of a synthetic run and of the demo experiment (made smaller
// with --set) are checked. Skipped, with a message, where chromium is not installed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildReport } from '../../reports/build.js';
import type { ReportModel } from '../../reports/model.js';
import { decodePng } from '../../pipelines/image/png.js';
import { SCRIPT_PROMPT, writeSyntheticRun } from './synthetic-run.js';

const CHROMIUM = '/usr/bin/chromium';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`report browser test skipped: ${CHROMIUM} not found (install Debian's chromium package)`);

interface PageCheck {
  page: Page;
  consoleErrors: string[];
  dialogs: string[];
}

/** Opens the report and checks what every report must satisfy; returns the page for more checks. */
async function openAndCheck(browser: Browser, htmlPath: string, model: ReportModel): Promise<PageCheck> {
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
  expect(await page.locator('script').count()).toBe(1);

  const screenshot = decodePng(await page.screenshot({ fullPage: false }), 'screenshot').image;
  let sum = 0;
  let sumSquares = 0;
  const pixels = screenshot.width * screenshot.height;
  for (let i = 0; i < pixels; i++) {
    const luminance = 0.299 * screenshot.data[3 * i] + 0.587 * screenshot.data[3 * i + 1] + 0.114 * screenshot.data[3 * i + 2];
    sum += luminance;
    sumSquares += luminance * luminance;
  }
  // a blank page has variance 0; black text on white gives hundreds
  expect(sumSquares / pixels - (sum / pixels) ** 2).toBeGreaterThan(100);
  return { page, consoleErrors, dialogs };
}

function readModel(htmlPath: string): ReportModel {
  return JSON.parse(readFileSync(join(dirname(htmlPath), 'report.json'), 'utf8')) as ReportModel;
}

describe.skipIf(!hasChromium)('report.html in headless Chromium', () => {
  let root: string;
  let browser: Browser;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'refinery-browser-'));
    browser = await chromium.launch({ executablePath: CHROMIUM });
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('synthetic run: no console errors or requests, every chart, the <script> prompt as text, sortable tables', async () => {
    writeSyntheticRun(join(root, 'run'));
    const { htmlPath } = await buildReport(join(root, 'run'), { out: join(root, 'report') });
    const { page, consoleErrors, dialogs } = await openAndCheck(browser, htmlPath, readModel(htmlPath));

    expect(await page.locator('.strip h4', { hasText: SCRIPT_PROMPT }).count()).toBe(1);
    expect(dialogs).toEqual([]);

    // the table sorter runs (its script is allowed by the page's CSP hash)
    const header = page.locator('#conditions + table th', { hasText: 'units' });
    await header.click();
    expect(await header.getAttribute('aria-sort')).toBe('ascending');
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('demo experiment (2 prompts, 1 seed, tiny models): the report of a real run passes the same checks', async () => {
    const runDir = join(root, 'demo');
    execFileSync(
      process.execPath,
      [join(repoRoot, 'bin', 'refinery.mjs'), 'run', join(repoRoot, 'experiments', 'demo.yaml'), '--out', runDir, '--set', 'seeds=[0]', '--set', 'prompts[0].limit=2', '--quiet', '--no-report'],
      { cwd: repoRoot, encoding: 'utf8' },
    );
    const { htmlPath } = await buildReport(runDir);
    const model = readModel(htmlPath);
    expect(model.run.ok).toBe(8);
    const { page } = await openAndCheck(browser, htmlPath, model);
    expect(await page.locator('.strip').count()).toBe(2);
    await page.close();
  });
});
