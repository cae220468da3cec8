export * from './gateway';
export * from './shared';
export * from './contract-runner';
export * from './contract-set';
export * from './firmware-runner';
export * from './paths';
export * from './firmware-offer';
export * from './tofu-limit';
