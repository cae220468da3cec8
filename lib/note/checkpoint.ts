// C2SP tlog-checkpoint bodies (https://c2sp.org/tlog-checkpoint), carried in signed notes.
import { fromBase64, toBase64 } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { parseNote, signNote, verifyNote, type NoteVerifier } from './note';
import type { PrivateKey } from '../crypto/keys';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Uint8Array;
  extensions: string[];
}

function malformed(message: string): LedgerError {
  return new LedgerError('ERR_MALFORMED_NOTE', message);
}

export function formatCheckpoint(cp: Checkpoint): string {
  if (!cp.origin || cp.origin.includes('\n')) throw malformed('checkpoint origin must be one non-empty line');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw malformed('checkpoint size must be a non-negative integer');
  if (cp.root.length !== 32) throw malformed('checkpoint root must be 32 bytes');
  const ext = cp.extensions.map((e) => {
    if (!e || e.includes('\n')) throw malformed('checkpoint extension lines must be non-empty');
    return `${e}\n`;
  });
  return `${cp.origin}\n${cp.size}\n${toBase64(cp.root)}\n${ext.join('')}`;
}

export function parseCheckpointText(text: string): Checkpoint {
  const lines = text.split('\n');
  if (lines.length < 4 || lines[lines.length - 1] !== '') throw malformed('checkpoint needs origin, size and root lines');
  const [origin, sizeLine = '', rootLine = '', ...rest] = lines.slice(0, -1);
  if (!origin) throw malformed('checkpoint origin is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeLine)) throw malformed('checkpoint size is not a decimal number');
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw malformed('checkpoint size is too large');
  let root: Uint8Array;
  try {
    root = fromBase64(rootLine);
  } catch {
    throw malformed('checkpoint root is not base64');
  }
  if (root.length !== 32) throw malformed('checkpoint root must be 32 bytes');
  if (rest.includes('')) throw malformed('checkpoint extension lines must be non-empty');
  return { origin, size, root, extensions: rest };
}

/** The extension line that commits a ledger checkpoint to its block header (docs/FORMAT.md). */
export const HEADER_LINE_PREFIX = 'iot-ledger header ';

export function headerLine(height: number, headerHash: Uint8Array): string {
  if (!Number.isSafeInteger(height) || height < 0) throw malformed('block height must be a non-negative integer');
  if (headerHash.length !== 32) throw malformed('header hash must be 32 bytes');
  return `${HEADER_LINE_PREFIX}${height} ${toBase64(headerHash)}`;
}

/**
 * The block header a checkpoint commits to: undefined when it has no `iot-ledger header`
 * line (a checkpoint written before format 2); throws ERR_MALFORMED_NOTE for a malformed
 * line or more than one.
 */
export function checkpointHeader(cp: Checkpoint): { height: number; hash: Uint8Array } | undefined {
  const lines = cp.extensions.filter((e) => e.startsWith(HEADER_LINE_PREFIX));
  if (lines.length === 0) return undefined;
  if (lines.length > 1) throw malformed('checkpoint has more than one header line');
  const m = /^iot-ledger header (0|[1-9][0-9]*) ([A-Za-z0-9+/]{43}=)$/.exec(lines[0] ?? '');
  if (!m) throw malformed('checkpoint header line is not "iot-ledger header <height> <base64 hash>"');
  const [, heightText = '', hashText = ''] = m;
  const height = Number(heightText);
  if (!Number.isSafeInteger(height)) throw malformed('checkpoint header line height is too large');
  let hash: Uint8Array;
  try {
    hash = fromBase64(hashText);
  } catch {
    throw malformed('checkpoint header line hash is not base64');
  }
  if (hash.length !== 32 || toBase64(hash) !== m[2]) throw malformed('checkpoint header line hash is not 32 bytes of canonical base64');
  return { height, hash };
}

export function signCheckpoint(cp: Checkpoint, signerName: string, key: PrivateKey): string {
  return signNote(formatCheckpoint(cp), signerName, key);
}

/** Parses a signed checkpoint note; with a verifier, also requires its valid signature. */
export function openCheckpoint(note: string, verifier?: string | NoteVerifier): Checkpoint {
  const { text } = parseNote(note);
  const cp = parseCheckpointText(text);
  if (verifier !== undefined && !verifyNote(note, verifier))
    throw new LedgerError('ERR_BAD_SIGNATURE', 'checkpoint signature does not verify with the given key');
  return cp;
}
