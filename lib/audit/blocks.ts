// Block values (docs/FORMAT.md "Blocks and checkpoints"): header decoding, header hash,
// the signed checkpoint, the hash chain, and the root at each block's end.
import { bytesEqual } from '../encoding/bytes';
import { checkpointHeader, openCheckpoint, type Checkpoint } from '../note/checkpoint';
import { CborTag, decodeCbor, type CborValue } from '../encoding/codec';
import { sha256 } from '../crypto/hash';
import { verifyNote, type NoteVerifier } from '../note/note';
import { blockPos, type Findings } from './findings';
import { blockKeyHeight, HASH_SIZE } from './layout';
import type { Cursor } from './store';

export interface Header {
  v: number;
  height: number;
  prev: Uint8Array;
  first: number;
  size: number;
  root: Uint8Array;
  time: number;
}

export interface Trust {
  /** The ledger name: checkpoint origin and signer name. */
  name: string;
  verifier?: NoteVerifier;
}

export interface Block {
  height: number;
  header?: Header;
  /** SHA-256 of the header bytes as stored. */
  headerHash?: Uint8Array;
  storedHash?: Uint8Array;
  checkpoint?: Checkpoint;
  /** The checkpoint verifies with the trusted key. */
  signed: boolean;
  /** The checkpoint's `iot-ledger header` line: matches this header (true), does not (false), absent (undefined). */
  covered?: boolean;
  /** The tree size at the block's end, as agreed by header, checkpoint and the next block. */
  size?: number;
  problems: { kind: string; detail: string }[];
}

const ZERO_HASH = new Uint8Array(HASH_SIZE);
const HEADER_FIELDS = ['v', 'height', 'prev', 'first', 'size', 'root', 'time'];
const BLOCK_FIELDS = ['header', 'hash', 'checkpoint'];

function isObject(v: CborValue): v is { [key: string]: CborValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && !(v instanceof Map) && !(v instanceof CborTag);
}
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isHash = (v: unknown): v is Uint8Array => v instanceof Uint8Array && v.length === HASH_SIZE;
const why = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Decodes a header; throws a message naming the first thing wrong. */
export function decodeHeader(bytes: Uint8Array): Header {
  const h = decodeCbor(bytes);
  if (!isObject(h)) throw new Error('header is not a CBOR map with text keys');
  const extra = Object.keys(h).filter((k) => !HEADER_FIELDS.includes(k));
  if (extra.length > 0) throw new Error(`header has unknown fields: ${extra.join(', ')}`);
  if (h.v !== 1) throw new Error('header version is not 1');
  for (const k of ['height', 'first', 'size', 'time'] as const) if (!isUint(h[k])) throw new Error(`header ${k} is not an unsigned integer`);
  for (const k of ['prev', 'root'] as const) if (!isHash(h[k])) throw new Error(`header ${k} is not 32 bytes`);
  if ((h.first as number) > (h.size as number)) throw new Error('header starts after its end');
  return h as unknown as Header;
}

/**
 * The checkpoint text and header bytes a block value stores, unchecked: for readers that only
 * look a block up (readBlock says what is wrong with one); undefined when it does not decode or
 * holds no checkpoint text.
 */
export function storedBlockFields(value: Uint8Array): { checkpoint: string; header: unknown } | undefined {
  let v: CborValue;
  try {
    v = decodeCbor(value);
  } catch {
    return undefined;
  }
  return isObject(v) && typeof v.checkpoint === 'string' ? { checkpoint: v.checkpoint, header: v.header } : undefined;
}

