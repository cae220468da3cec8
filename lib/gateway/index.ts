export * from './gateway';
export * from './shared';
