// The witness service behind both transports: a request body in, a status, headers and body out.
import { LedgerError } from '../errors';
import { parseCheckpointText } from '../note/checkpoint';
import { splitNote } from '../note/note-open';
import type { Cosigner } from './cosignature';
import { authenticateSubmission, decideAuthenticated, parseSubmission, rejectUnparsed, type Decision, type Evidence, type WitnessedLog } from './decision';
import { TLOG_SIZE_CONTENT_TYPE } from './request';
import type { WitnessState } from './state';

export interface WitnessReply {
  status: number;
  contentType: string;
  body: string;
  origin?: string;
  size?: number;
  /** Set when the request showed a fork (two conflicting notes signed by the log); kept on disk at `evidenceFile`. */
  evidence?: Evidence;
  evidenceFile?: string;
  /** False when the same evidence was kept before (e.g. the gateway retried), or was not kept (evidenceDropped). */
  evidenceFresh?: boolean;
  /** True when the evidence was kept nowhere: the origin has MAX_EVIDENCE_PER_ORIGIN evidence files already. */
  evidenceDropped?: boolean;
  /** True when a 200 made this checkpoint the latest kept (false for the one held, sent again). */
  stored?: boolean;
  reason?: string;
}

export interface WitnessServiceOptions {
  cosigner: Cosigner;
  logs: WitnessedLog[];
  state: WitnessState;
  now?: () => number;
}

export class WitnessService {
  readonly #opts: WitnessServiceOptions;
  readonly #logs: Map<string, WitnessedLog>;

  constructor(opts: WitnessServiceOptions) {
    this.#opts = opts;
    this.#logs = new Map(opts.logs.map((l) => [l.origin, l]));
    if (this.#logs.size !== opts.logs.length) throw new LedgerError('ERR_INVALID_ARGUMENT', 'each witnessed origin must appear once');
  }

  /** The latest cosigned checkpoint of a witnessed origin (a signed note with this witness's cosignature). */
  latest(origin: string): string | undefined {
    return this.#logs.has(origin) ? this.#opts.state.latest(origin)?.checkpoint : undefined;
  }

  async addCheckpoint(body: string): Promise<WitnessReply> {
    let submission;
    try {
      submission = parseSubmission(body);
    } catch (err) {
      return reply(rejectUnparsed(err));
    }
    const origin = submission.checkpoint.origin;
    // Unknown origins and notes the log did not sign are answered before the state is read or
    // the origin's queue joined: what anyone can send costs no file access and delays no one.
    const auth = authenticateSubmission(submission, this.#logs.get(origin));
    if ('status' in auth) return { ...reply(auth), origin };
    const { state, cosigner } = this.#opts;
    return state.exclusive(origin, () => {
      const latest = state.latest(origin);
      const now = Math.floor((this.#opts.now?.() ?? Date.now()) / 1000);
      const decision = decideAuthenticated(auth, latest, cosigner, now);
      // The checkpoint held, sent again (it is public, anyone can): cosigned afresh, not written
      // again, so a replay costs no fsync.
      if (decision.status === 200 && !decision.unchanged) state.save(origin, decision.latest);
      const out = reply(decision);
      out.origin = origin;
      if (decision.status === 200) out.stored = !decision.unchanged;
      if (decision.status !== 200 && decision.evidence) {
        const kept = state.keepEvidence(decision.evidence, now);
        if (kept.file !== undefined) out.evidenceFile = kept.file;
        out.evidenceFresh = kept.fresh;
        if (kept.dropped) out.evidenceDropped = true;
      }
      return out;
    });
  }
}

function reply(d: Decision): WitnessReply {
  if (d.status === 200) return { status: 200, contentType: 'text/plain; charset=utf-8', body: d.body, size: d.checkpoint.size };
  if (d.status === 409)
    return { status: 409, contentType: TLOG_SIZE_CONTENT_TYPE, body: `${d.size}\n`, size: d.size, reason: d.reason, evidence: d.evidence };
  return { status: d.status, contentType: 'text/plain; charset=utf-8', body: `${d.reason}\n`, reason: d.reason, evidence: d.evidence };
}

/** The origin of a cosigned checkpoint note, for transports that route by it. */
export function originOf(note: string): string {
  return parseCheckpointText(splitNote(note).text).origin;
}
