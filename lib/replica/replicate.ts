// Catching a replica up with its origin over tiles: the checkpoint is verified with the
// gateway key (the policy hook is where a witness quorum plugs in), every entry against
// the checkpoint's tiles, every block against the tree the entries build; a smaller or
// conflicting signed history is a rollback or fork, kept as evidence.
import { bytesEqual, toBase64 } from '../encoding/bytes';
import { checkpointHeader, openCheckpoint, type Checkpoint } from '../note/checkpoint';
import { didToKey } from '../crypto/didkey';
import { isLedgerError, LedgerError } from '../errors';
import { parseTrustedKey } from '../audit/trust';
import { parseBoundedJson } from '../guards/limits';
import { MAX_BLOCK_BYTES, MAX_BLOCK_RECORDS } from '../ledger/block-limits';
import { decodeBlockValue, decodeMeta, type Meta } from '../ledger/layout';
import { decodeHeader, GENESIS_PREV, type BlockInfo } from '../ledger/blocks';
import { ledgerExists } from '../ledger/lock';
import type { NoteVerifier } from '../note/note';
import { decodeBlockBundle, decodeEntryBundle } from '../tiles/content';
import { CHECKPOINT_PATH, HEAD_PATH, META_PATH, TILE_WIDTH, tilePath, tileWidth } from '../tiles/path';
import { checkFetched, TileVerifier, type TileFetch } from '../tiles/verify';
import { keepEvidence } from './evidence';
import { encodeProof, proofFromTiles, type EvidenceProof } from './evidence-proof';
import { consistencyProof } from '../ledger/proofs';
import { ReplicaStore, type OriginBlock } from './store';

/**
 * Accepts a checkpoint note or throws. The default checks the gateway's signature; a
 * witness quorum policy (cosignatures from K of N witnesses) can be passed instead.
 */
export type CheckpointPolicy = (note: string, gateway: NoteVerifier) => Checkpoint;

export const gatewaySignature: CheckpointPolicy = (note, gateway) => openCheckpoint(note, gateway);

export interface ReplicaProgress {
  /** Records held (verified and written). */
  size: number;
  height: number;
  /** The size of the origin checkpoint being caught up with. */
  target: number;
}

export interface ReplicatorOptions {
  /** The origin gateway's key: Ed25519 did:key or note verifier key. */
  trustedKey: string;
  fetch: TileFetch;
  policy?: CheckpointPolicy;
  /** Entry bundles fetched in parallel (default 8). */
  concurrency?: number;
  onProgress?: (p: ReplicaProgress) => void;
  /** The most records an origin block may hold (default 65536); a larger one is ERR_REPLICA_BLOCK_TOO_LARGE. */
  maxBlockRecords?: number;
  /** The most bytes of records an origin block may hold (default 64 MiB); a larger one is ERR_REPLICA_BLOCK_TOO_LARGE. */
  maxBlockBytes?: number;
}

/**
 * A block is written whole in one batch, so the copy holds all of its entries at once: a
 * signed block of millions of records (a stolen or broken gateway key) would exhaust memory.
 * The defaults are the bounds a ledger keeps its blocks within (ledger/block-limits), so an
 * honest origin's blocks always fit.
 */
export const DEFAULT_MAX_BLOCK_RECORDS = MAX_BLOCK_RECORDS;
export const DEFAULT_MAX_BLOCK_BYTES = MAX_BLOCK_BYTES;

export interface CatchUpResult extends ReplicaProgress {
  /** The origin's checkpoint note this round ended at. */
  checkpoint: string | null;
  /** Records fetched this round. */
  fetched: number;
}

/** Records and bytes per synced write while catching up (whole blocks, so a write may hold more). */
const WRITE_RECORDS = 8192;
const WRITE_BYTES = 16 * 1024 * 1024;

/**
 * Block bundles (of 256 blocks) fetched and opened before their entries are copied: a window
 * holds at most 32 bundles (8192 blocks, as many as a write's records) or the bundles that reach
 * 16 MiB of block values, whichever is less (a bundle is fetched whole, at most 64 MiB).
 */
const WINDOW_BUNDLES = 32;
const WINDOW_BYTES = 16 * 1024 * 1024;

/** An origin's head is `{"height":H,"size":N}` and a newline, under 60 bytes: 1 KiB is far above. */
const MAX_HEAD_BYTES = 1024;

const utf8 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

