// Verifying tiles and entry bundles against a checkpoint the caller has already trusted
// (its signature checked). Full tiles are checked against their hash in the tile above;
// the partial tiles at the right edge are checked together by recomputing the root.
import { bytesEqual, toHex } from '../encoding/bytes';
import { isLedgerError, LedgerError } from '../errors';
import { leafHash, rootPlan, type NodeId } from '../merkle';
import { decodeEntryBundle, decodeHashTile, tileRoot } from './content';
import { hashesAtLevel, TILE_HEIGHT, TILE_WIDTH, tilePath, tileWidth, type TileId } from './path';

export interface TileFetchOptions {
  /** Cancels the fetch (it rejects): the caller no longer wants the resource. */
  signal?: AbortSignal;
}

/**
 * Fetches a resource by its path relative to the log prefix. `rejected(path)`, when the fetch has
 * it, is told that the bytes it gave for `path` failed verification, so it fetches that path
 * afresh next time instead of from a copy (over MQTT: not the broker's retained message).
 */
export type TileFetch = ((path: string, options?: TileFetchOptions) => Promise<Uint8Array>) & { rejected?: (path: string) => void };

function bad(message: string, details?: Record<string, unknown>): LedgerError {
  return new LedgerError('ERR_REPLICA_BAD_TILE', message, details);
}

/**
 * Runs `check` on the bytes `fetch` gave for `path`. If they fail it (ERR_REPLICA_BAD_TILE, or
 * ERR_LEDGER_CORRUPT for a block that does not open), `fetch.rejected(path)` is told, and the
 * error rethrown with `details.path`.
 */
export function checkFetched<T>(fetch: TileFetch, path: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw rejectedBytes(fetch, path, err);
  }
}

function rejectedBytes(fetch: TileFetch, path: string, err: unknown): unknown {
  if (!isLedgerError(err, 'ERR_REPLICA_BAD_TILE') && !isLedgerError(err, 'ERR_LEDGER_CORRUPT')) return err;
  fetch.rejected?.(path);
  return new LedgerError(err.code, err.message, { ...err.details, path }, err);
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
    const bytes = await this.#fetch(path);
    return checkFetched(this.#fetch, path, () => decodeHashTile(bytes, id.width));
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
    return checkFetched(this.#fetch, tilePath({ kind: 'tile', level, index, width }), () => {
      if (!above || !bytesEqual(tileRoot(hashes), above))
        throw bad(`tile ${index} at level ${level} does not hash to its entry in the tile above`, { level, index });
      return hashes;
    });
  }

  /** The entries of bundle `index`, each checked against its leaf hash in the level-0 tile. */
  async entries(index: number): Promise<Uint8Array[]> {
    const width = tileWidth(this.size, 0, index);
    if (width === 0) throw bad(`a tree of ${this.size} entries has no entry bundle ${index}`);
    const path = tilePath({ kind: 'entries', level: 0, index, width });
    const [bytes, leaves] = await Promise.all([this.#fetch(path), this.hashTile(0, index)]);
    return checkFetched(this.#fetch, path, () => {
      const entries = decodeEntryBundle(bytes, width);
      checkLeaves(entries, index * TILE_WIDTH, leaves, index);
      return entries;
    });
  }

  /** Checks entries [first, first + entries.length) of this tree against their leaf hashes in the level-0 tiles. */
  async checkEntries(first: number, entries: Uint8Array[]): Promise<void> {
    const end = first + entries.length;
    if (end > this.size) throw bad(`a tree of ${this.size} entries has no entry ${end - 1}`);
    for (let index = Math.floor(first / TILE_WIDTH); index * TILE_WIDTH < end; index++) {
      const from = Math.max(first, index * TILE_WIDTH);
      const to = Math.min(end, (index + 1) * TILE_WIDTH);
      const leaves = (await this.hashTile(0, index)).slice(from - index * TILE_WIDTH);
      // The entries came from the bundle of this tree's width (the caller fetched it).
      const path = tilePath({ kind: 'entries', level: 0, index, width: tileWidth(this.size, 0, index) });
      checkFetched(this.#fetch, path, () => checkLeaves(entries.slice(from - first, to - first), from, leaves, index));
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
