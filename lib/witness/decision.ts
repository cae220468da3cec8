// The witness's add-checkpoint decision (C2SP tlog-witness), as a pure function of the
// request, the trusted log keys and the latest checkpoint cosigned for the origin. The
// caller holds the origin's lock from reading `latest` until the new one is persisted.
import { bytesEqual, toBase64 } from '../encoding/bytes';
import { parseCheckpointText, type Checkpoint } from '../note/checkpoint';
import { LedgerError } from '../errors';
import { checkConsistency, EMPTY_ROOT } from '../merkle';
import { openNote, splitNote, type OpenedNote, type SignatureVerifier } from '../note/note-open';
import { cosignLine, type Cosigner } from './cosignature';
import { parseAddCheckpoint, type AddCheckpointRequest } from './request';

export interface WitnessedLog {
  origin: string;
  /** The log's keys; a checkpoint needs a valid signature by one of them. */
  verifiers: SignatureVerifier[];
}

/** What a witness keeps per origin: the latest checkpoint it cosigned. */
export interface LatestCheckpoint {
  size: number;
  root: Uint8Array;
  /** The signed note with the log's signatures as submitted and this witness's cosignature. */
  checkpoint: string;
}

/**
 * Two signed checkpoints of one origin that cannot both be honest. Only the log's signatures
 * count: a consistency proof is not signed, so one that does not verify shows nothing about the
 * log (anyone who saw a newer checkpoint can send it with junk lines). Witnesses before this
 * one also kept `inconsistent` files for that; they are no evidence of a fork.
 */
export interface Evidence {
  kind: 'equivocation';
  origin: string;
  /** The checkpoint the witness had cosigned. */
  latest: string;
  /** The checkpoint submitted, with the old size and proof sent alongside it. */
  submitted: string;
  oldSize: number;
  proof: string[];
}

export type Decision =
  | {
      status: 200;
      body: string;
      latest: LatestCheckpoint;
      checkpoint: Checkpoint;
      /** The checkpoint cosigned before (same signed text): the one kept stays, nothing to persist. */
      unchanged: boolean;
    }
  | { status: 409; size: number; reason: string; evidence?: Evidence }
  | { status: 400 | 403 | 404 | 422; reason: string; evidence?: Evidence };

/** A request parsed as far as it can be without the origin's state. */
export interface ParsedSubmission {
  request: AddCheckpointRequest;
  text: string;
  checkpoint: Checkpoint;
}

/** Parses the body and the checkpoint inside it; ERR_WITNESS_REQUEST or ERR_MALFORMED_NOTE mean 400. */
export function parseSubmission(body: string): ParsedSubmission {
  const request = parseAddCheckpoint(body);
  const { text } = splitNote(request.checkpoint);
  return { request, text, checkpoint: parseCheckpointText(text) };
}

/** The status of a submission that cannot be parsed. */
export function rejectUnparsed(err: unknown): Decision {
  if (err instanceof LedgerError && (err.code === 'ERR_WITNESS_REQUEST' || err.code === 'ERR_MALFORMED_NOTE'))
    return { status: 400, reason: err.message };
  throw err;
}

/** A submission for a witnessed origin whose note carries a valid signature by one of the log's keys. */
export interface AuthenticatedSubmission {
  submission: ParsedSubmission;
  log: WitnessedLog;
  opened: OpenedNote;
}

/**
 * The checks a request passes before the witness reads its state for the origin or queues it
 * behind other requests: a known origin (404) and a valid signature by the log (403). Cheap
 * for what anyone can send: one signature check per configured key of the log, at most.
 */
export function authenticateSubmission(submission: ParsedSubmission, log: WitnessedLog | undefined): AuthenticatedSubmission | { status: 403 | 404; reason: string } {
  const { request, checkpoint: cp } = submission;
  if (!log || log.origin !== cp.origin) return { status: 404, reason: `unknown origin ${JSON.stringify(cp.origin)}` };
  try {
    return { submission, log, opened: openNote(request.checkpoint, log.verifiers) };
  } catch (err) {
    return { status: 403, reason: `no valid signature by a trusted key of the log: ${(err as Error).message}` };
  }
}

