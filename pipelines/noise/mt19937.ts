const STATE_SIZE = 624;
const SHIFT_SIZE = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

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
