// Public surface of datasets/.
export {};
