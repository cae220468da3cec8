export * from './cosignature';
export * from './request';
export * from './decision';
export * from './quorum';
