// Public surface of reports/.
export * from './stats/index.js';
