// The ledger's own description (meta), its head, and the gateway key checkpoints are
// checked with: the caller's (given) or, by default, the one the meta names.
import { bytesEqual, isBytes } from '../encoding/bytes';
import { CborTag, decodeCbor, encodeCbor, type CborValue } from '../encoding/codec';
import { didToKey } from '../crypto/didkey';
import { isLedgerError, LedgerError } from '../errors';
import { sha256 } from '../crypto/hash';
import { noteKeyId, parseVerifierKey, verifierKeyString, type NoteVerifier } from '../note/note';
import { POS_END, POS_START, type Findings } from './findings';
import { FORMAT_VERSION, HASH_SIZE } from './layout';

export interface Meta {
  name: string;
  gateway?: string;
  verifier?: NoteVerifier;
  verifierString?: string;
}

export interface Head {
  size: number;
  height: number;
  blockFirst: number;
  /** The head's own hash verifies. */
  intact: boolean;
}

function isObject(v: CborValue): v is { [key: string]: CborValue } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !isBytes(v) && !(v instanceof Map) && !(v instanceof CborTag);
}
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const why = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Reads `m`+`meta`: {v, name, gateway, verifier, created}; findings for anything off. */
export function readMeta(value: Uint8Array | undefined, findings: Findings): Meta | undefined {
  const add = (detail: string): void => findings.add(POS_START, { kind: 'meta', detail });
  if (!value) {
    add('ledger meta is missing');
    return undefined;
  }
  let v: CborValue;
  try {
    v = decodeCbor(value);
  } catch (err) {
    add(`ledger meta is not canonical CBOR: ${why(err)}`);
    return undefined;
  }
  if (!isObject(v) || typeof v.name !== 'string' || v.name === '') {
    add('ledger meta has no name');
    return undefined;
  }
  const format = typeof v.v === 'number' ? v.v : undefined;
  const older = format !== undefined && Number.isInteger(format) && format >= 1 && format < FORMAT_VERSION;
  if (format !== undefined && (older || format > FORMAT_VERSION))
    throw new LedgerError(
      'ERR_LEDGER_FORMAT',
      older
        ? `the ledger is in storage format ${format}; this version audits format ${FORMAT_VERSION}: run \`iot-ledger migrate <dir>\` once (on a copy, to keep the original)`
        : `the ledger is in storage format ${format}, newer than this version audits (${FORMAT_VERSION})`,
      { format },
    );
  if (v.v !== FORMAT_VERSION) add(`ledger meta version is not ${FORMAT_VERSION}`);
  const extra = Object.keys(v).filter((k) => !['v', 'name', 'gateway', 'verifier', 'created'].includes(k));
  if (extra.length > 0) add(`ledger meta has unknown fields: ${extra.join(', ')}`);
  if (!isUint(v.created)) add('ledger meta has no creation time');
  const meta: Meta = { name: v.name };
  if (typeof v.gateway === 'string') meta.gateway = v.gateway;
  else add('ledger meta has no gateway did:key');
  if (typeof v.verifier === 'string') {
    meta.verifierString = v.verifier;
    try {
      meta.verifier = parseVerifierKey(v.verifier);
      if (meta.verifier.name !== meta.name) add(`ledger meta verifier key is named "${meta.verifier.name}", not "${meta.name}"`);
    } catch (err) {
      add(`ledger meta verifier key does not parse: ${why(err)}`);
    }
  } else add('ledger meta has no verifier key');
  if (meta.gateway && meta.verifier) {
    try {
      const k = didToKey(meta.gateway);
      if (k.alg !== 'Ed25519' || !bytesEqual(k.publicKey, meta.verifier.key.publicKey))
        add('ledger meta gateway did:key and verifier key are different keys');
    } catch (err) {
      add(`ledger meta gateway is not a did:key: ${why(err)}`);
    }
  }
  return meta;
}

/** Parses a trusted key given by the caller: a verifier key string or an Ed25519 did:key. */
export function parseTrustedKey(key: string, name: string): NoteVerifier {
  const k = key.trim();
  if (k.startsWith('did:key:')) {
    const pub = didToKey(k);
    if (pub.alg !== 'Ed25519') throw new LedgerError('ERR_INVALID_ARGUMENT', 'the gateway key must be Ed25519 (checkpoints are Ed25519 signed notes)');
    return { name, keyId: noteKeyId(name, pub), key: pub };
  }
  return parseVerifierKey(k);
}

export interface TrustChoice {
  source: 'meta' | 'given';
  verifier?: NoteVerifier;
  verifierString?: string;
}

/** The key to check checkpoints with; a given key the meta disagrees with is a finding. */
export function chooseTrust(given: string | undefined, meta: Meta | undefined, name: string, findings: Findings): TrustChoice {
  if (given === undefined) {
    return { source: 'meta', verifier: meta?.verifier, verifierString: meta?.verifierString };
  }
  let verifier: NoteVerifier;
  try {
    verifier = parseTrustedKey(given, name);
  } catch (err) {
    if (isLedgerError(err, 'ERR_WEAK_KEY')) throw err;
    throw new LedgerError('ERR_INVALID_ARGUMENT', `trusted key is neither a verifier key nor an Ed25519 did:key: ${why(err)}`, undefined, err);
  }
  if (meta?.verifier && !bytesEqual(meta.verifier.key.publicKey, verifier.key.publicKey))
    findings.add(POS_START, { kind: 'meta', detail: 'ledger meta names a different gateway key than the trusted one' });
  if (verifier.name !== name)
    findings.add(POS_START, { kind: 'meta', detail: `trusted key is named "${verifier.name}", the ledger "${name}"` });
  return { source: 'given', verifier, verifierString: verifierKeyString(verifier.name, verifier.key) };
}

/** Reads `h`: {size, height, blockFirst, hash}, hash = SHA-256(CBOR of the other three). */
export function readHead(value: Uint8Array | undefined, findings: Findings): Head | undefined {
  const add = (detail: string): void => findings.add(POS_END, { kind: 'head', detail });
  if (!value) {
    add('head is missing');
    return undefined;
  }
  let v: CborValue;
  try {
    v = decodeCbor(value);
  } catch (err) {
    add(`head is not canonical CBOR: ${why(err)}`);
    return undefined;
  }
  if (
    !isObject(v) ||
    Object.keys(v).length !== 4 ||
    !isUint(v.size) ||
    !isUint(v.height) ||
    !isUint(v.blockFirst) ||
    !(isBytes(v.hash) && v.hash.length === HASH_SIZE)
  ) {
    add('head is not {size, height, blockFirst, hash}');
    return undefined;
  }
  const head: Head = { size: v.size, height: v.height, blockFirst: v.blockFirst, intact: true };
  if (!bytesEqual(sha256(encodeCbor({ size: v.size, height: v.height, blockFirst: v.blockFirst })), v.hash)) {
    add('head hash does not match its fields');
    head.intact = false;
  }
  return head;
}

/** Compares an intact head with what the audit found. */
export function checkHead(head: Head | undefined, size: number, blocks: number, lastBlockSize: number, findings: Findings): void {
  if (!head) return;
  const add = (detail: string): void => findings.add(POS_END, { kind: 'head', detail });
  if (head.size !== size) add(`head says ${head.size} records, the ledger holds ${size}`);
  if (head.height !== blocks) add(`head says the next block is ${head.height}, the ledger holds ${blocks} blocks`);
  if (head.blockFirst !== lastBlockSize) add(`head says the next block starts at ${head.blockFirst}, the last block ends at ${lastBlockSize}`);
}
