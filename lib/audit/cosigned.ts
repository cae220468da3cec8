// The witness entries a gateway keeps beside its blocks (docs/FORMAT.md "Storage"):
//   `c` + u64(height)  -> the block's signed checkpoint note, byte for byte, then the valid
//                         witness cosignature lines received for it
//   `w` + witness name -> u64(size): the latest size the witness is known to hold
// The gateway writes only cosignatures that verified, so a `c` entry that is not its block's
// checkpoint, or holds a line a known witness key does not verify, was altered afterwards.
// Without witness keys the audit checks what it can (the note, the line syntax) and counts
// the lines it could not verify.
import { fromUtf8, utf8 } from '../encoding/text';
import { bytesEqual } from '../encoding/bytes';
import { isValidKeyName, splitNote } from '../note/note-open';
import { cosignatureVerifier, type WitnessKey } from '../witness/cosignature';
import { openCosignedEntry } from '../witness/cosigned-entry';
import { cosignedKey, cosignedKeyHeight, P_COSIGNED, P_WITNESS } from '../witness/ledger-cosignatures';
import { decodeHeader, storedBlockFields } from './blocks';
import { blockPos, POS_END, type Findings } from './findings';
import { blockKey, blockKeyHeight, PREFIX_BLOCK } from './layout';
import type { Cursor, RawStore } from './store';
import type { CosignatureTally } from './types';

/**
 * Entries read per batch: their values are read whole, whatever their length, so one at a time
 * (and the next one ahead): a ledger directory holding huge `c`, `w` or `b` values costs two of them.
 */
const BATCH = 1;

/** Blocks read through to reach the next one asked for: a longer run without entries is skipped by a look-up. */
const MAX_READ_THROUGH = 16;
/** Block values read per batch: as the audit's block chain reads them (a quarter of its batch). */
const BLOCK_BATCH = 16;

/**
 * Block values at ascending heights (the `c` entries come in height order): a run of them is
 * read in one ordered pass rather than a look-up each; a block after a long run without entries
 * is looked up, and the pass starts again from it.
 */
class BlocksInOrder {
  readonly #store: RawStore;
  #cursor: Cursor | undefined;
  /** The height after the last one asked for: the cursor stands at or past it. */
  #next = 0;

  constructor(store: RawStore) {
    this.#store = store;
  }

  /** Block `height`'s value (undefined when it is not stored); heights must ascend from call to call. */
  async at(height: number): Promise<Uint8Array | undefined> {
    const gap = height - this.#next;
    this.#next = height + 1;
    if (gap > MAX_READ_THROUGH) {
      await this.#cursor?.close();
      this.#cursor = undefined;
      return this.#store.get(blockKey(height));
    }
    this.#cursor ??= this.#store.cursor(blockKey(height), Uint8Array.of(PREFIX_BLOCK + 1), BLOCK_BATCH);
    const cursor = this.#cursor;
    for (;;) {
      if (!cursor.ready) await cursor.fill();
      const e = cursor.peek();
      if (!e) return undefined;
      const h = blockKeyHeight(e[0]);
      if (h !== undefined && h > height) return undefined; // not stored; the one read stays for a later height
      cursor.take();
      if (h === height) return e[1];
    }
  }

  async close(): Promise<void> {
    await this.#cursor?.close();
  }
}

interface BlockCheckpoint {
  checkpoint: string;
  /** Its own signature lines. */
  own: number;
  size?: number;
  time?: number;
}

/** The signed checkpoint a block value holds, with its header's end size and time; undefined when it does not decode, or is no note (the block's own findings say why). */
function blockCheckpoint(value: Uint8Array | undefined): BlockCheckpoint | undefined {
  const v = value && storedBlockFields(value);
  if (!v) return undefined;
  let own: number;
  try {
    own = splitNote(v.checkpoint).lines.length;
  } catch {
    return undefined;
  }
  try {
    const { size, time } = decodeHeader(v.header as Uint8Array);
    return { checkpoint: v.checkpoint, own, size, time };
  } catch {
    return { checkpoint: v.checkpoint, own };
  }
}

/**
 * Checks the `c` entries of blocks `fromHeight` and later against their blocks and, for
 * the witnesses given, their cosignatures; and the shape of every `w` entry.
 */
