// Public surface of harness/.
export {};
export type * from './experiment/types.js';
