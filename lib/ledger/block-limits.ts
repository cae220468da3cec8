// How large a block may be: one pair of numbers for the ledger that seals blocks and the
// replica that copies them (a replica writes a block in one batch, so it holds all of its
// entries at once). No imports: the Ledger config node's editor uses them too.

/** The most records a block holds: a ledger's `blockRecords` is at most this, a replica refuses a larger block by default. */
export const MAX_BLOCK_RECORDS = 65536;

/**
 * The most bytes of records (canonical bytes) a block holds: a ledger seals its open block early
 * rather than let the next record take it past this; a replica refuses a larger block by default.
 * A single record is never larger (maxRecordBytes is at most 64 MiB too).
 */
export const MAX_BLOCK_BYTES = 64 * 1024 * 1024;
