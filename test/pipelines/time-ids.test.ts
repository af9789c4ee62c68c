import { describe, expect, it } from 'vitest';
import { baseTimeIds, refinerTimeIds, timeIdWidthMismatch, timeIdsFeed } from '../../pipelines/time-ids.js';

// Expected rows: spec §4 / §12 (diffusers StableDiffusionXLPipeline and StableDiffusionXLImg2ImgPipeline).
describe('time ids', () => {
  it('base: [orig_h, orig_w, top, left, target_h, target_w], negative = positive by default', () => {
    const rows = baseTimeIds({ height: 1024, width: 1024 });
    expect(rows.positive).toEqual([1024, 1024, 0, 0, 1024, 1024]);
    expect(rows.negative).toEqual([1024, 1024, 0, 0, 1024, 1024]);
    const feed = timeIdsFeed(rows, true);
    expect(feed.dims).toEqual([2, 6]);
    expect(Array.from(feed.data)).toEqual([1024, 1024, 0, 0, 1024, 1024, 1024, 1024, 0, 0, 1024, 1024]);
  });

  it('base: height comes before width, crops before target', () => {
    const rows = baseTimeIds({ height: 768, width: 1344, cropsCoordsTopLeft: [16, 32], originalSize: [512, 896] });
    expect(rows.positive).toEqual([512, 896, 16, 32, 768, 1344]);
  });

  it('base: a distinct negative row only when both negative sizes are given', () => {
    expect(baseTimeIds({ height: 64, width: 64, negativeOriginalSize: [512, 512] }).negative).toEqual([64, 64, 0, 0, 64, 64]);
    const rows = baseTimeIds({ height: 64, width: 64, negativeOriginalSize: [512, 512], negativeTargetSize: [1024, 1024] });
    expect(rows.negative).toEqual([512, 512, 0, 0, 1024, 1024]);
  });

  it('refiner: 5 values with aesthetic scores 6.0 (positive) and 2.5 (negative), rows [neg; pos]', () => {
    const rows = refinerTimeIds({ height: 1024, width: 1024 });
    const feed = timeIdsFeed(rows, true);
    expect(feed.dims).toEqual([2, 5]);
    expect(Array.from(feed.data)).toEqual([1024, 1024, 0, 0, 2.5, 1024, 1024, 0, 0, 6.0]);
    expect(refinerTimeIds({ height: 64, width: 128, aestheticScore: 7, negativeAestheticScore: 1 }).positive).toEqual([64, 128, 0, 0, 7]);
  });

  it('without guidance only the positive row is fed', () => {
    const feed = timeIdsFeed(refinerTimeIds({ height: 64, width: 64 }), false);
    expect(feed.dims).toEqual([1, 5]);
    expect(Array.from(feed.data)).toEqual([64, 64, 0, 0, 6]);
  });

  it('checks the width against the UNet config (2816 base, 2560 refiner)', () => {
    expect(timeIdWidthMismatch(6, { addition_time_embed_dim: 256, projection_class_embeddings_input_dim: 2816 }, 1280)).toBeNull();
    expect(timeIdWidthMismatch(5, { addition_time_embed_dim: 256, projection_class_embeddings_input_dim: 2560 }, 1280)).toBeNull();
    expect(timeIdWidthMismatch(5, { addition_time_embed_dim: 256, projection_class_embeddings_input_dim: 2816 }, 1280)).toMatch(/expects 2816/);
  });
});
