/** Every failure the pack reports carries a stable `code` that flows and tests can match on. */
export type ErrorCode =
  | 'ERR_MALFORMED_ENVELOPE'
  | 'ERR_BAD_SIGNATURE'
  | 'ERR_UNSUPPORTED_ALG'
  | 'ERR_MALFORMED_KEY'
  | 'ERR_WEAK_KEY'
  | 'ERR_KID_MISMATCH'
  | 'ERR_MALFORMED_DID'
  | 'ERR_MALFORMED_CBOR'
  | 'ERR_NONCANONICAL_CBOR'
  | 'ERR_MALFORMED_NOTE'
  | 'ERR_MALFORMED_PROOF'
  | 'ERR_MALFORMED_RECORD'
  | 'ERR_RESERVED_TYPE'
  | 'ERR_RECORD_TOO_LARGE'
  | 'ERR_LEDGER_LOCKED'
  | 'ERR_LEDGER_CORRUPT'
  | 'ERR_LEDGER_FORMAT'
  | 'ERR_LEDGER_CLOSED'
  | 'ERR_LEDGER_IO'
  | 'ERR_LEDGER_READ_ONLY'
  | 'ERR_LEDGER_STORAGE'
  | 'ERR_NOT_FOUND'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_UNKNOWN_DEVICE'
  | 'ERR_TOFU_LIMIT'
  | 'ERR_REVOKED_DEVICE'
  | 'ERR_REPLAY'
  | 'ERR_INVALID_TERMS'
  | 'ERR_CONTRACT_CONFLICT'
  | 'ERR_INVALID_READING'
  | 'ERR_FIRMWARE_REJECTED'
  | 'ERR_FIRMWARE_REFUSAL_LIMIT'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_PAYLOAD_TOO_DEEP'
  | 'ERR_OVERLOADED'
  | 'ERR_INTERNAL'
  | 'ERR_WITNESS_REQUEST'
  | 'ERR_WITNESS_REFUSED'
  | 'ERR_WITNESS_EQUIVOCATION'
  | 'ERR_WITNESS_QUORUM'
  | 'ERR_WITNESS_STATE'
  | 'ERR_REPLICA_FETCH'
  | 'ERR_REPLICA_ORIGIN'
  | 'ERR_REPLICA_BAD_TILE'
  | 'ERR_REPLICA_ENTRY_TOO_LARGE'
  | 'ERR_REPLICA_BLOCK_TOO_LARGE'
  | 'ERR_REPLICA_FORK'
  | 'ERR_REPLICA_ROLLBACK'
  | 'ERR_ANCHOR_CONFIG'
  | 'ERR_ANCHOR_RPC'
  | 'ERR_ANCHOR_TIMEOUT'
  | 'ERR_ANCHOR_FUNDS'
  | 'ERR_ANCHOR_NONCE'
  | 'ERR_ANCHOR_FEE_CAP'
  | 'ERR_ANCHOR_REVERTED'
  | 'ERR_ANCHOR_REORG'
  | 'ERR_ANCHOR_MISSING'
  | 'ERR_ANCHOR_MISMATCH';

export class LedgerError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  /** `cause`, when given, is the lower-level error this one wraps (kept for debugging, never shown to flows). */
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'LedgerError';
    this.code = code;
    if (details) this.details = details;
  }
}

export function isLedgerError(err: unknown, code?: ErrorCode): err is LedgerError {
  return err instanceof LedgerError && (code === undefined || err.code === code);
}

/** Wraps anything thrown by a third-party parser into a typed error, keeping typed ones. */
export function asLedgerError(err: unknown, code: ErrorCode, message: string): LedgerError {
  if (err instanceof LedgerError) return err;
  const why = err instanceof Error ? err.message : String(err);
  return new LedgerError(code, `${message}: ${why}`, undefined, err);
}

/**
 * Runs `fn` with stack traces off: errors it throws carry no stack. For rejections of
 * untrusted input, where a stack says nothing and capturing and formatting one (Node-RED
 * copies it for Catch nodes) would cost more than the check itself during a flood.
 */
export function withoutStack<T>(fn: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
