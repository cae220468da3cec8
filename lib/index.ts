export * from './errors';
export * from './bytes';
export { sha256 } from './hash';
