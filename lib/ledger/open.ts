// Creating a ledger, or checking the tail of an existing one: O(log n) reads, never a rescan.
import { bytesEqual, toHex } from '../encoding/bytes';
import { didToKey, keyToDid } from '../crypto/didkey';
import { LedgerError } from '../errors';
import type { PrivateKey } from '../crypto/keys';
import { CompactRange, rootPlan } from '../merkle';
import { parseVerifierKey, verifierKeyString, type NoteVerifier } from '../note/note';
import { openBlock } from './blocks';
import type { Tip } from './commit';
import {
  blockKey,
  decodeBlockValue,
  decodeHead,
  decodeMeta,
  FORMAT_VERSION,
  HEAD_KEY,
  headValue,
  META_KEY,
  metaValue,
  MIN_STORED_LEVEL,
  nodeHashFromValue,
  nodeKey,
  recordKey,
  type Meta,
} from './layout';
import type { Db } from './lock';
import { derivedNodeHash, readNodes, rootAt } from './proofs';
import { readRecord, scanRecords } from './reads';
import { SummaryBuilder } from './summary';

function corrupt(message: string, details?: Record<string, unknown>): LedgerError {
  return new LedgerError('ERR_LEDGER_CORRUPT', message, details);
}

function invalid(message: string): LedgerError {
  return new LedgerError('ERR_INVALID_ARGUMENT', message);
}

/**
 * A ledger name is the checkpoint origin and the note key name: one word, no '+', and no control
 * character (a signed note's text holds none but newline, so such a ledger could never seal).
 */
export function checkLedgerName(name: unknown): asserts name is string {
  // eslint-disable-next-line no-control-regex -- the check is about control characters
  if (typeof name !== 'string' || !/^[^\s+\u0000-\u001f]{1,255}$/u.test(name))
    throw invalid(`ledger name must be 1-255 characters without spaces, '+' or a control character, got ${JSON.stringify(name)}`);
}

export interface Opened {
  meta: Meta;
  verifier: NoteVerifier;
  tip: Tip;
}

/** Writes meta and an empty head to a fresh database. */
async function create(db: Db, name: string, key: PrivateKey, now: number): Promise<Meta> {
  for await (const _ of db.keys({ limit: 1 })) throw corrupt('the directory holds a LevelDB database that is not a ledger');
  const meta: Meta = { v: FORMAT_VERSION, name, gateway: keyToDid(key), verifier: verifierKeyString(name, key), created: now };
  await db.batch(
    [
      { type: 'put', key: META_KEY, value: metaValue(meta) },
      { type: 'put', key: HEAD_KEY, value: headValue({ size: 0, height: 0, blockFirst: 0 }) },
    ],
    { sync: true },
  );
  return meta;
}

/** The meta's verifier key, which must be the one its name and gateway did:key give; else ERR_LEDGER_CORRUPT. */
export function metaVerifier(meta: Meta): NoteVerifier {
  try {
    const verifier = parseVerifierKey(meta.verifier);
    const gateway = didToKey(meta.gateway);
    if (verifier.name !== meta.name || meta.verifier !== verifierKeyString(meta.name, gateway)) throw new Error('mismatch');
    return verifier;
  } catch {
    throw corrupt('ledger meta: the verifier key does not match the name and gateway did:key');
  }
}

export async function openState(
  db: Db,
  opts: { name?: string; key?: PrivateKey; readOnly: boolean; now: number; dir: string },
): Promise<Opened> {
  const metaBytes = await db.get(META_KEY);
  let meta: Meta;
  if (metaBytes === undefined) {
    if (opts.readOnly) throw new LedgerError('ERR_NOT_FOUND', `no ledger at ${opts.dir}`);
    if (opts.name === undefined || !opts.key) throw invalid('creating a ledger needs a name and a gateway key');
    meta = await create(db, opts.name, opts.key, opts.now);
  } else {
    meta = decodeMeta(metaBytes);
    if (opts.name !== undefined && opts.name !== meta.name)
      throw invalid(`ledger ${opts.dir} is named "${meta.name}", not "${opts.name}"`);
    if (opts.key && keyToDid(opts.key) !== meta.gateway)
      throw invalid(`the gateway key (${keyToDid(opts.key)}) is not the key of ledger ${opts.dir} (${meta.gateway})`);
  }
  const verifier = metaVerifier(meta);
  const tip = await checkTail(db, meta, verifier);
  return { meta, verifier, tip };
}

/**
 * Loads the frontier and checks the tail: the head's hash, the last record against the
 * lowest stored node over it, that nothing lies past the head, the last block (hash, checkpoint
 * signature, where it ends) and that the tree at the last block's size has its root;
 * reads the records of the open block for its summary.
 */
async function checkTail(db: Db, meta: Meta, verifier: NoteVerifier): Promise<Tip> {
  const headBytes = await db.get(HEAD_KEY);
  if (headBytes === undefined) throw corrupt('ledger head is missing');
  const head = decodeHead(headBytes);
  const { size, height } = head;

  const plan = rootPlan(size);
  const frontier = new CompactRange(size, await readNodes(db, plan.ids));

  if (size > 0) {
    await readRecord(db, size - 1);
    // The last record against the tree: the lowest stored node over it, when complete, is the hash of its leaves.
    const at = Math.floor((size - 1) / 2 ** MIN_STORED_LEVEL);
    if ((at + 1) * 2 ** MIN_STORED_LEVEL <= size) {
      const key = nodeKey(MIN_STORED_LEVEL, at);
      const node = nodeHashFromValue(key, await db.get(key), MIN_STORED_LEVEL, at);
      if (!bytesEqual(node, await derivedNodeHash(db, MIN_STORED_LEVEL, at)))
        throw corrupt(`record ${size - 1} does not match its Merkle node (level ${MIN_STORED_LEVEL}, index ${at})`, { index: size - 1 });
    }
  }
  // Nothing past the head: no record, and no stored node reaching past it.
  const [nextRecord, nextNode] = await db.getMany([recordKey(size), nodeKey(MIN_STORED_LEVEL, Math.floor(size / 2 ** MIN_STORED_LEVEL))]);
  if (nextRecord !== undefined || nextNode !== undefined)
    throw corrupt(`ledger holds a record past its head (size ${size})`, { index: size });

  let last = null;
  if (height > 0) {
    const value = await db.get(blockKey(height - 1));
    if (value === undefined) throw corrupt(`block ${height - 1} is missing`, { height: height - 1 });
    last = openBlock(decodeBlockValue(value, height - 1), height - 1, meta.name, verifier);
    if (last.header.size !== head.blockFirst)
      throw corrupt(`block ${height - 1} ends at ${last.header.size} but the head's open block starts at ${head.blockFirst}`, {
        height: height - 1,
      });
    const root = await rootAt(db, frontier, last.header.size);
    if (!bytesEqual(root, last.header.root))
      throw corrupt(`the stored Merkle nodes give root ${toHex(root)} at size ${last.header.size}, block ${height - 1} says ${toHex(last.header.root)}`, {
        height: height - 1,
      });
  } else if (head.blockFirst !== 0) throw corrupt('ledger head has no blocks but its open block does not start at 0');
  if ((await db.get(blockKey(height))) !== undefined) throw corrupt(`ledger holds block ${height} past its head`, { height });
  // The open block's summary, rebuilt from its records (fewer than a block's worth).
  const open = new SummaryBuilder(head.blockFirst);
  let openBytes = 0;
  for await (const r of scanRecords(db, head.blockFirst, size)) {
    open.add(r.record);
    openBytes += r.bytes.length;
  }
  return { head, frontier, last, open, openBytes };
}