/** Reads one block value and checks what it can on its own: encoding, header hash, checkpoint signature. */
export function readBlock(height: number, value: Uint8Array, trust: Trust): Block {
  const b: Block = { height, signed: false, problems: [] };
  const problem = (kind: string, detail: string): void => void b.problems.push({ kind, detail });
  let v: CborValue;
  try {
    v = decodeCbor(value);
  } catch (err) {
    problem('block-header', `block value is not canonical CBOR: ${why(err)}`);
    return b;
  }
  if (!isObject(v)) {
    problem('block-header', 'block value is not a CBOR map with text keys');
    return b;
  }
  const extra = Object.keys(v).filter((k) => !BLOCK_FIELDS.includes(k));
  if (extra.length > 0) problem('block-header', `block value has unknown fields: ${extra.join(', ')}`);
  if (v.header instanceof Uint8Array) {
    b.headerHash = sha256(v.header);
    try {
      b.header = decodeHeader(v.header);
      if (b.header.height !== height) problem('block-header', `header says height ${b.header.height}, stored as block ${height}`);
      // A gateway never seals an empty block: one would be a second signed header of one tree size.
      if (b.header.first === b.header.size) problem('block-header', `block holds no records (it starts and ends at tree size ${b.header.size})`);
    } catch (err) {
      problem('block-header', `header does not decode: ${why(err)}`);
    }
  } else problem('block-header', 'block value has no header bytes');
  if (isHash(v.hash)) {
    b.storedHash = v.hash;
    if (b.headerHash && !bytesEqual(b.headerHash, v.hash)) problem('block-header', 'stored header hash is not SHA-256 of the header bytes');
  } else problem('block-header', 'block value has no 32-byte header hash');
  if (typeof v.checkpoint === 'string') {
    try {
      b.checkpoint = openCheckpoint(v.checkpoint);
    } catch (err) {
      problem('checkpoint-signature', `checkpoint is not a signed tlog checkpoint: ${why(err)}`);
    }
    if (b.checkpoint) {
      if (!trust.verifier) problem('checkpoint-signature', 'no trusted gateway key to verify the checkpoint with');
      else if (!verifyNote(v.checkpoint, trust.verifier)) problem('checkpoint-signature', 'checkpoint signature does not verify with the trusted gateway key');
      else b.signed = true;
      if (b.checkpoint.origin !== trust.name)
        problem('checkpoint-signature', `checkpoint origin "${b.checkpoint.origin}" is not the ledger name "${trust.name}"`);
      checkCommittedHeader(b, height, problem);
    }
  } else problem('checkpoint-signature', 'block value has no checkpoint');
  return b;
}

/** The header line of a checkpoint against the block's height and header hash. */
function checkCommittedHeader(b: Block, height: number, problem: (kind: string, detail: string) => void): void {
  let committed;
  try {
    committed = checkpointHeader(b.checkpoint as Checkpoint);
  } catch (err) {
    b.covered = false;
    problem('checkpoint-signature', `checkpoint ${why(err)}`);
    return;
  }
  if (!committed) return; // a checkpoint written before format 2: see BlockChain.checkNewest
  b.covered = false;
  if (committed.height !== height) problem('block-header', `checkpoint commits to the header of block ${committed.height}, stored as block ${height}`);
  else if (b.headerHash && !bytesEqual(committed.hash, b.headerHash))
    problem('block-header', 'header bytes are not the header the signed checkpoint commits to');
  else b.covered = true;
}

/**
 * The tree size a block ends at, by vote of three copies: the header's `size`, the
 * checkpoint's size and the next block's `first` (for the last block: the head's
 * `blockFirst`). A single damaged copy is outvoted; a tie goes to the signed checkpoint,
 * then to the header.
 */
function agreedSize(b: Block, next: number | undefined): number | undefined {
  const votes = [b.signed ? b.checkpoint?.size : undefined, b.header?.size, b.signed ? undefined : b.checkpoint?.size, next];
  const known = votes.filter((x): x is number => x !== undefined);
  for (const x of known) if (known.filter((y) => y === x).length * 2 > known.length) return x;
  return known[0];
}

export interface ChainStart {
  height: number;
  /** Hashes the next header's `prev` may equal: the previous header's computed and stored hash. */
  prevHashes: Uint8Array[];
  prevSize: number;
}

export const GENESIS: ChainStart = { height: 0, prevHashes: [ZERO_HASH], prevSize: 0 };

/** Told of the blocks as the chain settles them (the block summaries are checked against these extents). */
export interface BlockListener {
  block(height: number, first: number, size: number): void;
  /** Heights `from`..`to` have no block. */
  missing(from: number, to: number): void;
}

/**
 * Walks the blocks in height order beside the record stream. A block is "finalized"
 * once the next one has been read (its size needs the next block's vote); its root
 * is checked when the tree reaches its size.
 */