function originError(message: string): LedgerError {
  return new LedgerError('ERR_REPLICA_ORIGIN', message);
}

/** The origin's head (`{"height":H,"size":N}`): its height, and its size as given (unchecked). */
export function parseOriginHead(body: Uint8Array): { height: number; size: unknown } {
  let head: unknown;
  try {
    head = parseBoundedJson('the origin head', body, MAX_HEAD_BYTES, () => originError('the origin head is not JSON'));
  } catch (err) {
    // Over the size or depth bound: an origin error like any head that is not one.
    if (isLedgerError(err, 'ERR_PAYLOAD_TOO_LARGE') || isLedgerError(err, 'ERR_PAYLOAD_TOO_DEEP')) throw originError(err.message);
    throw err;
  }
  const { height, size } = typeof head === 'object' && head !== null ? (head as { height?: unknown; size?: unknown }) : {};
  if (typeof height !== 'number' || !Number.isSafeInteger(height) || height < 0) throw originError('the origin head is malformed');
  return { height, size };
}

interface BlockLimits {
  records: number;
  bytes: number;
}

function positive(v: number | undefined, fallback: number, what: string): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new LedgerError('ERR_INVALID_ARGUMENT', `${what} must be a positive integer, got ${String(v)}`);
  return v;
}

const recordsOf = ({ info }: OriginBlock): number => info.header.size - info.header.first;

function tooLarge(block: OriginBlock, what: string, details: Record<string, unknown>): LedgerError {
  return new LedgerError('ERR_REPLICA_BLOCK_TOO_LARGE', `the origin's block ${block.info.height} holds ${what}; this replica keeps the blocks before it`, {
    height: block.info.height,
    ...details,
  });
}

/** A checkpoint's `iot-ledger header` line: the height and header hash of the block it ends. */
type SignedHeader = NonNullable<ReturnType<typeof checkpointHeader>>;

const sameCheckpoint = (mine: Uint8Array, info: BlockInfo): boolean => decodeBlockValue(mine, info.height).checkpoint === info.checkpoint;

function otherHeader(height: number): LedgerError {
  return new LedgerError('ERR_REPLICA_BAD_TILE', `block ${height} is served with other header bytes than this replica verified, under the same signed checkpoint`, { height });
}

export function trustedGateway(trustedKey: string, meta: Meta): NoteVerifier {
  let gateway: NoteVerifier;
  try {
    gateway = parseTrustedKey(trustedKey, meta.name);
  } catch (err) {
    throw new LedgerError('ERR_INVALID_ARGUMENT', `the trusted key is neither a verifier key nor an Ed25519 did:key: ${(err as Error).message}`);
  }
  if (gateway.name !== meta.name || !bytesEqual(gateway.key.publicKey, didToKey(meta.gateway).publicKey))
    throw originError(`the origin ledger "${meta.name}" belongs to ${meta.gateway}, not to the trusted key`);
  return gateway;
}

export class Replicator {
  readonly store: ReplicaStore;
  readonly #fetch: TileFetch;
  readonly #policy: CheckpointPolicy;
  readonly #gateway: NoteVerifier;
  readonly #concurrency: number;
  readonly #onProgress?: (p: ReplicaProgress) => void;
  readonly #limits: BlockLimits;
  /**
   * The origin block this replica refused as too large (ERR_REPLICA_BLOCK_TOO_LARGE), by height
   * and header hash. It is signed and will not change, so a later round that meets it again
   * refuses it at once, without fetching its entries (up to maxBlockBytes of them) again.
   */
  #refused: { height: number; hash: Uint8Array; error: LedgerError } | null = null;
  /** Served blocks to write in place of the copy's top ones with the round's first new blocks (#inPlaceOf). */
  #replacing: OriginBlock[] = [];
  /** The newest origin checkpoint seen (its size may be ahead of the store while catching up). */
  target = 0;

  private constructor(store: ReplicaStore, gateway: NoteVerifier, opts: ReplicatorOptions, limits: BlockLimits) {
    this.store = store;
    this.#gateway = gateway;
    this.#fetch = opts.fetch;
    this.#policy = opts.policy ?? gatewaySignature;
    this.#concurrency = Math.max(1, opts.concurrency ?? 8);
    this.#onProgress = opts.onProgress;
    this.#limits = limits;
    this.target = store.size;
  }

