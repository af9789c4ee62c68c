// The package entry: the public API of refinery.
export * from './pipelines/index.js';
export * from './probes/index.js';
export * from './datasets/index.js';
export * from './reports/index.js';
export * from './harness/index.js';
