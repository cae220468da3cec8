// Verifying tiles and entry bundles against a checkpoint the caller has already trusted
// (its signature checked). Full tiles are checked against their hash in the tile above;
// the partial tiles at the right edge are checked together by recomputing the root.
import { bytesEqual, toHex } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { leafHash, rootPlan, type NodeId } from '../merkle';
import { decodeEntryBundle, decodeHashTile, tileRoot } from './content';
import { hashesAtLevel, TILE_HEIGHT, TILE_WIDTH, tilePath, tileWidth, type TileId } from './path';

export interface TileFetchOptions {
  /** Cancels the fetch (it rejects): the caller no longer wants the resource. */
  signal?: AbortSignal;
}

/** Fetches a resource by its path relative to the log prefix. */
export type TileFetch = (path: string, options?: TileFetchOptions) => Promise<Uint8Array>;

function bad(message: string, details?: Record<string, unknown>): LedgerError {
  return new LedgerError('ERR_REPLICA_BAD_TILE', message, details);
}

/**
 * The root of a tree of `size` entries from its partial (right-edge) tiles: each perfect
 * subtree of the right frontier at tree level 8·L + j is the subtree hash of 2^j
 * consecutive hashes of the partial tile at level L.
 */
export function rootFromEdgeTiles(size: number, edge: Map<number, Uint8Array[]>): Uint8Array {
  const ids = rootPlan(size).ids;
  const hashes = ids.map(({ level, index }) => {
    const tileLevel = Math.floor(level / TILE_HEIGHT);
    const span = 2 ** (level % TILE_HEIGHT);
    const tile = edge.get(tileLevel);
    if (!tile) throw bad(`no edge tile at level ${tileLevel}`);
    const first = index * span - Math.floor((index * span) / TILE_WIDTH) * TILE_WIDTH;
    return tileRoot(tile.slice(first, first + span));
  });
  return rootPlan(size).rehash(hashes)[0];
}

/** The partial tiles a checkpoint of `size` requires, by level. */
export function edgeTiles(size: number): TileId[] {
  const out: TileId[] = [];
  for (let level = 0; hashesAtLevel(size, level) > 0; level++) {
    const width = hashesAtLevel(size, level) % TILE_WIDTH;
    if (width > 0) out.push({ kind: 'tile', level, index: Math.floor(hashesAtLevel(size, level) / TILE_WIDTH), width });
  }
  return out;
}

/** Entries numbered from `first` against the leaf hashes of tile 0/`index` from that entry on. */
function checkLeaves(entries: Uint8Array[], first: number, leaves: Uint8Array[], index: number): void {
  entries.forEach((e, i) => {
    const leaf = leaves[i];
    if (!leaf || !bytesEqual(leafHash(e), leaf)) throw bad(`entry ${first + i} does not match its leaf hash in tile 0/${index}`, { index: first + i });
  });
}

/** Verified tiles and entries of one tree (size, root), fetched on demand and remembered. */
export class TileVerifier {
  readonly size: number;
  readonly root: Uint8Array;
  readonly #fetch: TileFetch;
  readonly #tiles = new Map<string, Promise<Uint8Array[]>>();
  #edge: Promise<Map<number, Uint8Array[]>> | null = null;

  constructor(size: number, root: Uint8Array, fetch: TileFetch) {
    this.size = size;
    this.root = root;
    this.#fetch = fetch;
  }

  async #get(id: TileId): Promise<Uint8Array[]> {
    const path = tilePath(id);
    return decodeHashTile(await this.#fetch(path), id.width);
  }

