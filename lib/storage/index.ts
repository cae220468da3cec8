export type { BatchOp, Db, DbBatch, DbIterator, DbSnapshot, RangeOptions, ReadOptions, StorageKind, WriteOptions } from './types';
export { chooseStorage, describeStorage, openStorage, storageIn, STORAGE_ENV, type StorageChoice } from './open';
export { FileDb } from './file-db';
export { loadClassicLevel, NO_CLASSIC_LEVEL_ENV } from './level';
