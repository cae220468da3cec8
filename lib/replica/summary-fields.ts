// What a replica's block summaries need of a record (type, time, device), checked as strictly
// as decodeRecord checks it, without building the body: the audit's validating scanner reads
// the record in place, with its depth limit set to the body's, and the did:key is decoded as
// decodeRecord decodes it (cached per device). A record the scanner is unsure of goes to
// decodeRecord, whose verdict and message count.
import { scanRecord } from '../audit/record-scan';
import { checkDevice, decodeRecord, MAX_BODY_DEPTH } from '../ledger/record';
import type { SummaryFields } from '../ledger/summary';

/** The body is a value of the record map (depth 1): its own values lie at most MAX_BODY_DEPTH below it. */
const SCAN_DEPTH = MAX_BODY_DEPTH + 1;

/** The summary fields of stored record bytes; throws ERR_MALFORMED_RECORD as decodeRecord does. */
export function summaryFields(bytes: Uint8Array): SummaryFields {
  const view = scanRecord(bytes, 0, SCAN_DEPTH);
  if (!view) return decodeRecord(bytes);
  if (view.device !== undefined) checkDevice(view.device);
  return view;
}
