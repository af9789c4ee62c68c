const STATE_SIZE = 624;
const SHIFT_SIZE = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;
const UNIFORM24_SCALE = 2 ** -24;

/**
 * 32-bit Mersenne Twister (MT19937) as torch's CPU generator runs it: Knuth seeding of a 32-bit
 * seed, standard twist and tempering.
 */
export class Mt19937 {
  private readonly state = new Uint32Array(STATE_SIZE);
  private index = STATE_SIZE;

  constructor(seed32: number) {
    if (!Number.isInteger(seed32) || seed32 < 0 || seed32 > 0xffffffff) {
      throw new RangeError(`MT19937 seed must be an unsigned 32-bit integer, got ${seed32}`);
    }
    const state = this.state;
    state[0] = seed32;
    for (let i = 1; i < STATE_SIZE; i++) {
      const previous = state[i - 1];
      state[i] = Math.imul(1812433253, previous ^ (previous >>> 30)) + i;
    }
  }

  /** The next tempered 32-bit output. */
  nextUint32(): number {
    if (this.index >= STATE_SIZE) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /**
   * `out[i] = (output & 0xffffff) · 2⁻²⁴` for i in [start, end): the next outputs as torch's float32
   * uniforms, in one tight loop (the same values as calling `nextUint32` for each).
   */
  fillUniform24(out: Float32Array, start: number, end: number): void {
    const state = this.state;
    let index = this.index;
    for (let i = start; i < end; i++) {
      if (index >= STATE_SIZE) {
        this.twist();
        index = 0;
      }
      let y = state[index++];
      y ^= y >>> 11;
      y ^= (y << 7) & 0x9d2c5680;
      y ^= (y << 15) & 0xefc60000;
      y ^= y >>> 18;
      out[i] = (y & 0xffffff) * UNIFORM24_SCALE;
    }
    this.index = index;
  }

  clone(): Mt19937 {
    const copy = new Mt19937(0);
    copy.state.set(this.state);
    copy.index = this.index;
    return copy;
  }

  private twist(): void {
    const state = this.state;
    for (let i = 0; i < STATE_SIZE; i++) {
      const mixed = (state[i] & UPPER_MASK) | (state[(i + 1) % STATE_SIZE] & LOWER_MASK);
      state[i] = state[(i + SHIFT_SIZE) % STATE_SIZE] ^ (mixed >>> 1) ^ (mixed & 1 ? MATRIX_A : 0);
    }
    this.index = 0;
  }
}
