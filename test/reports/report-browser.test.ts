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
import { decodePng, type RgbImage } from '../../pipelines/image/png.js';
import { encodeJpeg } from '../../reports/jpeg.js';
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
  // a blank page has variance 0; black text on white gives hundreds
  expect(luminanceVariance(screenshot)).toBeGreaterThan(100);
  return { page, consoleErrors, dialogs };
}

function luminanceVariance(image: RgbImage): number {
  let sum = 0;
  let sumSquares = 0;
  const pixels = image.width * image.height;
  for (let i = 0; i < pixels; i++) {
    const luminance = 0.299 * image.data[3 * i] + 0.587 * image.data[3 * i + 1] + 0.114 * image.data[3 * i + 2];
    sum += luminance;
    sumSquares += luminance * luminance;
  }
  return sumSquares / pixels - (sum / pixels) ** 2;
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
    const header = page.locator('#conditions + .table-scroll th', { hasText: 'units' });
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
    // each image is defined once as a <symbol> and drawn with <use>: the drawn thumbnail shows the image
    const pageSource = readFileSync(htmlPath, 'utf8');
    expect(pageSource.match(/<symbol /g)!.length).toBe(new Set(model.strips.flatMap((strip) => strip.cells.map((cell) => cell.imagePath))).size);
    const thumb = page.locator('.strip svg.thumb').first();
    const box = (await thumb.boundingBox())!;
    expect([box.width, box.height]).toEqual([128, 128]);
    const shot = decodePng(await thumb.screenshot(), 'thumbnail').image;
    expect(luminanceVariance(shot)).toBeGreaterThan(20);
    await page.close();
  });

  it('JPEG thumbnails: Chromium decodes our encoder\'s output to the source pixels (PSNR rises with quality)', async () => {
    const page = await browser.newPage();
    const size = 64;
    const data = new Uint8Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const o = (y * size + x) * 3;
        const disc = (x - 20) ** 2 + (y - 24) ** 2 < 144;
        data[o] = disc ? 220 : Math.round(120 + 60 * Math.sin(x / 7));
        data[o + 1] = disc ? 30 : Math.round(140 + 50 * Math.cos(y / 9));
        data[o + 2] = x > 40 && y > 36 ? 200 : Math.round(90 + (x + y));
      }
    }
    // 61 × 45 is not a multiple of 8: the edge blocks are padded and cropped again by the decoder
    const odd = { width: 61, height: 45, data: new Uint8Array(61 * 45 * 3) };
    for (let y = 0; y < 45; y++) for (let x = 0; x < 61; x++) odd.data.set(data.subarray((y * size + x) * 3, (y * size + x) * 3 + 3), (y * 61 + x) * 3);
    const psnr: Record<string, number> = {};
    for (const [name, image] of [['square', { width: size, height: size, data }], ['odd', odd]] as const) {
      for (const quality of [50, 80, 95]) {
        const decoded = await decodeInBrowser(page, `data:image/jpeg;base64,${encodeJpeg(image, quality).toString('base64')}`);
        expect([decoded.width, decoded.height]).toEqual([image.width, image.height]);
        let squared = 0;
        for (let i = 0; i < image.width * image.height; i++) for (let c = 0; c < 3; c++) squared += (decoded.rgba[4 * i + c] - image.data[3 * i + c]) ** 2;
        psnr[`${name}@${quality}`] = 10 * Math.log10((255 * 255) / (squared / (image.width * image.height * 3)));
      }
    }
    for (const name of ['square', 'odd']) {
      expect(psnr[`${name}@80`]).toBeGreaterThan(32);
      expect(psnr[`${name}@95`]).toBeGreaterThan(psnr[`${name}@80`]);
      expect(psnr[`${name}@80`]).toBeGreaterThan(psnr[`${name}@50`]);
    }
    await page.close();
  });
});

async function decodeInBrowser(page: Page, uri: string): Promise<{ width: number; height: number; rgba: number[] }> {
  // a string, because the test's TypeScript has no DOM types; runs in the page (about:blank)
  const script = `(async () => {
    const image = new Image();
    image.src = ${JSON.stringify(uri)};
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    return { width: image.width, height: image.height, rgba: Array.from(context.getImageData(0, 0, image.width, image.height).data) };
  })()`;
  return (await page.evaluate(script)) as { width: number; height: number; rgba: number[] };
}