  /** Opens (or creates, from the origin's meta) the replica in `dir`, bound to the trusted gateway key. */
  static async open(dir: string, opts: ReplicatorOptions): Promise<Replicator> {
    const limits: BlockLimits = {
      records: positive(opts.maxBlockRecords, DEFAULT_MAX_BLOCK_RECORDS, 'maxBlockRecords'),
      bytes: positive(opts.maxBlockBytes, DEFAULT_MAX_BLOCK_BYTES, 'maxBlockBytes'),
    };
    const originMeta = async (): Promise<Uint8Array> => {
      const meta = await opts.fetch(META_PATH);
      // A new replica is created only for an origin the trusted key signs for.
      trustedGateway(opts.trustedKey, decodeMeta(meta));
      return meta;
    };
    let store: ReplicaStore;
    if (!ledgerExists(dir)) store = await ReplicaStore.open(dir, await originMeta());
    else {
      try {
        store = await ReplicaStore.open(dir);
      } catch (err) {
        // An empty database (its creation cut off before the meta was written): created now.
        if (!isLedgerError(err, 'ERR_NOT_FOUND')) throw err;
        store = await ReplicaStore.open(dir, await originMeta());
      }
    }
    try {
      return new Replicator(store, trustedGateway(opts.trustedKey, store.meta), opts, limits);
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  get lag(): number {
    return Math.max(0, this.target - this.store.size);
  }

  #progress(): void {
    this.#onProgress?.({ size: this.store.size, height: this.store.height, target: this.target });
  }

  /** Refuses `block` as too large, and remembers it (#refused). */
  #tooLarge(block: OriginBlock, what: string, details: Record<string, unknown>): LedgerError {
    const error = tooLarge(block, what, details);
    this.#refused = { height: block.info.height, hash: block.info.hash, error };
    return error;
  }

