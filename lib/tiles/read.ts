// Tile contents read from a ledger's stored Merkle nodes, records and blocks: a tile at
// level L >= 1 is the stored nodes of tree level 8·L, a level-0 tile the leaf hashes stored
// with the records, so nothing is re-hashed but the checks.
import { LedgerError } from '../errors';
import { blockKey } from '../ledger/layout';
import type { Db } from '../ledger/lock';
import { readNodes } from '../ledger/proofs';
import { readCheckedRun } from '../ledger/reads';
import { encodeBlockBundle, encodeEntryBundle, encodeHashTile } from './content';
import { TILE_HEIGHT, TILE_WIDTH } from './path';

function corrupt(message: string, details: Record<string, unknown>): LedgerError {
  return new LedgerError('ERR_LEDGER_CORRUPT', message, details);
}

/** The `width` hashes of tile `index` at tile level `level` (caller checks the tree holds them). */
export async function readHashTile(db: Db, level: number, index: number, width: number): Promise<Uint8Array> {
  const treeLevel = level * TILE_HEIGHT;
  const first = index * TILE_WIDTH;
  const ids = Array.from({ length: width }, (_, i) => ({ level: treeLevel, index: first + i }));
  return encodeHashTile(await readNodes(db, ids));
}

/** The canonical bytes of records [from, to), each checked against its stored leaf hash. */
export async function readEntries(db: Db, from: number, to: number): Promise<Uint8Array[]> {
  return (await readCheckedRun(db, from, to)).map((r) => r.bytes);
}

export async function readEntryBundle(db: Db, index: number, width: number): Promise<Uint8Array> {
  const from = index * TILE_WIDTH;
  return encodeEntryBundle(await readEntries(db, from, from + width));
}

/** Stored block values (the LevelDB bytes as they are) of heights [index·256, index·256 + width). */
export async function readBlockBundle(db: Db, index: number, width: number): Promise<Uint8Array> {
  const first = index * TILE_WIDTH;
  const keys = Array.from({ length: width }, (_, i) => blockKey(first + i));
  const values = await db.getMany(keys);
  return encodeBlockBundle(
    values.map((v, i) => {
      if (v === undefined) throw corrupt(`block ${first + i} is missing`, { height: first + i });
      return v;
    }),
  );
}
