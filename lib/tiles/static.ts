// Writing the tiles of a ledger as static files that any web server, rsync target or
// S3-compatible bucket can serve. Full tiles and bundles never change, so a file already
// there is kept; the meta when it changed (a migration), the current partial ones, the head
// and, last, the checkpoint are written.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Ledger } from '../ledger';
import { CHECKPOINT_PATH, HEAD_PATH, META_PATH, tilePath, TILE_WIDTH, tileWidth, type TileId } from './path';
import { headBody, publishedHead, readResource } from './source';

function writeAtomic(file: string, body: Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, body);
  fs.renameSync(tmp, file);
}

/** Every resource of a published tree: hash tiles of each level, entry bundles, block bundles. */
function* resources(size: number, height: number, since: { size: number; height: number }): Generator<TileId> {
  // Full tiles of the tree at `since` were written then: start at the first one that was not full.
  const firstNew = (before: number, level: number): number => Math.floor(Math.floor(before / TILE_WIDTH ** level) / TILE_WIDTH);
  for (let level = 0; level <= 63 && Math.floor(size / TILE_WIDTH ** level) > 0; level++)
    for (let index = firstNew(since.size, level); tileWidth(size, level, index) > 0; index++)
      yield { kind: 'tile', level, index, width: tileWidth(size, level, index) };
  for (let index = firstNew(since.size, 0); tileWidth(size, 0, index) > 0; index++)
    yield { kind: 'entries', level: 0, index, width: tileWidth(size, 0, index) };
  for (let index = firstNew(since.height, 0); tileWidth(height, 0, index) > 0; index++)
    yield { kind: 'blocks', level: 0, index, width: tileWidth(height, 0, index) };
}

export interface StaticWriteResult {
  size: number;
  height: number;
  /** Files written this time (existing full tiles are skipped). */
  written: number;
}

/**
 * Writes the ledger's published tiles under `dir`; returns null when no block is sealed yet.
 * `since` (what an earlier call returned) skips the full tiles written then.
 */
export async function writeStaticTiles(ledger: Ledger, dir: string, since: { size: number; height: number } = { size: 0, height: 0 }): Promise<StaticWriteResult | null> {
  const head = await publishedHead(ledger);
  if (!head) return null;
  let written = 0;
  const put = async (p: string): Promise<void> => {
    const r = await readResource(ledger, p);
    writeAtomic(path.join(dir, p), r.body);
    written++;
  };
  // The meta is rewritten when it differs: migrating the ledger to a newer storage format
  // changes it, and a replica refuses to start from the older format's meta.
  const meta = (await readResource(ledger, META_PATH)).body;
  const metaFile = path.join(dir, META_PATH);
  if (!fs.existsSync(metaFile) || !fs.readFileSync(metaFile).equals(meta)) {
    writeAtomic(metaFile, meta);
    written++;
  }
  for (const id of resources(head.size, head.height, since)) {
    const p = tilePath(id);
    if (id.width === TILE_WIDTH && fs.existsSync(path.join(dir, p))) continue;
    if (id.width < TILE_WIDTH && fs.existsSync(path.join(dir, p))) continue;
    await put(p);
  }
  writeAtomic(path.join(dir, HEAD_PATH), headBody(head));
  writeAtomic(path.join(dir, CHECKPOINT_PATH), Buffer.from(head.checkpoint, 'utf8'));
  return { size: head.size, height: head.height, written: written + 2 };
}
