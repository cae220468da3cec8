export * from './errors';
export * from './bytes';
export * from './crypto';