export async function checkCosigned(store: RawStore, findings: Findings, fromHeight: number, blockCount: number, witnesses: readonly WitnessKey[]): Promise<CosignatureTally> {
  const tally: CosignatureTally = { entries: 0, verified: 0, unchecked: 0, unreadable: 0, witnesses: witnesses.map((w) => ({ name: w.name, blocks: 0 })) };
  const cursor = store.cursor(cosignedKey(fromHeight), Uint8Array.of(P_COSIGNED + 1), BATCH);
  const blocks = new BlocksInOrder(store);
  try {
    for (let e = await cursor.next(); e; e = await cursor.next()) {
      const [key, value] = e;
      const height = cosignedKeyHeight(key);
      if (height === undefined) {
        findings.add(POS_END, { kind: 'cosignature', detail: `a key under the cosigned-checkpoint prefix 'c' has no u64 height (${key.length} bytes)` });
        continue;
      }
      tally.entries++;
      if (height >= blockCount) {
        findings.add(POS_END, { kind: 'cosignature', height, detail: `a cosigned checkpoint is stored for block ${height}, which is not a sealed block` });
        continue;
      }
      const block = blockCheckpoint(await blocks.at(height));
      if (!block) {
        tally.unreadable++;
        continue;
      }
      checkEntry(value, block, height, witnesses, findings, tally);
    }
  } finally {
    await Promise.all([cursor.close(), blocks.close()]);
  }
  await checkWitnessSizes(store, findings);
  return tally;
}

function checkEntry(
  value: Uint8Array,
  block: BlockCheckpoint,
  height: number,
  witnesses: readonly WitnessKey[],
  findings: Findings,
  tally: CosignatureTally,
): void {
  const at = block.size === undefined ? POS_END : blockPos(block.size);
  const finding = (detail: string): void => findings.add(at, { kind: 'cosignature', height, ...(block.time !== undefined ? { time: block.time } : {}), detail });
  const entry = openCosignedEntry(value, block.checkpoint);
  if ('problem' in entry) return finding(entry.problem);
  const { split } = entry;
  const text = utf8(split.text);
  const seen = new Set<number>();
  for (const line of split.lines.slice(block.own)) {
    const at = witnesses.findIndex((w) => w.name === line.name && bytesEqual(w.keyId, line.keyId));
    const witness = witnesses[at];
    if (!witness) {
      tally.unchecked++;
      continue;
    }
    const verifier = cosignatureVerifier(witness);
    if (!verifier.verify(text, line.signature)) {
      finding(`the cosignature of witness ${witness.name} does not verify with its key`);
      continue;
    }
    // Signed by the witness, but no quorum counts it, so the gateway never stores it.
    if (verifier.uncounted.length > 0) {
      finding(`the cosignature of witness ${witness.name} is dated ${verifier.uncounted[0]}, past any time a quorum counts (the gateway does not store such a line)`);
      continue;
    }
    // A repeat of a line that verified (the gateway stores one per witness) counts once.
    if (seen.has(at)) continue;
    seen.add(at);
    tally.verified++;
    const w = tally.witnesses[at] as CosignatureTally['witnesses'][number];
    w.blocks++;
    w.newest = { height, ...(block.size !== undefined ? { size: block.size } : {}) };
  }
}

/** A `w` entry names a witness (a valid key name) and holds a u64 size. */
async function checkWitnessSizes(store: RawStore, findings: Findings): Promise<void> {
  const cursor = store.cursor(Uint8Array.of(P_WITNESS), Uint8Array.of(P_WITNESS + 1), BATCH);
  try {
    for (let e = await cursor.next(); e; e = await cursor.next()) {
      const [key, value] = e;
      let name: string | undefined;
      try {
        name = fromUtf8(key.subarray(1));
      } catch {
        name = undefined;
      }
      if (name === undefined || !isValidKeyName(name)) findings.add(POS_END, { kind: 'cosignature', detail: "a key under the witness prefix 'w' is not a witness name" });
      else if (value.length !== 8) findings.add(POS_END, { kind: 'cosignature', detail: `the size kept for witness ${name} is ${value.length} bytes, not a u64` });
    }
  } finally {
    await cursor.close();
  }
}
