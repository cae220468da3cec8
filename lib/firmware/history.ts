// Questions asked of the firmware state: what did a device run, from when to when, approved
// by whom; which devices run a release. And building the state from a run of records.
import { FirmwareState, type Approval, type RecordRef, type RejectionEntry, type VersionSpan } from './state';

/** A ledger record as the history needs it (the ledger's records carry more; extra fields are ignored). */
export interface FirmwareRecordLike {
  index: number;
  time: number;
  type: string;
  body?: unknown;
}

function copySpan(s: VersionSpan): VersionSpan {
  const out: VersionSpan = { ...s, from: { ...s.from } };
  if (s.to) out.to = { ...s.to };
  if (s.confirmed) out.confirmed = { ...s.confirmed };
  if (s.approvedBy) out.approvedBy = { ...s.approvedBy };
  return out;
}

/**
 * Every version the device ran (or was approved to run), oldest first: from which record to
 * which record (index and time; the last has no `to`), who approved it (the decision record,
 * the vendor key that signed the manifest and the approver, when there was one) and when the
 * device first confirmed it. Empty for a device no firmware record names. The state keeps the
 * most recent `historyLimit` versions of a device (default 1000); `device(did).spansOmitted`
 * counts the older ones.
 */
export function deviceHistory(state: FirmwareState, did: string): VersionSpan[] {
  return (state.device(did)?.spans ?? []).map(copySpan);
}

/** The rejections recorded for a device, oldest first (the most recent `historyLimit`; `device(did).rejectionsOmitted` counts the rest). */
export function deviceRejections(state: FirmwareState, did: string): RejectionEntry[] {
  return [...(state.device(did)?.rejections ?? [])];
}

export interface ReleaseDevice {
  device: string;
  since: RecordRef;
  /** Set once the device reported running it; absent while the update is approved but unconfirmed. */
  confirmed?: RecordRef;
  approvedBy?: Approval;
}

/** Devices whose current firmware is the registered release (vendor, class, sequence). */
export function releaseDevices(state: FirmwareState, vendor: string, cls: string, sequence: number): ReleaseDevice[] {
  const rel = state.release(vendor, cls, sequence);
  if (!rel) return [];
  const out: ReleaseDevice[] = [];
  for (const did of state.devices()) {
    const cur = state.device(did)?.current;
    if (!cur || cur.class !== cls || cur.sequence !== sequence || cur.digest !== rel.digest) continue;
    if (cur.vendor !== undefined && cur.vendor !== vendor) continue;
    const entry: ReleaseDevice = { device: did, since: { ...cur.from } };
    if (cur.confirmed) entry.confirmed = { ...cur.confirmed };
    if (cur.approvedBy) entry.approvedBy = { ...cur.approvedBy };
    out.push(entry);
  }
  return out;
}

/** Builds the firmware state from records in index order (other record types are skipped). */
export function historyFromRecords(records: Iterable<FirmwareRecordLike>, state: FirmwareState = new FirmwareState()): FirmwareState {
  for (const r of records) state.apply(r.type, r.body, r.index, r.time);
  return state;
}

/** The same over an async source (e.g. a ledger read stream). */
export async function historyFromRecordsAsync(
  records: AsyncIterable<FirmwareRecordLike> | Iterable<FirmwareRecordLike>,
  state: FirmwareState = new FirmwareState(),
): Promise<FirmwareState> {
  for await (const r of records) state.apply(r.type, r.body, r.index, r.time);
  return state;
}
