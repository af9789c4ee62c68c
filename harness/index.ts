// Public surface of harness/.
export {};
export type * from './experiment/types.js';
export { RunStore, STORE_SCHEMA_VERSION } from './store/store.js';
export type { UnitRow, SampleRow, SampleStatus, StoredScore, StoreCounts, TimingRow, ScorerIdentity } from './store/store.js';
