// The body of a C2SP tlog-witness add-checkpoint request (https://c2sp.org/tlog-witness):
// `old <size>`, up to 63 base64 consistency proof lines, an empty line, then the signed checkpoint.
import { fromBase64, toBase64 } from '../encoding/bytes';
import { LedgerError } from '../errors';

export const MAX_PROOF_LINES = 63;
/** A request larger than this is refused unread (a checkpoint with 16 signatures is a few kB). */
export const MAX_REQUEST_BYTES = 64 * 1024;

export interface AddCheckpointRequest {
  oldSize: number;
  proof: Uint8Array[];
  /** The signed checkpoint note exactly as sent. */
  checkpoint: string;
}

function bad(message: string): LedgerError {
  return new LedgerError('ERR_WITNESS_REQUEST', message);
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** Parses a request body; throws ERR_WITNESS_REQUEST (answered with 400). */
export function parseAddCheckpoint(body: string): AddCheckpointRequest {
  if (typeof body !== 'string') throw bad('request body must be text');
  if (body.length > MAX_REQUEST_BYTES) throw bad('request body is too large');
  const first = body.indexOf('\n');
  if (first < 0) throw bad('request has no old size line');
  const oldLine = body.slice(0, first);
  if (!oldLine.startsWith('old ') || !DECIMAL.test(oldLine.slice(4))) throw bad('first line must be "old <size>"');
  const oldSize = Number(oldLine.slice(4));
  if (!Number.isSafeInteger(oldSize)) throw bad('old size is too large');
  const proof: Uint8Array[] = [];
  let at = first + 1;
  for (;;) {
    const end = body.indexOf('\n', at);
    if (end < 0) throw bad('request has no empty line before the checkpoint');
    const line = body.slice(at, end);
    at = end + 1;
    if (line === '') break;
    if (proof.length === MAX_PROOF_LINES) throw bad(`more than ${MAX_PROOF_LINES} consistency proof lines`);
    let h: Uint8Array;
    try {
      h = fromBase64(line);
    } catch {
      throw bad('consistency proof line is not base64');
    }
    if (h.length !== 32) throw bad('consistency proof line must be a 32-byte hash');
    proof.push(h);
  }
  const checkpoint = body.slice(at);
  if (checkpoint === '') throw bad('request has no checkpoint');
  return { oldSize, proof, checkpoint };
}

export function formatAddCheckpoint(req: AddCheckpointRequest): string {
  if (!Number.isSafeInteger(req.oldSize) || req.oldSize < 0) throw new LedgerError('ERR_INVALID_ARGUMENT', 'old size must be a non-negative integer');
  if (req.proof.length > MAX_PROOF_LINES) throw new LedgerError('ERR_INVALID_ARGUMENT', 'consistency proof is too long');
  return `old ${req.oldSize}\n${req.proof.map((h) => `${toBase64(h)}\n`).join('')}\n${req.checkpoint}`;
}

/** Parses a 409 body (`text/x.tlog.size`): a decimal size and a newline. */
export function parseTlogSize(body: string): number {
  const m = /^(0|[1-9][0-9]*)\n$/.exec(body);
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(n)) throw bad('409 body must be a decimal size and a newline');
  return n;
}

export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size';
