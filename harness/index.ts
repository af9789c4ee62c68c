// Public surface of harness/.
export {};