export class BlockChain {
  readonly #cursor: Cursor;
  readonly #trust: Trust;
  readonly #findings: Findings;
  readonly #headBlockFirst: number | undefined;
  readonly #floor: number;
  readonly #onBlock: BlockListener | undefined;
  #expectHeight: number;
  #prev: ChainStart;
  #pending: Block | undefined;
  /**
   * Finalized blocks awaiting their root, in height order, from #head on: taken from the front by
   * moving #head (Array#shift moves every block behind it, and the blocks read ahead of the records,
   * say a long run whose size nothing settles, can be as many as the ledger stores).
   */
  #queue: Block[] = [];
  #head = 0;
  #exhausted = false;
  #last: Block | undefined;
  /** A block ending at or past the floor has been settled. */
  #pastFloor = false;
  checked = 0;
  signatures = 0;

  /**
   * `floor`: blocks ending before it lie in the trusted prefix; their roots are not rechecked.
   * `onBlock`: told each block's records [first, size) once its size is agreed, and each run of missing heights (in height order).
   */
  constructor(
    cursor: Cursor,
    trust: Trust,
    findings: Findings,
    start: ChainStart,
    headBlockFirst: number | undefined,
    floor = 0,
    onBlock?: BlockListener,
  ) {
    this.#floor = floor;
    this.#onBlock = onBlock;
    this.#cursor = cursor;
    this.#trust = trust;
    this.#findings = findings;
    this.#prev = start;
    this.#expectHeight = start.height;
    this.#headBlockFirst = headBlockFirst;
  }

  /** The last block read (the ledger's latest, once everything has been read). */
  get last(): Block | undefined {
    return this.#last;
  }

