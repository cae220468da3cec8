// Fork and rollback evidence: both signed checkpoints, kept in the replica directory.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LedgerError } from '../errors';
import { writeFileDurably } from '../storage/sync-dir';

export const EVIDENCE_DIR = 'replica-evidence';

export interface Evidence {
  kind: 'fork' | 'rollback';
  detected: string;
  origin: string;
  detail: string;
  /** The replica's latest verified checkpoint note. */
  ours: string;
  /** The origin's conflicting checkpoint note, as served. */
  theirs: string;
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
