export * from './gateway';
export * from './shared';
export * from './contract-runner';
export * from './firmware-runner';
export * from './paths';
export * from './firmware-offer';
