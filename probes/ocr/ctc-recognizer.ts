/**
 * Pre- and post-processing of PaddleOCR's CRNN/SVTR text recogniser (PaddleOCR `resize_norm_img` and
 * `CTCLabelDecode`):
 * - input: the line crop resized to height 48 keeping its aspect ratio (width ⌈48·w/h⌉), channels B, G, R
 *   scaled to [-1, 1] ((v/255 − 0.5)/0.5), zero-padded on the right to max(320, that width) — the width
 *   the model was trained around;
 * - output [1, T, C] probabilities; greedy CTC: per step the most likely class, repeats merged, blanks
 *   removed; the line confidence is the mean probability of the kept steps.
 * - classes: index 0 is the CTC blank, then one per line of the keys file, then the space character.
 */
import type { RgbImage } from '../../pipelines/image/png.js';
import { resizeBilinear } from './image-ops.js';

export const RECOGNIZER_HEIGHT = 48;
export const RECOGNIZER_MIN_WIDTH = 320;

/** The class list from the keys file's text: [blank, …lines, ' ']. */
export function characterClasses(keysText: string): string[] {
  const lines = keysText.split('\n').map((line) => line.replace(/\r$/, ''));
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return ['', ...lines, ' '];
}

export function recognizerInput(crop: RgbImage): { data: Float32Array; dims: [1, 3, number, number] } {
  const ratio = crop.width / crop.height;
  const resizedWidth = Math.max(1, Math.ceil(RECOGNIZER_HEIGHT * ratio));
  const paddedWidth = Math.max(RECOGNIZER_MIN_WIDTH, resizedWidth);
  const resized = resizeBilinear(crop, resizedWidth, RECOGNIZER_HEIGHT);
  const plane = RECOGNIZER_HEIGHT * paddedWidth;
  const data = new Float32Array(plane * 3);
  for (let y = 0; y < RECOGNIZER_HEIGHT; y++) {
    for (let x = 0; x < resizedWidth; x++) {
      const source = (y * resizedWidth + x) * 3;
      for (let channel = 0; channel < 3; channel++) {
        data[channel * plane + y * paddedWidth + x] = (resized.data[source + (2 - channel)] / 255 - 0.5) / 0.5;
      }
    }
  }
  return { data, dims: [1, 3, RECOGNIZER_HEIGHT, paddedWidth] };
}

export interface DecodedLine {
  text: string;
  /** mean probability of the kept steps; 0 when nothing was read */
  confidence: number;
}

/** Greedy CTC decoding of one sequence of `steps` × `classes.length` probabilities. */
export function ctcGreedyDecode(probabilities: Float32Array, steps: number, classes: readonly string[]): DecodedLine {
  const count = classes.length;
  if (probabilities.length !== steps * count) throw new Error(`CTC: ${probabilities.length} values for ${steps} steps × ${count} classes`);
  let text = '';
  let confidenceSum = 0;
  let kept = 0;
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    let bestProbability = -Infinity;
    const row = t * count;
    for (let c = 0; c < count; c++) {
      if (probabilities[row + c] > bestProbability) {
        bestProbability = probabilities[row + c];
        best = c;
      }
    }
    if (best !== 0 && best !== previous) {
      text += classes[best];
      confidenceSum += bestProbability;
      kept++;
    }
    previous = best;
  }
  return { text, confidence: kept === 0 ? 0 : confidenceSum / kept };
}
