import { createHash } from 'node:crypto';

/** One text encoder's output for one prompt (batch 1). Arrays are shared: treat them as read-only. */
export interface EncodedPrompt {
  /** the chosen hidden state, [1, 77, width] */
  hidden: Float32Array;
  hiddenDims: number[];
  /** pooled / projected embedding, [1, width] (text_encoder_2 only) */
  pooled?: Float32Array;
  pooledDims?: number[];
}

export interface EmbeddingCacheOptions {
  /** upper bound on the cached float data in bytes (default 256 MiB) */
  maxBytes?: number;
  /** upper bound on the number of entries (default 4096) */
  maxEntries?: number;
}

/**
 * In-memory, least-recently-used cache of text-encoder outputs keyed by
 * (encoder identity — its file hash and the output picked —, tokenizer identity, prompt), so a run
 * never encodes the same prompt twice with the same encoder. Bounded by bytes and entries.
 */
export class EmbeddingCache {
  hits = 0;
  misses = 0;
  private bytes = 0;
  private readonly entries = new Map<string, EncodedPrompt>();
  private readonly pending = new Map<string, Promise<EncodedPrompt>>();
  private readonly maxBytes: number;
  private readonly maxEntries: number;

  constructor(options: EmbeddingCacheOptions = {}) {
    this.maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
    this.maxEntries = options.maxEntries ?? 4096;
  }

  static key(encoderId: string, tokenizerId: string, prompt: string): string {
    return createHash('sha256').update(JSON.stringify([encoderId, tokenizerId, prompt])).digest('hex');
  }

  get size(): number {
    return this.entries.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  get(key: string): EncodedPrompt | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // refresh recency: Map iteration order is insertion order
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: EncodedPrompt): void {
    const existing = this.entries.get(key);
    if (existing) {
      this.bytes -= sizeOf(existing);
      this.entries.delete(key);
    }
    const size = sizeOf(value);
    if (size > this.maxBytes) return;
    this.entries.set(key, value);
    this.bytes += size;
    while (this.bytes > this.maxBytes || this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.bytes -= sizeOf(this.entries.get(oldest)!);
      this.entries.delete(oldest);
    }
  }

  /** The cached value for `key`, or the result of `compute` (stored); concurrent callers share one computation. */
  async getOrCompute(key: string, compute: () => Promise<EncodedPrompt>): Promise<EncodedPrompt> {
    const hit = this.get(key);
    if (hit) {
      this.hits++;
      return hit;
    }
    const inFlight = this.pending.get(key);
    if (inFlight) {
      this.hits++;
      return inFlight;
    }
    this.misses++;
    const promise = compute().finally(() => this.pending.delete(key));
    this.pending.set(key, promise);
    const value = await promise;
    this.set(key, value);
    return value;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}

function sizeOf(value: EncodedPrompt): number {
  return value.hidden.byteLength + (value.pooled?.byteLength ?? 0);
}
