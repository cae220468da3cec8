// Cosignatures kept in the ledger's own LevelDB, beside the blocks (docs/FORMAT.md "Storage"):
//   `c` + u64(height)  -> the block's checkpoint note with the valid cosignature lines received for it
//   `w` + witness name -> u64(size): the size of the latest checkpoint the witness is known to hold
import type { Db } from '../ledger/lock';
import { P_COSIGNED, P_WITNESS } from '../ledger/layout';

export { P_COSIGNED, P_WITNESS };

function u64Key(prefix: number, n: number): Buffer {
  const key = Buffer.alloc(9);
  key[0] = prefix;
  key.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 1);
  key.writeUInt32BE(n % 0x1_0000_0000, 5);
  return key;
}

function readU64(b: Buffer, at: number): number {
  return b.readUInt32BE(at) * 0x1_0000_0000 + b.readUInt32BE(at + 4);
}

export const cosignedKey = (height: number): Buffer => u64Key(P_COSIGNED, height);

/** The height a `c` key names; undefined for a key of another shape. */
export function cosignedKeyHeight(key: Uint8Array): number | undefined {
  if (key.length !== 9 || key[0] !== P_COSIGNED) return undefined;
  const b = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const high = b.readUInt32BE(1);
  return high < 0x20_0000 ? readU64(b, 1) : undefined;
}
export const witnessKey = (name: string): Buffer => Buffer.concat([Buffer.of(P_WITNESS), Buffer.from(name, 'utf8')]);

export async function readCosigned(db: Db, height: number): Promise<string | undefined> {
  const v = await db.get(cosignedKey(height));
  return v === undefined ? undefined : v.toString('utf8');
}

/** The entry holding block `height`'s cosigned checkpoint (Ledger.writeBeside writes it). */
export const cosignedEntry = (height: number, note: string): [Buffer, Buffer] => [cosignedKey(height), Buffer.from(note, 'utf8')];

/** Cosigned checkpoints, newest first, as [height, the stored bytes]. */
export async function* cosignedEntriesNewestFirst(db: Db): AsyncGenerator<[number, Buffer]> {
  for await (const [k, v] of db.iterator({ gte: cosignedKey(0), lt: Buffer.of(P_COSIGNED + 1), reverse: true })) {
    const height = cosignedKeyHeight(k);
    if (height === undefined) continue;
    yield [height, v];
  }
}

/** Cosigned checkpoints, newest first, as [height, note]. */
export async function* cosignedNewestFirst(db: Db): AsyncGenerator<[number, string]> {
  for await (const [height, v] of cosignedEntriesNewestFirst(db)) yield [height, v.toString('utf8')];
}

export async function readWitnessSize(db: Db, name: string): Promise<number | undefined> {
  const v = await db.get(witnessKey(name));
  return v === undefined || v.length !== 8 ? undefined : readU64(v, 0);
}

/** The entry holding the size of the latest checkpoint witness `name` is known to hold (Ledger.writeBeside writes it). */
export function witnessSizeEntry(name: string, size: number): [Buffer, Buffer] {
  const v = Buffer.alloc(8);
  v.writeUInt32BE(Math.floor(size / 0x1_0000_0000), 0);
  v.writeUInt32BE(size % 0x1_0000_0000, 4);
  return [witnessKey(name), v];
}