  /** The refusal of `block` again, when it is the block refused before; else null. */
  #refusedAgain(block: OriginBlock): LedgerError | null {
    const r = this.#refused;
    if (!r || r.height !== block.info.height || !bytesEqual(r.hash, block.info.hash)) return null;
    return new LedgerError(r.error.code, r.error.message, { ...r.error.details });
  }

  /**
   * Keeps the evidence that the origin's checkpoint `theirs` conflicts with the copy, and returns
   * the error naming it. Ours is the copy's latest checkpoint; or, when the copy's tree agrees with
   * theirs and theirs commits to a header the copy holds another of, the copy's block's of that
   * height. For notes of different sizes the proof comes from the copy's tree when ours is the
   * larger, from the origin's verified tiles when theirs is (none when they do not verify).
   * `against` is the origin's checkpoint of the round and its verified tiles, when theirs (a served
   * block's) conflicts with that tree rather than with the copy's (which both may extend), or the
   * copy conflicts with that tree below the block (#againstTiles). `oursNote`, when given, is ours.
   */
  async #evidence(kind: 'fork' | 'rollback', detail: string, theirs: string, against?: { note: string; tiles: TileVerifier }, oursNote?: string): Promise<LedgerError> {
    const { meta, dir } = this.store;
    let ours = oursNote ?? against?.note ?? this.store.last?.checkpoint ?? '';
    let proof: EvidenceProof | null = null;
    try {
      const t = openCheckpoint(theirs);
      if (against) {
        const shown = await this.#againstTiles(theirs, t, against);
        return keepEvidence(dir, { kind, origin: meta.name, detail, gateway: meta.gateway, verifierKey: meta.verifier, ...shown });
      }
      const header = oursNote === undefined ? checkpointHeader(t) : undefined;
      if (header && t.size <= this.store.size && header.height < this.store.height && bytesEqual(await this.store.rootAt(t.size), t.root)) {
        const mine = await this.store.rawBlock(header.height);
        if (mine) ours = decodeBlockValue(mine, header.height).checkpoint;
      }
      const o = openCheckpoint(ours);
      if (o.size > t.size) proof = encodeProof(t.size, o.size, await this.store.rootAt(t.size), await consistencyProof(this.store.database, this.store.size, t.size, o.size));
      else if (o.size < t.size) proof = await proofFromTiles(new TileVerifier(t.size, t.root, this.#fetch), o.size);
    } catch {
      // Evidence is kept whatever the origin serves: without a proof it still holds both notes.
    }
    return keepEvidence(dir, { kind, origin: meta.name, detail, gateway: meta.gateway, verifierKey: meta.verifier, ours, theirs, proof });
  }

  /**
   * The notes and proof of #evidence's `against` case: the served block's checkpoint `note` (`t`) and the
   * origin's, when `t` signs another root than the origin's tree has at its size. Otherwise the
   * block was signed over the origin's tree, whose entries differ from the copy's below the block
   * (it chains to the copy's last block all the same): the copy's latest checkpoint and the
   * origin's conflict, shown by the origin's tiles from the copy's size.
   */
  async #againstTiles(note: string, t: Checkpoint, against: { note: string; tiles: TileVerifier }): Promise<{ ours: string; theirs: string; proof: EvidenceProof | null }> {
    const { tiles } = against;
    const theirs = { ours: against.note, theirs: note };
    if (t.size === tiles.size) {
      if (!bytesEqual(t.root, tiles.root)) return { ...theirs, proof: null };
    } else if (t.size < tiles.size) {
      const proof = await proofFromTiles(tiles, t.size);
      if (proof.root1 !== toBase64(t.root)) return { ...theirs, proof };
    }
    const mine = this.store.last;
    if (!mine || mine.header.size >= tiles.size) return { ...theirs, proof: null };
    const proof = await proofFromTiles(tiles, mine.header.size).catch(() => null);
    return { ours: mine.checkpoint, theirs: against.note, proof };
  }

  /**
   * Throws ERR_REPLICA_BAD_TILE when a served block that differs from the copy's block `mine` of its
   * height carries the same signed checkpoint: only its unsigned bytes differ, which a checkpoint
   * without the `iot-ledger header` line (written before format 2) does not cover. Whoever
   * served it changed them; the gateway signed nothing new, so that is no fork or rollback.
   */
  #sameSigned(mine: Uint8Array, info: BlockInfo): void {
    if (sameCheckpoint(mine, info)) throw otherHeader(info.height);
  }

  /**
   * The served blocks to take in place of the copy's top ones, `top` (at the copy's last height)
   * and those below it down to where the served chain meets the copy's. Each carries the copy's
   * signed checkpoint (a legacy one, so its header bytes are not signed) and the copy's first
   * record: only the time and the chain differ. An origin that served re-timed legacy blocks
   * when they were copied left the copy a chain the gateway's next block does not extend; the
   * blocks of that block's chain mend it (written only with a block that chains to them).
   */
  async #inPlaceOf(top: OriginBlock, served: (h: number) => Promise<OriginBlock | undefined>): Promise<OriginBlock[]> {
    const chain = [top];
    for (let bottom = top.info; ; ) {
      const h = bottom.height - 1;
      const mine = h < 0 ? undefined : await this.store.rawBlock(h);
      if (bytesEqual(bottom.header.prev, mine === undefined ? GENESIS_PREV : decodeBlockValue(mine, h).hash)) return chain;
      const block = mine === undefined ? undefined : await served(h);
      if (mine === undefined || block === undefined) throw otherHeader(top.info.height);
      const { raw, info } = block;
      const ours = decodeHeader(decodeBlockValue(mine, h).header, h);
      if (!sameCheckpoint(mine, info) || info.header.first !== ours.first || !bytesEqual(info.hash, bottom.header.prev)) throw otherHeader(top.info.height);
      chain.unshift({ raw, info });
      bottom = info;
    }
  }

  /** Block h as an origin of `height` blocks serves it, opened: from bundle `index` (`raws`, fetched) or the bundle that holds it, fetched once. */
  #servedBlocks(height: number, index: number, raws: Uint8Array[]): (h: number) => Promise<OriginBlock | undefined> {
    const bundles = new Map([[index, raws]]);
    return async (h) => {
      const i = Math.floor(h / TILE_WIDTH);
      let bundle = bundles.get(i);
      if (!bundle) {
        bundle = await this.#blockBundle(height, i);
        bundles.set(i, bundle);
      }
      const raw = bundle[h % TILE_WIDTH];
      return raw === undefined ? undefined : { raw, info: this.#openServed(height, raw, h) };
    };
  }

  /** Block bundle `index` of an origin of `height` blocks, fetched and split (not yet opened). */
  async #blockBundle(height: number, index: number): Promise<Uint8Array[]> {
    const width = tileWidth(height, 0, index);
    const path = tilePath({ kind: 'blocks', level: 0, index, width });
    const body = await this.#fetch(path);
    return checkFetched(this.#fetch, path, () => decodeBlockBundle(body, width));
  }

  /**
   * Served block `h` (from the bundle of an origin of `height` blocks) opened: its header hash and
   * checkpoint signature checked. One that does not open is blamed on the bundle (checkFetched).
   */
  #openServed(height: number, raw: Uint8Array, h: number): BlockInfo {
    const index = Math.floor(h / TILE_WIDTH);
    return checkFetched(this.#fetch, tilePath({ kind: 'blocks', level: 0, index, width: tileWidth(height, 0, index) }), () => this.store.openBlock(raw, h));
  }

  /** One round: fetch the origin's checkpoint and everything up to it. */
  async catchUp(): Promise<CatchUpResult> {
    const startSize = this.store.size;
    let note: string;
    try {
      note = utf8(await this.#fetch(CHECKPOINT_PATH));
    } catch (err) {
      // No block sealed yet at the origin: nothing to copy.
      if (isLedgerError(err, 'ERR_REPLICA_FETCH') && err.details?.status === 404 && this.store.height === 0)
        return { size: 0, height: 0, target: 0, checkpoint: null, fetched: 0 };
      throw err;
    }
    const cp = this.#policy(note, this.#gateway);
    if (cp.origin !== this.store.meta.name) throw originError(`the checkpoint is for "${cp.origin}", not "${this.store.meta.name}"`);
    const ours = this.store.last;
    if (ours) {
      if (cp.size < this.store.size) {
        // An older checkpoint that agrees with the copy proves nothing (anyone can replay one on a
        // retained topic or a stale cache): only a smaller tree that conflicts with it is evidence.
        if (!bytesEqual(cp.root, await this.store.rootAt(cp.size)))
          throw await this.#evidence('rollback', `the origin signed a tree of ${cp.size} records that conflicts with the ${this.store.size} this replica verified`, note);
        throw originError(`the origin's checkpoint has ${cp.size} records, older than the ${this.store.size} this replica verified (a stale or replayed checkpoint)`);
      }
      if (cp.size === this.store.size) {
        if (!bytesEqual(cp.root, ours.header.root))
          throw await this.#evidence('fork', `the origin signed two different trees of ${cp.size} records`, note);
        await this.#endsAt(cp, checkpointHeader(cp), note, ours);
        this.target = cp.size;
        this.#progress();
        return { size: this.store.size, height: this.store.height, target: cp.size, checkpoint: note, fetched: 0 };
      }
    }
    this.target = cp.size;
    try {
      await this.#copyUpTo(cp, note);
    } finally {
      this.#replacing = [];
    }
    return { size: this.store.size, height: this.store.height, target: cp.size, checkpoint: note, fetched: this.store.size - startSize };
  }

  /**
   * The origin says it holds fewer blocks than the copy, beside a signed checkpoint that is not
   * smaller. The head is not signed, so it proves nothing; the origin's last block does: signed
   * and different from the copy's block at that height, it is a rollback (the origin rewrote
   * what the copy verified). The same block as the copy's, or none served: the head is wrong.
   */
  async #lowHead(height: number): Promise<never> {
    const low = originError(`the origin head says ${height} blocks, this replica verified ${this.store.height}`);
    if (height === 0) throw low;
    const h = height - 1;
    const raw = (await this.#blockBundle(height, Math.floor(h / TILE_WIDTH)))[h % TILE_WIDTH];
    if (raw === undefined) throw low;
    const info = this.#openServed(height, raw, h);
    const mine = await this.store.rawBlock(h);
    if (mine && !bytesEqual(mine, raw)) {
      this.#sameSigned(mine, info);
      throw await this.#evidence('rollback', `the origin's block ${h} differs from the one this replica verified, and it holds ${height} blocks against ${this.store.height}`, info.checkpoint);
    }
    throw low;
  }

  /**
   * How many blocks the origin holds up to a checkpoint: its header line (`signed`) signs the
   * height of the block it ends. Only a checkpoint written before the header line needs the head, which
   * nobody signs (anyone who can publish on a Tiles over MQTT topic can retain one naming more
   * blocks than there are, whose tiles never come).
   */
  async #originHeight(signed: SignedHeader | undefined): Promise<number> {
    return signed ? signed.height + 1 : parseOriginHead(await this.#fetch(HEAD_PATH)).height;
  }

  /**
   * Copies the origin's blocks after ours up to the one of checkpoint `cp`, and their entries, a
   * window of block bundles at a time (WINDOW_BUNDLES, WINDOW_BYTES): a long history of small
   * blocks (or millions of one-record blocks a stolen key signed) is never held at once. Each
   * block is opened (header hash, checkpoint signature) as its bundle arrives, ours must come
   * back unchanged (else a fork), and the store checks the chain and each block's root against
   * its entries; the copy must end at the checkpoint, with its root (else a fork). Blocks written
   * before a check fails are verified blocks the gateway signed, as a copy that stopped there holds.
   */
  async #copyUpTo(cp: Checkpoint, note: string): Promise<void> {
    const signed = checkpointHeader(cp);
    const height = await this.#originHeight(signed);
    if (height < this.store.height)
      await this.#lowHead(height).catch(async (err: unknown) => {
        // The origin's block shows no rollback; a signed height may still name another header than the copy's block's own.
        if (!isLedgerError(err, 'ERR_REPLICA_ROLLBACK')) await this.#twoHeaders(cp, signed, note);
        throw err;
      });
    const from = Math.max(0, this.store.height - 1);
    const tiles = new TileVerifier(cp.size, cp.root, this.#fetch);
    const ownLast = this.store.height - 1;
    let window: OriginBlock[] = [];
    let bundles = 0;
    let bytes = 0;
    /** Entries fetched past the last block copied so far (the rest of its entry bundle). */
    let carry: Uint8Array[] = [];
    const copyWindow = async (): Promise<void> => {
      const blocks = window;
      window = [];
      bundles = 0;
      bytes = 0;
      // A block's record count is signed: one over the limit is refused before its entries are
      // fetched, and so is the block refused before (for its records or its bytes).
      const over = blocks.findIndex((b) => recordsOf(b) > this.#limits.records || this.#refusedAgain(b) !== null);
      carry = await this.#copy(cp, note, tiles, over < 0 ? blocks : blocks.slice(0, over), carry);
      const big = blocks[over];
      if (big) throw this.#refusedAgain(big) ?? this.#tooLarge(big, `${recordsOf(big)} records, more than ${this.#limits.records}`, { records: recordsOf(big), max: this.#limits.records });
    };
    /** The copy's last block as served with other header bytes under its checkpoint, mended (#inPlaceOf) only once the next block vouches for it. */
    let servedTop: { top: OriginBlock; served: (h: number) => Promise<OriginBlock | undefined> } | null = null;
    let end = false;
    for (let index = Math.floor(from / TILE_WIDTH); !end && index * TILE_WIDTH < height; index++) {
      const width = tileWidth(height, 0, index);
      const path = tilePath({ kind: 'blocks', level: 0, index, width });
      const body = await this.#fetch(path);
      const raws = checkFetched(this.#fetch, path, () => decodeBlockBundle(body, width));
      for (const [i, raw] of raws.entries()) {
        const h = index * TILE_WIDTH + i;
        if (h < from) continue;
        const info = this.#openServed(height, raw, h);
        if (h === ownLast) {
          const mine = await this.store.rawBlock(h);
          if (!mine || !bytesEqual(mine, raw)) {
            if (!mine || !sameCheckpoint(mine, info)) throw await this.#evidence('fork', `the origin's block ${h} differs from the one this replica verified`, info.checkpoint);
            servedTop = { top: { raw, info }, served: this.#servedBlocks(height, index, raws) };
          }
          continue;
        }
        if (h === ownLast + 1 && servedTop) {
          // Only a block whose header the gateway signed (its checkpoint's header line) says which
          // chain is the gateway's: a legacy one's prev is as unsigned as the bytes it would replace.
          // Checked before the served chain is walked down, which fetches the bundles below.
          if (!bytesEqual(info.header.prev, servedTop.top.info.hash) || !checkpointHeader(openCheckpoint(info.checkpoint))) throw otherHeader(ownLast);
          this.#replacing = await this.#inPlaceOf(servedTop.top, servedTop.served);
        }
        if (info.header.size > cp.size) {
          end = true;
          break;
        }
        const block: OriginBlock = { raw, info };
        window.push(block);
        // A block of more records than the limit (its count is signed), or the block refused
        // before: the blocks ahead of it are copied and it is refused, no more bundles fetched.
        if (recordsOf(block) > this.#limits.records || this.#refused?.height === h) await copyWindow();
      }
      bundles++;
      bytes += body.length;
      if (bundles >= WINDOW_BUNDLES || bytes >= WINDOW_BYTES) await copyWindow();
    }
    await copyWindow();
    const last = this.store.last;
    if (!last || last.header.size !== cp.size) throw originError(`no origin block ends at the checkpoint's size ${cp.size}`);
    if (!bytesEqual(last.header.root, cp.root))
      throw await this.#evidence('fork', `the origin's block ${last.height} and its checkpoint sign different roots for ${cp.size} records`, note);
    await this.#endsAt(cp, signed, note, last);
  }

  /**
   * Checkpoint `cp`'s header line (`signed`), if it has one, must name `block`, the copy's block that ends
   * its tree. Another header for that block or one below it, whose own checkpoint signs its
   * header, is a second block chain the gateway signed (#twoHeaders). A height above it, or a block
   * whose checkpoint predates the header line (it signs no header), cannot be shown with two
   * notes: an origin error.
   */
  async #endsAt(cp: Checkpoint, signed: SignedHeader | undefined, note: string, block: BlockInfo): Promise<void> {
    if (!signed || (signed.height === block.height && bytesEqual(signed.hash, block.hash))) return;
    await this.#twoHeaders(cp, signed, note);
    throw originError(`the origin's checkpoint of ${cp.size} records names block ${signed.height} with another header; its tree ends at block ${block.height} as this replica holds it`);
  }

  /**
   * Throws fork evidence (`headers`) when checkpoint `cp`'s header line (`signed`) names a block the copy
   * holds with another header than that block's own checkpoint signs: the gateway signed two
   * headers for one height. A block whose checkpoint has no header line (written before it) signs
   * no header, so nothing is shown and this returns.
   */
  async #twoHeaders(cp: Checkpoint, signed: SignedHeader | undefined, note: string): Promise<void> {
    if (!signed || signed.height >= this.store.height) return;
    const raw = await this.store.rawBlock(signed.height);
    const mine = raw && decodeBlockValue(raw, signed.height);
    if (!mine || bytesEqual(mine.hash, signed.hash) || !checkpointHeader(openCheckpoint(mine.checkpoint))) return;
    const detail = `the origin signed two headers for block ${signed.height}: its checkpoint of ${cp.size} records names another than the block's own`;
    throw await this.#evidence('fork', detail, note, undefined, mine.checkpoint);
  }

  /** The entries of bundle `index` of the tree of checkpoint `cp`, as served (not yet verified). */
  async #bundle(cp: Checkpoint, index: number, signal: AbortSignal): Promise<Uint8Array[]> {
    const width = tileWidth(cp.size, 0, index);
    // Views into the fetched body: the store copies what it keeps (putRecord).
    const path = tilePath({ kind: 'entries', level: 0, index, width });
    const body = await this.#fetch(path, { signal });
    return checkFetched(this.#fetch, path, () => decodeEntryBundle(body, width, true));
  }

  /**
   * Fetches the entries after ours up to the end of `blocks` and writes them block by block;
   * `carry` holds the entries already fetched from ours on (the rest of the entry bundle the
   * previous window ended in), and what this one fetched past its last block is returned, so no
   * bundle is fetched twice. Every entry is verified by the tree the store rebuilds from them:
   * each block's signed root must be its root, and the last block's root is the checkpoint's
   * (#copyUpTo). The level-0 hash tiles would check the same entries again, so they are fetched
   * only when a group of blocks does not match its entries, to tell a bad entry
   * (ERR_REPLICA_BAD_TILE) from a fork; or when a block's entries pass maxBlockBytes, to tell
   * changed entries from the origin's block. Up to `concurrency` bundles are fetched ahead; when
   * this ends early (a block too large, a bad entry, a fork), those in flight are cancelled.
   */
  async #copy(cp: Checkpoint, note: string, tiles: TileVerifier, blocks: OriginBlock[], carry: Uint8Array[]): Promise<Uint8Array[]> {
    const prefetch = new AbortController();
    try {
      return await this.#copyEntries(cp, note, tiles, blocks, carry, prefetch);
    } finally {
      prefetch.abort();
    }
  }

  /** #copy's work; aborting `prefetch` cancels the bundles fetched ahead and starts no more. */
  async #copyEntries(cp: Checkpoint, note: string, tiles: TileVerifier, blocks: OriginBlock[], carry: Uint8Array[], prefetch: AbortController): Promise<Uint8Array[]> {
    const until = blocks[blocks.length - 1]?.info.header.size;
    if (until === undefined) return carry;
    const have = this.store.size + carry.length;
    const first = Math.floor(have / TILE_WIDTH);
    const last = have >= until ? first : Math.ceil(until / TILE_WIDTH);
    const inflight: Promise<Uint8Array[]>[] = [];
    let next = first;
    const fill = (): void => {
      while (!prefetch.signal.aborted && next < last && inflight.length < this.#concurrency) {
        const p = this.#bundle(cp, next++, prefetch.signal);
        p.catch(() => undefined);
        inflight.push(p);
      }
    };
    let pending: Uint8Array[] = [];
    let pendingFrom = this.store.size;
    let pendingBytes = 0;
    /** Bytes of each block's entries held, by position in `blocks`; `filling` is the block of the last one. */
    const blockBytes: number[] = [];
    let filling = 0;
    let b = 0;
    const flush = async (all: boolean, before = blocks.length): Promise<void> => {
      const group: OriginBlock[] = [];
      let end = this.store.size;
      let bytes = 0;
      for (;;) {
        const block = blocks[b];
        if (!block || b >= before || block.info.header.size > pendingFrom + pending.length) break;
        group.push(block);
        end = block.info.header.size;
        bytes += blockBytes[b] ?? 0;
        b++;
        if (!all && (end - this.store.size >= WRITE_RECORDS || bytes >= WRITE_BYTES)) break;
      }
      if (group.length === 0) return;
      const take = end - pendingFrom;
      const entries = pending.slice(0, take);
      try {
        await this.store.append(group, entries, this.#replacing);
        this.#replacing = [];
      } catch (err) {
        // Throws ERR_REPLICA_BAD_TILE when an entry is not the one the checkpoint's tree holds.
        if (!isLedgerError(err, 'ERR_LEDGER_CLOSED') && !isLedgerError(err, 'ERR_LEDGER_IO')) await tiles.checkEntries(pendingFrom, entries);
        // The block's signed root conflicts with the entries of the checkpoint's tree: the two notes that show it.
        if (isLedgerError(err, 'ERR_REPLICA_FORK')) throw await this.#evidence('fork', err.message, typeof err.details?.theirs === 'string' ? err.details.theirs : '', { note, tiles });
        throw err;
      }
      pending = pending.slice(take);
      pendingFrom = end;
      pendingBytes -= bytes;
      this.#progress();
    };
    /** Holds entries in order; the position of a block they take past maxBlockBytes, or -1. */
    const hold = (entries: Uint8Array[]): number => {
      for (const entry of entries) {
        const at = pendingFrom + pending.length;
        while ((blocks[filling]?.info.header.size ?? Infinity) <= at) filling++;
        const bytes = (blockBytes[filling] ?? 0) + entry.length;
        blockBytes[filling] = bytes;
        pendingBytes += entry.length;
        pending.push(entry);
        if (bytes > this.#limits.bytes && filling < blocks.length) return filling;
      }
      return -1;
    };
    /** Holds `entries`, refusing a block they take past maxBlockBytes before another bundle is asked for. */
    const take = async (entries: Uint8Array[]): Promise<void> => {
      const over = hold(entries);
      const block = blocks[over];
      if (block) {
        // No bundle past it is wanted: those in flight are cancelled now, not left to download.
        prefetch.abort();
        await flush(true, over);
        // Checked first: changed entries (a bad tile) would otherwise be blamed on the origin's block.
        await tiles.checkEntries(pendingFrom, pending);
        throw this.#tooLarge(block, `more than ${this.#limits.bytes} bytes of records`, { max: this.#limits.bytes });
      }
      fill();
      if (pending.length >= WRITE_RECORDS || pendingBytes >= WRITE_BYTES) await flush(false);
    };
    await take(carry);
    for (let index = first; index < last; index++) {
      const entries = await (inflight.shift() as Promise<Uint8Array[]>);
      await take(entries.slice(Math.max(0, pendingFrom + pending.length - index * TILE_WIDTH)));
    }
    for (let block = blocks[b]; block; block = blocks[b]) {
      const before = b;
      await flush(true);
      if (b === before) throw originError(`entries for block ${block.info.height} are missing`);
    }
    return pending;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
