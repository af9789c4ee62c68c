// Public surface of reports/.
export {};
