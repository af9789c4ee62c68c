/**
 * @module
 * Small inline thumbnails: decode the run's PNG, shrink it with a box filter (each output pixel is the
 * mean of the source pixels its area covers), re-encode, and return a data: URI. The encoding is the
 * smaller of a lossless PNG and a 4:4:4 JPEG (`THUMBNAIL_JPEG_QUALITY`): generated photos and noise
 * are several times smaller as JPEG, flat or tiny images (black or blank outputs, test images) as PNG.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodePng, encodePng, type RgbImage } from '../pipelines/image/png.js';
import { encodeJpeg } from './jpeg.js';

/** IJG quality of JPEG thumbnails (Annex K tables scaled; no chroma subsampling) */
export const THUMBNAIL_JPEG_QUALITY = 80;

/** The data: URI of the smaller encoding of `image` (PNG on a tie, being lossless). */
export function thumbnailDataUri(image: RgbImage): string {
  const png = encodePng(image);
  const jpeg = encodeJpeg(image, THUMBNAIL_JPEG_QUALITY);
  return jpeg.length < png.length ? `data:image/jpeg;base64,${jpeg.toString('base64')}` : `data:image/png;base64,${png.toString('base64')}`;
}

export interface Thumbnail {
  dataUri: string;
  width: number;
  height: number;
  /** size to show it at: the longer side equals the cache's maxSide (small images are enlarged by the browser) */
  displayWidth: number;
  displayHeight: number;
  /** size of the original image, for drawing evidence in its coordinates */
  sourceWidth: number;
  sourceHeight: number;
}

/** Shrinks an image so its longer side is at most `maxSide` (never enlarges). */
export function boxDownscale(image: RgbImage, maxSide: number): RgbImage {
  const scale = Math.min(1, maxSide / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  if (width === image.width && height === image.height) return image;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor((y * image.height) / height);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * image.height) / height));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor((x * image.width) / width);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * image.width) / width));
      let r = 0;
      let g = 0;
      let b = 0;
      for (let sy = y0; sy < y1; sy++) {
        let offset = (sy * image.width + x0) * 3;
        for (let sx = x0; sx < x1; sx++) {
          r += image.data[offset];
          g += image.data[offset + 1];
          b += image.data[offset + 2];
          offset += 3;
        }
      }
      const count = (y1 - y0) * (x1 - x0);
      const out = (y * width + x) * 3;
      data[out] = Math.round(r / count);
      data[out + 1] = Math.round(g / count);
      data[out + 2] = Math.round(b / count);
    }
  }
  return { width, height, data };
}

/** Thumbnails by run-relative image path, decoded once each. Missing or unreadable files give null. */
export class ThumbnailCache {
  private readonly cache = new Map<string, Thumbnail | null>();

  constructor(
    private readonly runDir: string,
    private readonly maxSide: number,
  ) {}

  get(imagePath: string | null): Thumbnail | null {
    if (imagePath === null) return null;
    if (this.cache.has(imagePath)) return this.cache.get(imagePath)!;
    let thumbnail: Thumbnail | null = null;
    const path = join(this.runDir, imagePath);
    if (existsSync(path)) {
      try {
        const { image } = decodePng(readFileSync(path), path);
        const small = boxDownscale(image, this.maxSide);
        thumbnail = {
          dataUri: thumbnailDataUri(small),
          width: small.width,
          height: small.height,
          displayWidth: Math.max(1, Math.round((image.width * this.maxSide) / Math.max(image.width, image.height))),
          displayHeight: Math.max(1, Math.round((image.height * this.maxSide) / Math.max(image.width, image.height))),
          sourceWidth: image.width,
          sourceHeight: image.height,
        };
      } catch {
        thumbnail = null;
      }
    }
    this.cache.set(imagePath, thumbnail);
    return thumbnail;
  }
}
