// A replica's ledger directory: the same LevelDB keys and values as its origin (meta,
// records, Merkle nodes, blocks and their summaries, head), written only from verified blocks and
// entries, one synced batch per group of whole blocks, so it always ends at a block.
import { bytesEqual, toHex } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { GENESIS_PREV, openBlock, type BlockInfo } from '../ledger/blocks';
import { putRecord, putSummary, type Tip } from '../ledger/commit';
import { blockKey, decodeBlockValue, decodeMeta, HEAD_KEY, headValue, META_KEY, type Head, type Meta } from '../ledger/layout';
import { openDb, type Db } from '../ledger/lock';
import { metaVerifier, openState } from '../ledger/open';
import { rootAt } from '../ledger/proofs';
import { summaryFields } from './summary-fields';
import { CompactRange } from '../merkle';
import { SummaryBuilder } from '../ledger/summary';
import { parseNote, type NoteVerifier } from '../note/note';

/** One block as the origin stores it (the exact LevelDB value) and as it reads. */
export interface OriginBlock {
  raw: Uint8Array;
  info: BlockInfo;
}

function originError(message: string, details?: Record<string, unknown>): LedgerError {
  return new LedgerError('ERR_REPLICA_ORIGIN', message, details);
}

export class ReplicaStore {
  readonly dir: string;
  readonly meta: Meta;
  readonly verifier: NoteVerifier;
  readonly #db: Db;
  readonly #release: () => void;
  #tip: Tip;
  #closed = false;

  private constructor(dir: string, db: Db, release: () => void, meta: Meta, verifier: NoteVerifier, tip: Tip) {
    this.dir = dir;
    this.#db = db;
    this.#release = release;
    this.meta = meta;
    this.verifier = verifier;
    this.#tip = tip;
  }

  /**
   * Opens the replica directory, creating it from the origin's stored meta when new. An
   * existing replica must hold the same meta bytes (it copies one origin only).
   */
  static async open(dir: string, originMeta?: Uint8Array): Promise<ReplicaStore> {
    // Checked whole before anything is created (the meta is not signed): one the copy could not be
    // opened with again (a verifier key that is not its name's and gateway's) would leave a
    // directory that fails to open for ever, whatever the origin serves later.
    if (originMeta) {
      try {
        metaVerifier(decodeMeta(originMeta));
      } catch (err) {
        throw originError(`the origin's meta is not a ledger meta: ${(err as Error).message}`);
      }
    }
    const { db, release } = await openDb(dir, originMeta !== undefined);
    try {
      const stored = await db.get(META_KEY);
      if (stored === undefined) {
        if (!originMeta) throw new LedgerError('ERR_NOT_FOUND', `no replica at ${dir}`);
        for await (const _ of db.keys({ limit: 1 })) throw originError(`${dir} holds a LevelDB database that is not a ledger`);
        await db.batch(
          [
            { type: 'put', key: META_KEY, value: Buffer.from(originMeta) },
            { type: 'put', key: HEAD_KEY, value: headValue({ size: 0, height: 0, blockFirst: 0 }) },
          ],
          { sync: true },
        );
      } else if (originMeta && !bytesEqual(stored, originMeta)) {
        throw originError(`${dir} is a copy of another ledger (its meta differs from the origin's)`);
      }
      const opened = await openState(db, { readOnly: true, now: Date.now(), dir });
      if (opened.tip.head.blockFirst !== opened.tip.head.size)
        throw originError(`${dir} holds records outside a block: it is a gateway's ledger, not a replica`);
      return new ReplicaStore(dir, db, release, opened.meta, opened.verifier, opened.tip);
    } catch (err) {
      await db.close().catch(() => undefined);
      release();
      throw err;
    }
  }

  get size(): number {
    return this.#tip.head.size;
  }

  get height(): number {
    return this.#tip.head.height;
  }

  get last(): BlockInfo | null {
    return this.#tip.last;
  }

  get database(): Db {
    return this.#db;
  }

