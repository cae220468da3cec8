// K-of-N: a checkpoint is trusted when the log signed it and at least K of the N
// configured witnesses cosigned it (cosignature/v1), under Go's signed-note rules.
import { parseCheckpointText, type Checkpoint } from '../note/checkpoint';
import { toHex } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { openNote, type SignatureVerifier } from '../note/note-open';
import { cosignatureVerifier, parseWitnessKey, type WitnessKey } from './cosignature';

export interface QuorumPolicy {
  witnesses: WitnessKey[];
  quorum: number;
}

export interface CosignedCheckpoint {
  checkpoint: Checkpoint;
  text: string;
  cosigners: { name: string; timestamp: number }[];
}

/** Builds a policy from witness vkeys; throws ERR_INVALID_ARGUMENT for K outside 0..N or repeated witnesses. */
export function quorumPolicy(witnessKeys: readonly (string | WitnessKey)[], quorum: number): QuorumPolicy {
  const witnesses = witnessKeys.map((k) => (typeof k === 'string' ? parseWitnessKey(k) : k));
  if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > witnesses.length)
    throw new LedgerError('ERR_INVALID_ARGUMENT', `quorum must be an integer from 0 to ${witnesses.length} (the number of witnesses)`);
  checkDistinctWitnesses(witnesses);
  return { witnesses, quorum };
}

/**
 * Throws ERR_INVALID_ARGUMENT when a name or a key appears twice: a cosignature does not sign
 * the witness's name, so one key under two names would have each of its cosignatures count twice.
 */
export function checkDistinctWitnesses(witnesses: readonly WitnessKey[]): void {
  const names = new Set(witnesses.map((w) => w.name));
  const keys = new Set(witnesses.map((w) => toHex(w.key.publicKey)));
  if (names.size !== witnesses.length || keys.size !== witnesses.length)
    throw new LedgerError('ERR_INVALID_ARGUMENT', 'each witness must appear once (by name and by key)');
}

/**
 * Opens a cosigned checkpoint: the log's signature must verify (ERR_BAD_SIGNATURE) and at
 * least `quorum` witnesses must have cosigned it (ERR_WITNESS_QUORUM). A bad signature by any
 * configured key rejects the note, as in Go's note.Open; a valid cosignature dated after
 * `notAfter` (POSIX seconds) is not counted, and rejects nothing.
 */
export function verifyCosignedCheckpoint(
  note: string,
  log: SignatureVerifier,
  policy: QuorumPolicy,
  opts: { notAfter?: number } = {},
): CosignedCheckpoint {
  if (opts.notAfter !== undefined && (typeof opts.notAfter !== 'number' || Number.isNaN(opts.notAfter)))
    throw new LedgerError('ERR_INVALID_ARGUMENT', 'notAfter must be a POSIX time in seconds');
  const cosigners = policy.witnesses.map((w) => cosignatureVerifier(w, opts));
  const opened = openNote(note, [log, ...cosigners]);
  if (!opened.verified.some((v) => v.verifier === log))
    throw new LedgerError('ERR_BAD_SIGNATURE', 'checkpoint is not signed by the log key');
  const checkpoint = parseCheckpointText(opened.text);
  const got = cosigners.flatMap((c) => c.timestamps.slice(0, 1).map((timestamp) => ({ name: c.name, timestamp })));
  if (got.length < policy.quorum)
    throw new LedgerError('ERR_WITNESS_QUORUM', `checkpoint has ${got.length} of the ${policy.quorum} cosignatures required`, {
      cosigned: got.length,
      quorum: policy.quorum,
      witnesses: got.map((g) => g.name),
      uncounted: cosigners.filter((c) => c.uncounted.length > 0 && c.timestamps.length === 0).map((c) => c.name),
    });
  return { checkpoint, text: opened.text, cosigners: got };
}

/** Merges cosignature lines into a signed note (dropping exact repeats); the note text is never rebuilt. */
export function addCosignatures(note: string, lines: readonly string[]): string {
  const have = new Set(note.slice(note.lastIndexOf('\n\n') + 2).split('\n'));
  let out = note;
  for (const l of lines) {
    const line = l.endsWith('\n') ? l.slice(0, -1) : l;
    if (!line || have.has(line)) continue;
    have.add(line);
    out += `${line}\n`;
  }
  return out;
}
