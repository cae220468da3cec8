// C2SP tlog-tiles: paths, contents read from a ledger's stored nodes, serving and verifying.
export * from './path';
export * from './content';
export { readResource, publishedHead, type TileResponse, type PublishedHead } from './source';
export { writeStaticTiles, type StaticWriteResult } from './static';
export { TileVerifier, rootFromEdgeTiles, edgeTiles, type TileFetch, type TileFetchOptions } from './verify';
export { answerTileRequest, TileRequestGate, type TileGateLimits, type TileGateOptions, type TileGateStats } from './http';
export { StaticTilePublisher } from './publisher';
