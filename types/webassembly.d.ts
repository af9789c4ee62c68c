// The part of the WebAssembly JavaScript API that pipelines/simd uses. Node.js has it as a global,
// but @types/node 20 does not declare it and this project does not load the DOM library.
declare namespace WebAssembly {
  type ExportValue = Function | Memory;
  type Exports = Record<string, ExportValue>;
  type Imports = Record<string, Record<string, ExportValue | number>>;

  class Module {
    constructor(bytes: BufferSource);
  }

  class Instance {
    constructor(module: Module, imports?: Imports);
    readonly exports: Exports;
  }

  class Memory {
    constructor(descriptor: { initial: number; maximum?: number; shared?: boolean });
    readonly buffer: ArrayBuffer;
    /** grows by `delta` 64 KiB pages; returns the previous size in pages */
    grow(delta: number): number;
  }

  function validate(bytes: BufferSource): boolean;
}

type BufferSource = ArrayBufferView | ArrayBuffer;
