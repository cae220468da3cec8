// C2SP tlog-tiles resource paths (https://c2sp.org/tlog-tiles), plus this pack's block bundles.
import { LedgerError } from '../errors';

/** Tile height: each tile holds up to 2^8 hashes of one tree level. */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;

export type TileKind = 'tile' | 'entries' | 'blocks';

/** One resource: a hash tile at `level`, an entry bundle, or a block bundle; `width` 1..256 (256 = full). */
export interface TileId {
  kind: TileKind;
  level: number;
  index: number;
  width: number;
}

export const CHECKPOINT_PATH = 'checkpoint';
/** Not part of C2SP: the ledger's stored meta (CBOR) and its sealed block count, for replicas. */
export const META_PATH = 'iot-ledger/meta';
export const HEAD_PATH = 'iot-ledger/head';

function invalid(message: string): LedgerError {
  return new LedgerError('ERR_INVALID_ARGUMENT', message);
}

/** `<N>` as zero-padded 3-digit elements, all but the last starting with `x`: 1234067 -> x001/x234/067. */
export function encodeTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(`tile index must be a non-negative integer, got ${String(n)}`);
  const parts: string[] = [];
  let rest = n;
  do {
    parts.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return parts.map((p, i) => (i < parts.length - 1 ? `x${p}` : p)).join('/');
}

const PREFIX: Record<TileKind, string> = { tile: 'tile', entries: 'tile/entries', blocks: 'iot-ledger/blocks' };

/** The path of a resource, relative to the log prefix (no leading slash). */
export function tilePath(id: TileId): string {
  const { kind, level, index, width } = id;
  if (!Number.isSafeInteger(width) || width < 1 || width > TILE_WIDTH) throw invalid(`tile width must be 1..256, got ${String(width)}`);
  if (kind === 'tile' && (!Number.isInteger(level) || level < 0 || level > 63)) throw invalid(`tile level must be 0..63, got ${String(level)}`);
  const head = kind === 'tile' ? `tile/${level}` : PREFIX[kind];
  return `${head}/${encodeTileIndex(index)}${width < TILE_WIDTH ? `.p/${width}` : ''}`;
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** Parses a resource path (relative to the prefix); undefined for anything that is not exactly one. */
export function parseTilePath(p: string): TileId | undefined {
  let kind: TileKind;
  let level = 0;
  let rest: string;
  if (p.startsWith('tile/entries/')) {
    kind = 'entries';
    rest = p.slice('tile/entries/'.length);
  } else if (p.startsWith('iot-ledger/blocks/')) {
    kind = 'blocks';
    rest = p.slice('iot-ledger/blocks/'.length);
  } else if (p.startsWith('tile/')) {
    kind = 'tile';
    const slash = p.indexOf('/', 5);
    if (slash < 0) return undefined;
    const l = p.slice(5, slash);
    if (!DECIMAL.test(l) || Number(l) > 63) return undefined;
    level = Number(l);
    rest = p.slice(slash + 1);
  } else return undefined;
  let width = TILE_WIDTH;
  const dot = rest.indexOf('.p/');
  if (dot >= 0) {
    const w = rest.slice(dot + 3);
    if (!DECIMAL.test(w) || Number(w) < 1 || Number(w) > 255) return undefined;
    width = Number(w);
    rest = rest.slice(0, dot);
  }
  const parts = rest.split('/');
  if (parts.length > 6) return undefined;
  let index = 0;
  for (const [i, element] of parts.entries()) {
    let part = element;
    const last = i === parts.length - 1;
    if (!last) {
      if (!part.startsWith('x')) return undefined;
      part = part.slice(1);
    }
    if (!/^[0-9]{3}$/.test(part)) return undefined;
    index = index * 1000 + Number(part);
  }
  // The first element may not be all zeros unless it is the only one (no extra leading zeroes).
  if (parts.length > 1 && parts[0] === 'x000') return undefined;
  if (!Number.isSafeInteger(index)) return undefined;
  return { kind, level, index, width };
}

/** How many hashes of tile level `level` a tree of `size` entries has: floor(size / 256^level). */
export function hashesAtLevel(size: number, level: number): number {
  return Math.floor(size / TILE_WIDTH ** level);
}

/** The width of tile `index` at `level` in a tree of `size` (0 when the tree has no such tile). */
export function tileWidth(size: number, level: number, index: number): number {
  const left = hashesAtLevel(size, level) - index * TILE_WIDTH;
  return Math.max(0, Math.min(TILE_WIDTH, left));
}

/**
 * Every hash tile of a tree of `size` entries, level by level: the full ones and, where
 * floor(size / 256^l) mod 256 is not 0, the partial one at the right edge.
 */
export function* treeTiles(size: number): Generator<TileId> {
  for (let level = 0; level <= 63; level++) {
    const count = hashesAtLevel(size, level);
    if (count === 0) return;
    for (let index = 0; index * TILE_WIDTH < count; index++) yield { kind: 'tile', level, index, width: tileWidth(size, level, index) };
  }
}
