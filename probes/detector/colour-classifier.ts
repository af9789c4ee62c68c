/**
 * GenEval's colour check for detected objects: CLIP zero-shot classification of each object's crop over
 * GenEval's ten colours, each colour described by three templates whose normalised text embeddings are
 * averaged and renormalised (open_clip's `zero_shot_classifier`), the colour with the highest cosine
 * winning. GenEval pastes Mask2Former's instance mask onto a grey (#999) canvas before cropping; an
 * open-vocabulary detector gives boxes only, so the crop here is the plain box — background inside the
 * box takes part in the vote (a stated deviation, recorded with every result).
 */
import type { RgbImage } from '../../pipelines/image/png.js';
import { roundHalfEven } from '../../pipelines/vae.js';
import type { Box, Detection } from '../geometry/geneval-rules.js';
import { cosine, type ImageSource } from '../clip/clip-model.js';

export const GENEVAL_COLOURS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown', 'black', 'white'] as const;

/** `{c}` is the colour, `{obj}` the class name. */
export const GENEVAL_COLOUR_TEMPLATES = ['a photo of a {c} {obj}', 'a photo of a {c}-colored {obj}', 'a photo of a {c} object'] as const;

export const COLOUR_CROP_METHOD = 'CLIP zero-shot over the box crop (no instance mask: the detector gives boxes only)';

/** What the classifier needs of a CLIP model (`ClipModel` has it): L2-normalised embeddings. */
export interface ColourEmbedder {
  embedTexts(texts: readonly string[]): Promise<Float32Array[]>;
  embedImages(images: readonly ImageSource[]): Promise<Float32Array[]>;
}

export interface ColourVote {
  colour: string;
  /** cosine of the crop with each colour's class embedding, in GENEVAL_COLOURS order */
  similarities: number[];
}

/**
 * The pixels of `box` as PIL's `Image.crop` takes a float box: each coordinate rounded half to even,
 * here also clamped to the image (at least one pixel each way).
 */
export function cropBox(image: RgbImage, box: Box): RgbImage {
  const clampX = (v: number) => Math.min(Math.max(roundHalfEven(Math.max(v, 0)), 0), image.width);
  const clampY = (v: number) => Math.min(Math.max(roundHalfEven(Math.max(v, 0)), 0), image.height);
  let x0 = clampX(box.x1);
  let y0 = clampY(box.y1);
  let x1 = clampX(box.x2);
  let y1 = clampY(box.y2);
  if (x1 <= x0) [x0, x1] = x0 >= image.width ? [image.width - 1, image.width] : [x0, x0 + 1];
  if (y1 <= y0) [y0, y1] = y0 >= image.height ? [image.height - 1, image.height] : [y0, y0 + 1];
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((y0 + y) * image.width + x0) * 3;
    data.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data };
}

/** One unit vector per colour: the mean of the templates' normalised embeddings, renormalised. */
export async function colourClassEmbeddings(embedder: ColourEmbedder, className: string): Promise<Float32Array[]> {
  const texts = GENEVAL_COLOURS.flatMap((colour) => GENEVAL_COLOUR_TEMPLATES.map((template) => template.replaceAll('{c}', colour).replaceAll('{obj}', className)));
  const embeddings = await embedder.embedTexts(texts);
  return GENEVAL_COLOURS.map((_, c) => {
    const group = embeddings.slice(c * GENEVAL_COLOUR_TEMPLATES.length, (c + 1) * GENEVAL_COLOUR_TEMPLATES.length);
    const mean = new Float32Array(group[0].length);
    for (const embedding of group) for (let i = 0; i < mean.length; i++) mean[i] += embedding[i] / group.length;
    let norm = 0;
    for (const v of mean) norm += v * v;
    norm = Math.sqrt(norm);
    for (let i = 0; i < mean.length; i++) mean[i] /= norm;
    return mean;
  });
}

/**
 * The colour of each detection of `className` in `image`: its box crop embedded by CLIP (cached under
 * `imageKey` and the box) and compared with every colour's class embedding.
 */
export async function classifyColours(
  embedder: ColourEmbedder,
  image: RgbImage,
  imageKey: string,
  className: string,
  detections: readonly Detection[],
): Promise<ColourVote[]> {
  if (detections.length === 0) return [];
  const classes = await colourClassEmbeddings(embedder, className);
  const crops = detections.map(({ box }) => ({
    key: `${imageKey}#crop(${box.x1},${box.y1},${box.x2},${box.y2})`,
    load: async () => cropBox(image, box),
  }));
  const embedded = await embedder.embedImages(crops);
  return embedded.map((crop) => {
    const similarities = classes.map((colour) => cosine(crop, colour));
    let best = 0;
    for (let c = 1; c < similarities.length; c++) if (similarities[c] > similarities[best]) best = c;
    return { colour: GENEVAL_COLOURS[best], similarities };
  });
}
