// What a tile server answers for a path, from an open Ledger: transport-free, so the
// Node-RED HTTP endpoint, the static writer and the tests share it.
import { LedgerError } from '../errors';
import type { Ledger } from '../ledger';
import { META_KEY } from '../ledger/layout';
import { CHECKPOINT_PATH, HEAD_PATH, META_PATH, parseTilePath, TILE_WIDTH, tileWidth, type TileId } from './path';
import { recentLeaves } from './recent';
import { readBlockBundle, readEntryBundle, readHashTile } from './read';

export interface TileResponse {
  status: 200 | 404;
  body: Uint8Array;
  contentType: string;
  /** Immutable resources may be cached for long; the checkpoint and head only for seconds. */
  immutable: boolean;
}

/** The published state: the latest sealed block's checkpoint note as stored, its tree size and the block count. */
export interface PublishedHead {
  checkpoint: string;
  size: number;
  height: number;
}

const TEXT = 'text/plain; charset=utf-8';
const OCTETS = 'application/octet-stream';

function notFound(why: string): TileResponse {
  return { status: 404, body: Buffer.from(`${why}\n`), contentType: TEXT, immutable: false };
}

export async function publishedHead(ledger: Ledger): Promise<PublishedHead | null> {
  const last = await ledger.latestBlock();
  return last ? { checkpoint: last.checkpoint, size: last.header.size, height: last.height + 1 } : null;
}

/** `{"height":H,"size":S}`: blocks sealed and the tree size of the latest checkpoint. */
export const headBody = (h: PublishedHead): Uint8Array => Buffer.from(`${JSON.stringify({ height: h.height, size: h.size })}\n`);

/** How wide resource `id` may be served at most for this head (0: not at all). */
export function availableWidth(id: TileId, head: PublishedHead): number {
  if (id.kind === 'blocks') return tileWidth(head.height, 0, id.index);
  return tileWidth(head.size, id.kind === 'tile' ? id.level : 0, id.index);
}

export async function readResource(ledger: Ledger, path: string): Promise<TileResponse> {
  const recent = recentLeaves(ledger); // from the first request on, appended records are kept for serving
  const head = await publishedHead(ledger);
  if (path === META_PATH) {
    const meta = await ledger.database.get(META_KEY);
    if (!meta) throw new LedgerError('ERR_LEDGER_CORRUPT', 'ledger meta is missing');
    // Not immutable: migrating the ledger to a newer storage format rewrites it, and a cache
    // that kept the older one for a year would make every new replica refuse the origin.
    return { status: 200, body: meta, contentType: 'application/cbor', immutable: false };
  }
  if (!head) return notFound('no block has been sealed yet');
  if (path === CHECKPOINT_PATH) return { status: 200, body: Buffer.from(head.checkpoint, 'utf8'), contentType: TEXT, immutable: false };
  if (path === HEAD_PATH) return { status: 200, body: headBody(head), contentType: 'application/json', immutable: false };
  const id = parseTilePath(path);
  if (!id) return notFound('no such resource');
  // A partial tile narrower than what is there now belongs to an older checkpoint: still served.
  if (id.width > availableWidth(id, head)) return notFound('not in the latest checkpoint');
  const db = ledger.database;
  // Level-0 hashes and entries of recent records come from memory (what the ledger just wrote).
  const from = id.index * TILE_WIDTH;
  const held =
    id.kind === 'entries' ? recent.entryBundle(from, from + id.width) : id.kind === 'tile' && id.level === 0 ? recent.hashTile(from, from + id.width) : undefined;
  let body: Uint8Array;
  if (held) body = held;
  else if (id.kind === 'tile') body = await readHashTile(db, id.level, id.index, id.width);
  else if (id.kind === 'entries') body = await readEntryBundle(db, id.index, id.width);
  else body = await readBlockBundle(db, id.index, id.width);
  return { status: 200, body, contentType: OCTETS, immutable: true };
}
