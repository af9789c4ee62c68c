// Public surface of reports/stats (pure statistics, no I/O).
export * from './random.js';
export * from './distributions.js';
export * from './bootstrap.js';
export * from './tests.js';
export * from './paired.js';
