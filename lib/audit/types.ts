// The public shapes of the audit: what it is asked, what it reports.
import type { Jwk, PublicKey } from '../crypto/keys';
import type { OpenLedgerDb } from './store';
import type { StorageKind } from '../storage/types';
import type { WitnessKey } from '../witness/cosignature';

export type FindingKind =
  | 'record-hash'
  | 'record-decode'
  | 'leaf-node'
  | 'index'
  | 'merkle-node'
  | 'block-root'
  | 'block-header'
  | 'block-chain'
  | 'checkpoint-signature'
  | 'head'
  | 'meta'
  | 'missing'
  | 'envelope-signature'
  | 'body-mismatch'
  | 'unknown-device'
  | 'revoked-device'
  | 'replay'
  | 'consistency'
  | 'cosignature';

/** One thing that is wrong, and where: record index (nodes: the first leaf they cover) or block height. */
export interface Finding {
  kind: FindingKind | (string & NonNullable<unknown>);
  index?: number;
  height?: number;
  /** Gateway time (ms) of the record, or sealing time of the block, when known. */
  time?: number;
  device?: string;
  detail: string;
}

export interface AuditReport {
  clean: boolean;
  name: string;
  /** Tree size: records stored in the ledger (one past the last stored record or leaf). */
  size: number;
  /** Sealed blocks in the ledger. */
  blocks: number;
  /** First index audited (0, or the size of the trusted `from` checkpoint). */
  from: number;
  /** Where the gateway key came from: the caller (`given`) or the ledger's own meta (`meta`). */
  trust: 'meta' | 'given';
  /** The gateway verifier key the checkpoints were checked with (when one could be determined). */
  verifier?: string;
  /** First failure first: ordered by position in the ledger (record index, a block after its records). */
  findings: Finding[];
  /** Findings left out of `findings` beyond the cap (the report keeps the first ones). */
  omitted: number;
  checked: { records: number; nodes: number; blocks: number; signatures: number };
  /** Rejected device messages the `security` records of the audited range count, by error code. */
  security: { records: number; rejections: number; byCode: Record<string, number> };
  /** Records after the last sealed block: hashed and tree-checked, but under no signed checkpoint yet. */
  unsealed: number;
  durationMs: number;
  /** The witness cosignatures stored beside the audited blocks (`c` entries), as far as the given witness keys could check them. */
  cosigned: CosignatureTally;
  /** The backend the ledger is stored in: LevelDB (`leveldb`) or the pure-JavaScript file store (`file`). */
  storage: StorageKind;
  /**
   * File storage: bytes past the last whole frame of the last segment (a write cut off by a crash, or
   * damage), which no reader applies; the audit leaves them on disk.
   */
  tornTail?: { segment: string; offset: number; bytes: number; why: string };
}

export interface CosignatureTally {
  /** Cosigned checkpoints stored (one per block at most). */
  entries: number;
  /** Cosignature lines that verified with a given witness key (one per witness and entry). */
  verified: number;
  /** Cosignature lines of witnesses not given (by name and key ID: a line of a given witness's name under another key, an old one perhaps, is one of them): not checked. */
  unchecked: number;
  /** Entries whose block does not decode or holds no signed note (the block's own findings say why): not checked. */
  unreadable: number;
  /** Per given witness: the blocks it cosigned and the newest of them. */
  witnesses: { name: string; blocks: number; newest?: { height: number; size?: number } }[];
}

/**
 * What the deviceKeys hook may answer for the device `did` at record `index`:
 * enrolled (optionally with the key to verify with; default the did:key itself),
 * revoked, or unknown. Returning undefined falls back to the enrolment derived from records.
 */
export type DeviceStatus =
  | { status: 'enrolled'; key?: string | Jwk | PublicKey }
  | { status: 'revoked' }
  | { status: 'unknown' };

export interface AuditOptions {
  /** Gateway verifier key string (`name+hexid+base64`) or did:key. Default: the key in the ledger's meta. */
  trustedKey?: string;
  /** A signed checkpoint note the caller trusts: verify consistency with it and audit only what follows. */
  from?: string;
  /** Worker threads for the checks (default os.availableParallelism(), at most 2); 0 = all in this thread. */
  workers?: number;
  /** Called now and then with records checked so far and records to check. */
  onProgress?: (done: number, total: number) => void;
  /** Optional device registry; by default enrolment is derived from the ledger's own records. */
  deviceKeys?: (did: string, index: number) => DeviceStatus | undefined;
  /** Most findings kept in the report (default 10000); the count of the rest is `omitted`. */
  maxFindings?: number;
  /** Ledgers with fewer records to check than this are checked in this thread (default 4096). */
  parallelThreshold?: number;
  /**
   * The ledger's database when it is already open in this process (a running gateway
   * owns its directory): the audit reads it through an explicit snapshot, so appends
   * can go on, and leaves it open. Default: open `dir` itself.
   */
  db?: OpenLedgerDb;
  /**
   * Witness keys (C2SP vkeys or parsed) to check the stored cosignatures with: a stored line of
   * one of them that does not verify is a `cosignature` finding. Lines of other witnesses are counted, not checked.
   */
  witnesses?: readonly (string | WitnessKey)[];
  /** Records per unit of work is 2^chunkLevel (default 10); exposed for tests. */
  chunkLevel?: number;
}
