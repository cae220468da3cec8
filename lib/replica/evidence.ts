// Fork and rollback evidence: both signed checkpoints, the gateway's key and the proof that they
// conflict (evidence-proof.ts), kept in the replica directory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError } from '../errors';
import { writeFileDurably } from '../storage/sync-dir';
import type { EvidenceProof } from './evidence-proof';

export const EVIDENCE_DIR = 'replica-evidence';

export interface Evidence {
  kind: 'fork' | 'rollback';
  detected: string;
  origin: string;
  detail: string;
  /** The gateway whose key signed both notes: its did:key and its note verifier key (name+id+key). */
  gateway: string;
  verifierKey: string;
  /** The replica's verified checkpoint note the origin's conflicts with (its latest, or its block's of the height the origin's commits to). */
  ours: string;
  /** The origin's conflicting checkpoint note, as served. */
  theirs: string;
  /** For notes of different sizes, the consistency proof that shows the conflict (verifyEvidence); null when none could be built. */
  proof: EvidenceProof | null;
}

/** Writes the evidence file (durably: the error that names it may stop the follower) and returns that error. */
export function keepEvidence(dir: string, e: Omit<Evidence, 'detected'>): LedgerError {
  const detected = new Date().toISOString();
  const evidence: Evidence = { ...e, detected };
  const folder = path.join(dir, EVIDENCE_DIR);
  fs.mkdirSync(folder, { recursive: true });
  const file = path.join(folder, `${e.kind}-${detected.replace(/[:.]/g, '-')}.json`);
  writeFileDurably(file, `${JSON.stringify(evidence, null, 2)}\n`);
  const code = e.kind === 'fork' ? 'ERR_REPLICA_FORK' : 'ERR_REPLICA_ROLLBACK';
  return new LedgerError(code, `${e.detail}; both signed checkpoints are kept in ${file}`, { file, ours: e.ours, theirs: e.theirs });
}
