// Contracts: terms, the pure evaluator (with MKT) and party signatures. No runtime imports.
export * from './terms';
export * from './terms-hash';
export * from './time';
export * from './metric';
export * from './rule';
export * from './mkt';
export * from './evaluator';
export * from './signatures';
export * from './format';
export * from './records';
export * from './pull';
export * from './terms-list';
