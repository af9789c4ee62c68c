import { describe, expect, it } from 'vitest';
import { EmbeddingCache, type EncodedPrompt } from '../../pipelines/embedding-cache.js';

function entry(floats: number): EncodedPrompt {
  return { hidden: new Float32Array(floats), hiddenDims: [1, 1, floats] };
}

describe('EmbeddingCache', () => {
  it('keys by encoder, tokenizer and prompt', () => {
    const a = EmbeddingCache.key('enc', 'tok', 'a cat');
    expect(EmbeddingCache.key('enc', 'tok', 'a cat')).toBe(a);
    expect(EmbeddingCache.key('enc2', 'tok', 'a cat')).not.toBe(a);
    expect(EmbeddingCache.key('enc', 'tok2', 'a cat')).not.toBe(a);
    expect(EmbeddingCache.key('enc', 'tok', 'a cat ')).not.toBe(a);
    // no ambiguity from joining
    expect(EmbeddingCache.key('a', 'b|c', 'd')).not.toBe(EmbeddingCache.key('a|b', 'c', 'd'));
  });

  it('computes once and shares concurrent requests', async () => {
    const cache = new EmbeddingCache();
    let calls = 0;
    const compute = async () => {
      calls++;
      return entry(4);
    };
    const [x, y] = await Promise.all([cache.getOrCompute('k', compute), cache.getOrCompute('k', compute)]);
    expect(x).toBe(y);
    await cache.getOrCompute('k', compute);
    expect(calls).toBe(1);
    expect(cache.misses).toBe(1);
    expect(cache.hits).toBe(2);
  });

  it('evicts the least recently used entries beyond its byte and entry bounds', () => {
    const cache = new EmbeddingCache({ maxBytes: 3 * 16, maxEntries: 10 });
    cache.set('a', entry(4));
    cache.set('b', entry(4));
    cache.set('c', entry(4));
    cache.get('a'); // a is now most recent
    cache.set('d', entry(4));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.byteSize).toBe(48);
    const small = new EmbeddingCache({ maxEntries: 2 });
    small.set('x', entry(1));
    small.set('y', entry(1));
    small.set('z', entry(1));
    expect(small.size).toBe(2);
    expect(small.get('x')).toBeUndefined();
  });
});
