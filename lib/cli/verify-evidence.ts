import { printable } from '../encoding/printable';
import { isLedgerError } from '../errors';
import { verifyEvidence, type Conflict } from '../replica/evidence-proof';
import { onePositional, parseArgs, stringFlag, UsageError } from './args';
import { readInputUpTo, type CliIo } from './io';

export const verifyEvidenceUsage = 'iot-ledger verify-evidence FILE|- --key DID|VERIFIER_KEY [--json]   (a replica\'s fork or rollback evidence, or a witness\'s equivocation evidence)';

/** The two notes of either kind of evidence file: a replica's (`ours`, `theirs`, `proof`) or a witness's (`latest`, `submitted`). */
function notesOf(file: unknown): { origin: string; ours: string; theirs: string; proof?: unknown } | undefined {
  const f = file as Record<string, unknown> | null;
  if (typeof f !== 'object' || f === null || typeof f.origin !== 'string') return undefined;
  if (typeof f.ours === 'string' && typeof f.theirs === 'string') return { origin: f.origin, ours: f.ours, theirs: f.theirs, proof: f.proof };
  if (typeof f.latest === 'string' && typeof f.submitted === 'string') return { origin: f.origin, ours: f.latest, theirs: f.submitted };
  return undefined;
}

/**
 * The largest evidence file read: two checkpoint notes (at most 64 KiB each), a consistency proof
 * (at most 126 hashes) and a few short fields fit in far less.
 */
export const MAX_EVIDENCE_BYTES = 1 << 20;

const shown: Record<Conflict, string> = {
  roots: 'the gateway signed two trees that cannot both be its log: different roots for one size, or a larger tree that does not extend the smaller',
  headers: 'the gateway signed two different block headers for one block height',
};

/**
 * Offline check of evidence with the gateway's public key alone: exit 0 when it shows the
 * gateway signed two conflicting checkpoints, 1 when it does not, 2 usage or I/O error.
 */
export async function verifyEvidenceCommand(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['json']);
  const key = stringFlag(args, 'key');
  if (!key) throw new UsageError(verifyEvidenceUsage);
  const file = onePositional(args, verifyEvidenceUsage);
  const json = args.flags.json === true;
  const bytes = await readInputUpTo(io, 'verify-evidence', file, MAX_EVIDENCE_BYTES);
  if (!bytes) return 2;
  const notShown = (reason: string, code: string): number => {
    io.stdout(json ? `${JSON.stringify({ conflict: false, code, reason })}\n` : `no conflict shown: ${printable(reason)} (${code})\n`);
    return 1;
  };
  if (bytes.length > MAX_EVIDENCE_BYTES) return notShown(`${file} is larger than ${MAX_EVIDENCE_BYTES} bytes, more than any evidence`, 'ERR_MALFORMED_PROOF');
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return notShown(`${file} is not JSON`, 'ERR_MALFORMED_PROOF');
  }
  const evidence = notesOf(parsed);
  if (!evidence) return notShown(`${file} holds no evidence: an origin and two notes (ours and theirs, or latest and submitted)`, 'ERR_MALFORMED_PROOF');
  let conflict: Conflict;
  try {
    conflict = verifyEvidence(evidence, key.trim());
  } catch (err) {
    if (isLedgerError(err) && ['ERR_MALFORMED_PROOF', 'ERR_BAD_SIGNATURE', 'ERR_MALFORMED_NOTE', 'ERR_MALFORMED_KEY'].includes(err.code)) return notShown(err.message, err.code);
    throw err;
  }
  io.stdout(json ? `${JSON.stringify({ conflict, origin: evidence.origin })}\n` : `conflict shown for ledger ${printable(evidence.origin)}: ${shown[conflict]}\n`);
  return 0;
}