  /** The partial tiles, checked together against the root. */
  #edgeTiles(): Promise<Map<number, Uint8Array[]>> {
    this.#edge ??= (async () => {
      const ids = edgeTiles(this.size);
      const edge = new Map(await Promise.all(ids.map(async (id) => [id.level, await this.#get(id)] as const)));
      const root = this.size === 0 ? undefined : rootFromEdgeTiles(this.size, edge);
      if (root && !bytesEqual(root, this.root))
        throw bad(`the partial tiles give root ${toHex(root)}, the checkpoint of size ${this.size} says ${toHex(this.root)}`);
      return edge;
    })();
    return this.#edge;
  }

  /** The verified hashes of tile `index` at `level` (as wide as this tree has it). */
  hashTile(level: number, index: number): Promise<Uint8Array[]> {
    const width = tileWidth(this.size, level, index);
    if (width === 0) return Promise.reject(bad(`a tree of ${this.size} entries has no tile ${index} at level ${level}`));
    const key = `${level}/${index}`;
    let p = this.#tiles.get(key);
    if (!p) {
      p = this.#verifiedTile(level, index, width);
      p.catch(() => this.#tiles.delete(key));
      this.#tiles.set(key, p);
    }
    return p;
  }

  async #verifiedTile(level: number, index: number, width: number): Promise<Uint8Array[]> {
    if (width < TILE_WIDTH) {
      const edge = (await this.#edgeTiles()).get(level);
      if (!edge) throw bad(`no partial tile at level ${level}`);
      return edge;
    }
    const [hashes, parent] = await Promise.all([
      this.#get({ kind: 'tile', level, index, width }),
      this.hashTile(level + 1, Math.floor(index / TILE_WIDTH)),
    ]);
    const above = parent[index % TILE_WIDTH];
    if (!above || !bytesEqual(tileRoot(hashes), above))
      throw bad(`tile ${index} at level ${level} does not hash to its entry in the tile above`, { level, index });
    return hashes;
  }

  /** The entries of bundle `index`, each checked against its leaf hash in the level-0 tile. */
  async entries(index: number): Promise<Uint8Array[]> {
    const width = tileWidth(this.size, 0, index);
    if (width === 0) throw bad(`a tree of ${this.size} entries has no entry bundle ${index}`);
    const [bytes, leaves] = await Promise.all([this.#fetch(tilePath({ kind: 'entries', level: 0, index, width })), this.hashTile(0, index)]);
    const entries = decodeEntryBundle(bytes, width);
    checkLeaves(entries, index * TILE_WIDTH, leaves, index);
    return entries;
  }

  /** Checks entries [first, first + entries.length) of this tree against their leaf hashes in the level-0 tiles. */
  async checkEntries(first: number, entries: Uint8Array[]): Promise<void> {
    const end = first + entries.length;
    if (end > this.size) throw bad(`a tree of ${this.size} entries has no entry ${end - 1}`);
    for (let index = Math.floor(first / TILE_WIDTH); index * TILE_WIDTH < end; index++) {
      const from = Math.max(first, index * TILE_WIDTH);
      const to = Math.min(end, (index + 1) * TILE_WIDTH);
      checkLeaves(entries.slice(from - first, to - first), from, (await this.hashTile(0, index)).slice(from - index * TILE_WIDTH), index);
    }
  }

  /** The verified hash of perfect subtree `node` of this tree, from the tile that holds it (e.g. to build a consistency proof from tiles). */
  async nodeHash(node: NodeId): Promise<Uint8Array> {
    const span = 2 ** (node.level % TILE_HEIGHT);
    const first = node.index * span;
    const hashes = await this.hashTile(Math.floor(node.level / TILE_HEIGHT), Math.floor(first / TILE_WIDTH));
    const at = first % TILE_WIDTH;
    return tileRoot(hashes.slice(at, at + span));
  }

  /** The verified leaf hash of entry `i` (e.g. to build an inclusion proof from tiles). */
  async leafHash(i: number): Promise<Uint8Array> {
    const leaf = (await this.hashTile(0, Math.floor(i / TILE_WIDTH)))[i % TILE_WIDTH];
    if (!leaf) throw new LedgerError('ERR_INVALID_ARGUMENT', `entry ${i} is outside the tree of ${this.size} entries`);
    return leaf;
  }
}
