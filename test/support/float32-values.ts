/**
 * Deterministic float32 test values (an LCG, no Math.random): uniform in (−scale, scale) times a
 * power of ten chosen per value from `decades` consecutive decades centred on 1, with the `specials`
 * written over every `specialStride`-th position from 0.
 */
export function spreadFloat32(
  count: number,
  seed: number,
  scale: number,
  { decades = 4, specials = [0, -0, 1e-30, -1e-30], specialStride = 1 }: { decades?: 4 | 8; specials?: number[]; specialStride?: number } = {},
): Float32Array {
  const out = new Float32Array(count);
  let state = seed >>> 0;
  const lowest = decades === 8 ? -3 : -1;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = ((state / 2 ** 32) * 2 - 1) * scale * 10 ** ((state & (decades - 1)) + lowest);
  }
  for (let k = 0; k < specials.length && k * specialStride < count; k++) out[k * specialStride] = specials[k];
  return out;
}
