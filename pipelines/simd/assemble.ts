import wabtInit from 'wabt';

/** The WebAssembly binary of a .wat text with the SIMD feature (wabt, a development dependency). */
export async function assembleKernels(wat: string): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const module = wabt.parseWat('kernels.wat', wat, { simd: true, multi_value: true });
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}
