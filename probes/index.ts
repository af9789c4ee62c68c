// Public surface of probes/.
export {};
