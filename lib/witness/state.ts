// A witness's durable state: per origin, the latest checkpoint it cosigned, written with
// fsync + rename before the answer goes out, and evidence files that are never overwritten.
// Requests for one origin run one at a time, from reading the state to persisting it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromBase64, toBase64, toHex, utf8 } from '../encoding/bytes';
import { LedgerError } from '../errors';
import { writeFileDurably } from '../storage/sync-dir';
import { sha256 } from '../crypto/hash';
import type { Evidence, LatestCheckpoint } from './decision';

const REGISTRY = Symbol.for('node-red-contrib-iot-ledger.witness-locks');

/** One queue per state file, shared by every witness in this process. */
function queues(): Map<string, Promise<unknown>> {
  const g = globalThis as unknown as Record<symbol, Map<string, Promise<unknown>> | undefined>;
  return (g[REGISTRY] ??= new Map<string, Promise<unknown>>());
}

function stateError(message: string, err?: unknown): LedgerError {
  const why = err instanceof Error ? `: ${(err as NodeJS.ErrnoException).code ?? err.message}` : '';
  return new LedgerError('ERR_WITNESS_STATE', `${message}${why}`);
}

/** Evidence files kept per origin at most (see WitnessState.keepEvidence). */
export const MAX_EVIDENCE_PER_ORIGIN = 16;

/** The origin part of an evidence file's name: the first 8 bytes, hex, of SHA-256(origin). */
export const evidenceOriginId = (origin: string): string => toHex(sha256(utf8(origin))).slice(0, 16);

/** A note's text without its signature lines (both notes were opened before: no checks here). */
const signedText = (note: string): string => note.slice(0, note.lastIndexOf('\n\n') + 1);

export class WitnessState {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    try {
      fs.mkdirSync(path.join(this.dir, 'evidence'), { recursive: true, mode: 0o700 });
    } catch (err) {
      throw stateError(`cannot create the witness state directory ${dir}`, err);
    }
  }

  #file(origin: string): string {
    return path.join(this.dir, `${toHex(sha256(utf8(origin))).slice(0, 32)}.json`);
  }

  /** The latest cosigned checkpoint of an origin, or undefined before the first. */
  latest(origin: string): LatestCheckpoint | undefined {
    let text: string;
    try {
      text = fs.readFileSync(this.#file(origin), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw stateError(`cannot read the witness state of ${origin}`, err);
    }
    try {
      const o = JSON.parse(text) as { origin: string; size: number; root: string; checkpoint: string };
      if (o.origin !== origin || !Number.isSafeInteger(o.size) || typeof o.checkpoint !== 'string') throw new Error('bad fields');
      const root = fromBase64(o.root);
      if (root.length !== 32) throw new Error('bad root');
      return { size: o.size, root, checkpoint: o.checkpoint };
    } catch (err) {
      // Refusing to answer beats cosigning from a state that lost its memory.
      throw stateError(`the witness state of ${origin} is corrupt (${(err as Error).message})`);
    }
  }

  /** Runs `fn` with no other update of `origin` in between (in this process). */
  async exclusive<T>(origin: string, fn: () => T | Promise<T>): Promise<T> {
    const key = this.#file(origin);
    const q = queues();
    const prev = q.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    q.set(key, tail);
    void tail.then(() => {
      if (q.get(key) === tail) q.delete(key);
    });
    return run;
  }

  /** Persists the new latest checkpoint (durably) before returning. */
  save(origin: string, latest: LatestCheckpoint): void {
    const body = JSON.stringify({ origin, size: latest.size, root: toBase64(latest.root), checkpoint: latest.checkpoint });
    try {
      writeFileDurably(this.#file(origin), `${body}\n`);
    } catch (err) {
      throw stateError(`cannot persist the witness state of ${origin}`, err);
    }
  }

  /**
   * Keeps evidence in its own file, one per pair of checkpoints and kind (a gateway that retries
   * the same forked checkpoint does not fill the disk); `fresh` is false when it was kept before.
   * A checkpoint is its signed text: signature lines by unknown keys, which anyone can add to
   * a request, or a newer cosignature timestamp on the latest, make no new pair. At most
   * MAX_EVIDENCE_PER_ORIGIN files are kept per origin: a log that holds its key can sign forks
   * without end, and each new pair would otherwise be a new file (and a Catch report, and a
   * record on the witness's ledger); past them a pair is kept nowhere (`file` undefined,
   * `fresh` false, `dropped` true). The first fork is the proof; the others add nothing to it.
   */
  keepEvidence(evidence: Evidence, at: number): { file?: string; fresh: boolean; dropped?: boolean } {
    const body = JSON.stringify({ format: 'iot-ledger-witness-evidence/1', at, ...evidence }, null, 2);
    const pair = toHex(sha256(utf8(signedText(evidence.latest)), utf8('\n'), utf8(signedText(evidence.submitted)))).slice(0, 16);
    const folder = path.join(this.dir, 'evidence');
    const originId = evidenceOriginId(evidence.origin);
    const file = path.join(folder, `${originId}-${pair}-${evidence.kind}.json`);
    if (fs.existsSync(file)) return { file, fresh: false };
    // Kept by an earlier version, under the pair's name alone.
    const legacy = path.join(folder, `${pair}-${evidence.kind}.json`);
    if (fs.existsSync(legacy)) return { file: legacy, fresh: false };
    const kept = fs.readdirSync(folder).filter((f) => f.startsWith(`${originId}-`) && f.endsWith('.json')).length;
    if (kept >= MAX_EVIDENCE_PER_ORIGIN) return { fresh: false, dropped: true };
    writeFileDurably(file, `${body}\n`);
    return { file, fresh: true };
  }

  /** Evidence files kept so far. */
  evidence(): string[] {
    return fs
      .readdirSync(path.join(this.dir, 'evidence'))
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => path.join(this.dir, 'evidence', f));
  }
}