  /** Reads blocks until every block ending at or before `size` is finalized. */
  async ensure(size: number): Promise<void> {
    while (!this.#exhausted) {
      const tail = this.#queue.length > this.#head ? this.#queue[this.#queue.length - 1] : undefined;
      if (tail?.size !== undefined && tail.size > size) return;
      const entry = await this.#cursor.next();
      if (!entry) {
        this.#exhausted = true;
        if (this.#pending) this.#finalize(this.#pending, this.#headBlockFirst);
        this.#pending = undefined;
        return;
      }
      const height = blockKeyHeight(entry[0]);
      if (height === undefined) continue;
      const block = readBlock(height, entry[1], this.#trust);
      // Missing blocks sit where the next one starts; a run of them is one finding (a stray
      // key at a huge height must not cost a finding per height in between).
      if (this.#expectHeight < height) {
        const gap: Block = { height: this.#expectHeight, signed: false, problems: [], size: block.header?.first };
        const last = height - 1;
        this.#add(gap, 'missing', last === this.#expectHeight ? `block ${last} is missing` : `blocks ${this.#expectHeight}..${last} are missing (${height - this.#expectHeight} blocks)`);
        this.#onBlock?.missing(this.#expectHeight, last);
      }
      this.#expectHeight = height + 1;
      this.checked++;
      if (block.checkpoint) this.signatures++;
      if (this.#pending) this.#finalize(this.#pending, block.header?.first);
      this.#pending = block;
      this.#last = block;
    }
  }

  /**
   * Block ends in [lo, hi] awaiting their root, ascending. The blocks behind one that ends past
   * `hi` settle only after it (settle takes them in order), so the look stops there; blocks of no
   * agreed size at the front are dropped, as settle drops them.
   */
  sizesIn(lo: number, hi: number): number[] {
    const out: number[] = [];
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head]!.size === undefined) this.#take();
    for (let i = this.#head; i < q.length; i++) {
      const size = q[i]!.size;
      if (size === undefined) continue;
      if (size > hi) break;
      if (size >= lo && out[out.length - 1] !== size) out.push(size);
    }
    return out;
  }

  /** Takes the block at the front of the queue (compacting the array now and then). */
  #take(): Block | undefined {
    const b = this.#queue[this.#head];
    if (b === undefined) return undefined;
    this.#queue[this.#head++] = undefined as unknown as Block;
    if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return b;
  }

  /** Checks the roots of the blocks that end at `size` (root undefined: it cannot be recomputed). */
  settle(size: number, root: Uint8Array | undefined, why?: string): void {
    for (let b = this.#queue[this.#head]; b; b = this.#queue[this.#head]) {
      if (b.size !== undefined && b.size > size) return;
      this.#take();
      if (b.size === undefined) continue;
      // Only the blocks before the first that reaches the floor lie in the trusted prefix: a later
      // one that ends below it went back, and is reported as in a full audit.
      if (b.size < this.#floor && !this.#pastFloor) continue;
      if (b.size >= this.#floor) this.#pastFloor = true;
      if (b.size < size) {
        this.#add(b, 'block-header', `block ends at tree size ${b.size}, before the previous block's end`);
        continue;
      }
      if (!root) {
        this.#add(b, 'block-root', `root at tree size ${size} cannot be recomputed${why ? `: ${why}` : ''}`);
        continue;
      }
      if (b.header && !bytesEqual(b.header.root, root)) this.#add(b, 'block-root', `header root differs from the recomputed root at tree size ${size}`);
      if (b.signed && b.checkpoint && !bytesEqual(b.checkpoint.root, root))
        this.#add(b, 'block-root', `signed checkpoint root differs from the recomputed root at tree size ${size}`);
    }
  }

  /**
   * Once every block is read: the newest header must be under the signature of its own
   * checkpoint (older ones are covered through the next header's prev).
   */
  checkNewest(): void {
    const b = this.#last;
    if (!b || b.covered !== undefined || !b.signed || !b.headerHash) return;
    this.#findings.add(blockPos(b.size ?? statedSize(b) ?? this.#prev.prevSize), {
      kind: 'block-header',
      height: b.height,
      time: b.header?.time,
      detail: `block ${b.height} is the newest and its checkpoint has no "iot-ledger header" line (written before format 2): no signature covers its header`,
    });
  }

  /** After the last record: blocks that claim more records than are stored. */
  finish(treeSize: number): void {
    for (let i = this.#head; i < this.#queue.length; i++) {
      const b = this.#queue[i]!;
      if (b.size !== undefined) this.#add(b, 'missing', `block ends at tree size ${b.size} but only ${treeSize} records are stored`);
    }
    this.#queue = [];
    this.#head = 0;
  }

  async close(): Promise<void> {
    await this.#cursor.close();
  }

  /** The agreed size of the last finalized block (0 before any). */
  get lastSize(): number {
    return this.#prev.prevSize;
  }

  #add(b: Block, kind: string, detail: string): void {
    const pos = blockPos(b.size ?? this.#prev.prevSize + 1);
    this.#findings.add(pos, { kind, height: b.height, time: b.header?.time, detail });
  }

  #finalize(b: Block, nextFirst: number | undefined): void {
    b.size = agreedSize(b, nextFirst);
    for (const p of b.problems) this.#add(b, p.kind, p.detail);
    const h = b.header;
    if (h && b.size !== undefined && h.size !== b.size) this.#add(b, 'block-header', `header size ${h.size} disagrees with the checkpoint and the next block (${b.size})`);
    if (b.signed && b.checkpoint && b.size !== undefined && b.checkpoint.size !== b.size)
      this.#add(b, 'block-header', `checkpoint size ${b.checkpoint.size} disagrees with the header and the next block (${b.size})`);
    if (h) {
      if (!this.#prev.prevHashes.some((x) => bytesEqual(x, h.prev))) this.#add(b, 'block-chain', `prev is not the hash of block ${b.height - 1}'s header`);
      if (h.first !== this.#prev.prevSize) this.#add(b, 'block-chain', `first is ${h.first}, but block ${b.height - 1} ends at ${this.#prev.prevSize}`);
    }
    if (b.size !== undefined && b.size < this.#prev.prevSize)
      this.#add(b, 'block-header', `tree size ${b.size} is smaller than the previous block's ${this.#prev.prevSize}`);
    const hashes = [b.headerHash, b.storedHash].filter((x): x is Uint8Array => x !== undefined);
    if (b.size !== undefined && b.size >= this.#prev.prevSize) {
      // After missing blocks the header's first is where this block's records start.
      const first = h && h.first >= this.#prev.prevSize && h.first <= b.size ? h.first : this.#prev.prevSize;
      this.#onBlock?.block(b.height, first, b.size);
    }
    this.#prev = { height: b.height + 1, prevHashes: hashes, prevSize: b.size ?? this.#prev.prevSize };
    this.#queue.push(b);
  }
}

/** The size a block states (header, else checkpoint), without deciding anything: for searching. */
export function statedSize(b: Block): number | undefined {
  return b.header?.size ?? b.checkpoint?.size;
}

export function chainStartAfter(b: Block): ChainStart {
  const hashes = [b.headerHash, b.storedHash].filter((x): x is Uint8Array => x !== undefined);
  return { height: b.height + 1, prevHashes: hashes, prevSize: statedSize(b) ?? 0 };
}