  rootAt(size: number): Promise<Uint8Array> {
    return rootAt(this.#db, this.#tip.frontier, size);
  }

  /** The stored value of block `height` (bytes as the origin stored them). */
  async rawBlock(height: number): Promise<Uint8Array | undefined> {
    return this.#db.get(blockKey(height));
  }

  /**
   * Opens a served block value for height `height`: strict shape, header hash, checkpoint
   * signature, and the gateway's signature alone, as the gateway stores it (anyone can add a
   * line that opening the note ignores; the stored bytes would then differ from the origin's).
   */
  openBlock(raw: Uint8Array, height: number): BlockInfo {
    const info = openBlock(decodeBlockValue(raw, height), height, this.meta.name, this.verifier);
    if (parseNote(info.checkpoint).signatures.length !== 1)
      throw new LedgerError('ERR_REPLICA_BAD_TILE', `block ${height} is served with signatures its gateway did not store`, { height });
    return info;
  }

  /**
   * Appends whole blocks and the entries they cover (entries[0] is record `size`). Each
   * block must chain to the previous one, start where it ended, and its root must be the
   * root of the tree built from the entries; otherwise nothing is written. `replacing` are
   * blocks written in the same batch in place of the copy's top ones, up to its last: the
   * caller checked that they carry the same signed checkpoints and start at the same records as
   * the blocks they replace, and chain to the block below them; the new blocks chain to them.
   */
  async append(blocks: OriginBlock[], entries: Uint8Array[], replacing: OriginBlock[] = []): Promise<void> {
    if (this.#closed) throw new LedgerError('ERR_LEDGER_CLOSED', `replica ${this.dir} is closed`);
    const frontier = new CompactRange(this.#tip.frontier.size, this.#tip.frontier.hashes());
    const head: Head = { ...this.#tip.head };
    let last = this.#tip.last;
    const batch = this.#db.batch();
    try {
      for (const [i, { raw, info }] of replacing.entries()) {
        if (info.height !== head.height - replacing.length + i || (i === replacing.length - 1 && info.header.size !== head.size))
          throw originError(`block ${info.height} cannot replace the copy's block of its height`);
        batch.put(blockKey(info.height), Buffer.from(raw));
        last = info;
      }
      let e = 0;
      for (const { raw, info } of blocks) {
        const h = info.header;
        if (info.height !== head.height) throw originError(`block ${info.height} arrived where block ${head.height} was expected`);
        if (!bytesEqual(h.prev, last ? last.hash : GENESIS_PREV)) throw originError(`block ${info.height} does not chain to block ${info.height - 1}`);
        if (h.first !== frontier.size || h.size < h.first) throw originError(`block ${info.height} does not start where block ${info.height - 1} ends`);
        // A gateway never seals an empty block: one would be a second signed header of that tree size.
        if (h.size === h.first) throw originError(`block ${info.height} holds no records`, { height: info.height });
        const count = h.size - h.first;
        if (e + count > entries.length) throw originError(`entries for block ${info.height} are missing`);
        const summary = new SummaryBuilder(h.first);
        for (const entry of entries.slice(e, e + count)) {
          summary.add(summaryFields(entry));
          putRecord(batch, frontier, entry);
        }
        e += count;
        const root = frontier.root();
        if (!bytesEqual(root, h.root))
          throw new LedgerError('ERR_REPLICA_FORK', `block ${info.height} is signed with root ${toHex(h.root)}, the verified entries give ${toHex(root)}`, {
            height: info.height,
            theirs: info.checkpoint,
          });
        batch.put(blockKey(info.height), Buffer.from(raw));
        putSummary(batch, info.height, summary);
        head.height += 1;
        head.size = h.size;
        head.blockFirst = h.size;
        last = info;
      }
      if (e !== entries.length) throw originError(`${entries.length - e} entries lie past the last block`);
      batch.put(HEAD_KEY, headValue(head));
      await batch.write({ sync: true });
    } catch (err) {
      await batch.close().catch(() => undefined);
      throw err;
    }
    this.#tip = { head, frontier, last, open: new SummaryBuilder(head.size), openBytes: 0 };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#db.close();
    } finally {
      this.#release();
    }
  }
}
