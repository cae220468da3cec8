export * from './cosignature';
export * from './request';
export * from './decision';
export * from './quorum';
export * from './state';
export * from './service';
export * from './config';