export interface DecideInput {
  submission: ParsedSubmission;
  log: WitnessedLog | undefined;
  latest: LatestCheckpoint | undefined;
  cosigner: Cosigner;
  /** POSIX seconds for the cosignature. */
  now: number;
}

/** A note's text without its signature lines (the kept note was opened before it was kept). */
const signedText = (note: string): string => note.slice(0, note.lastIndexOf('\n\n') + 1);

export function decideAddCheckpoint({ submission, log, latest, cosigner, now }: DecideInput): Decision {
  const auth = authenticateSubmission(submission, log);
  return 'status' in auth ? auth : decideAuthenticated(auth, latest, cosigner, now);
}

/** The rest of the decision, for an authenticated submission and the latest checkpoint cosigned for its origin. */
export function decideAuthenticated({ submission, opened }: AuthenticatedSubmission, latest: LatestCheckpoint | undefined, cosigner: Cosigner, now: number): Decision {
  const { request, text, checkpoint: cp } = submission;
  const evidence = (): Evidence | undefined =>
    latest && {
      kind: 'equivocation',
      origin: cp.origin,
      latest: latest.checkpoint,
      submitted: request.checkpoint,
      oldSize: request.oldSize,
      proof: request.proof.map(toBase64),
    };
  // A signed checkpoint of the size already cosigned with another root is a fork, whatever old size
  // came with it. So is one with the same root but other signed lines: C2SP compares roots only
  // and leaves extension lines to the log, and this log's `iot-ledger header` line commits the
  // block header, which a gateway signs once per size (it never seals a block without records).
  // The note kept stays; the second one is refused like a fork, and both kept as evidence.
  const sameSize = latest !== undefined && latest.size === cp.size;
  const otherRoot = sameSize && !bytesEqual(latest.root, cp.root);
  const otherLines = sameSize && !otherRoot && signedText(latest.checkpoint) !== text;
  const forked = otherRoot || otherLines;
  if (request.oldSize > cp.size) return { status: 400, reason: `old size ${request.oldSize} is above the checkpoint size ${cp.size}` };
  const latestSize = latest?.size ?? 0;
  if (request.oldSize !== latestSize)
    return { status: 409, size: latestSize, reason: `old size ${request.oldSize} is not the latest cosigned size ${latestSize}`, evidence: forked ? evidence() : undefined };
  if (forked) {
    const what = otherRoot ? 'another root' : 'the same root but other signed lines (such as the block header)';
    return { status: 409, size: latestSize, reason: `a checkpoint of size ${cp.size} with ${what} was cosigned`, evidence: evidence() };
  }
  // Before cosigning anything the witness holds size 0, the empty tree: C2SP's 409 for an old
  // size equal to the checkpoint size with another root. No evidence: nothing signed is held.
  if (latest === undefined && cp.size === 0 && !bytesEqual(cp.root, EMPTY_ROOT))
    return { status: 409, size: 0, reason: "a checkpoint of size 0 must have the empty tree's root" };
  // From old size 0 (nothing cosigned yet) the proof must be empty, as C2SP says.
  const consistent = checkConsistency(request.oldSize, cp.size, request.proof, latest?.root ?? EMPTY_ROOT, cp.root);
  if (!consistent.ok) {
    // 422 and nothing more, as C2SP says: the proof lines are the sender's, not the log's. A
    // genuine newer checkpoint (public on the gateway's tiles before the witness sees it) sent
    // with junk lines is no fork, and the gateway's own request, with its proof, is cosigned.
    // A log that did fork is caught when it signs two notes of one size.
    return { status: 422, reason: `the consistency proof from size ${request.oldSize} to ${cp.size} does not verify: ${consistent.reason}` };
  }
  const body = cosignLine(text, cosigner, now);
  // The log's signatures and this cosignature only: lines by other keys, which anyone can add to
  // a request, would be served with it (past 100 lines no one could open the note).
  const stored = `${text}\n${opened.verified.map((v) => `\u2014 ${v.signature.line}\n`).join('')}${body}`;
  // At the size held, the signed text is the one kept (any other was refused above).
  const unchanged = sameSize;
  return { status: 200, body, latest: { size: cp.size, root: cp.root, checkpoint: stored }, checkpoint: cp, unchanged };
}
