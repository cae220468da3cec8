// Device standing and replay state before an incremental audit's checkpoint, from the records
// before it (read once in ledger order, as the full audit reads them), in memory that grows with
// the devices, not with the records.
import type { DeviceEvent } from './chunk';
import { claimedFreshness, envelopeFormProblem, verifyDeviceEnvelope } from './chunk-signed';
import { toDevice, verificationKey, type DeviceHook } from './devices';
import { HASH_SIZE, recordKey, recordKeyIndex } from './layout';
import { ClaimedOrder, VerifiedOrder } from './prefix-replay';
import { ENROL_TYPES, inDeviceOrder, REVOKE_TYPE, readRecord, subjectDid, type Freshness, type RecordView } from './records';
import { scanRecord } from './record-scan';
import type { Freshness as DeviceFreshness } from '../registry/freshness';
import { holdsHash, leafHashOfTail } from './sha';
import type { RawStore } from './store';

/** A stored record value decoded, `mismatch` when its bytes are not those of its leaf hash. */
export function provenRecord(value: Uint8Array): RecordView | undefined | 'mismatch' {
  const tail = new Uint8Array(value.buffer, value.byteOffset + HASH_SIZE - 1, value.length - HASH_SIZE + 1);
  if (!holdsHash(value, 0, leafHashOfTail(tail))) return 'mismatch';
  return scanRecord(tail, 1) ?? readRecord(tail.subarray(1)).record;
}

/** The device facts of the records before a trusted size. */
export interface PrefixDeviceState {
  /** The last enrolment or revocation of each device (they decide its standing), in ledger order. */
  enrolments: DeviceEvent[];
  /** Per device, the counter and time its records before the size reached, as the full audit accepts them. */
  reached: Map<string, Freshness>;
}

/** Enrolment standing in ledger order, with a caller's registry answering first (as DeviceChecker). */
class Standing {
  readonly last = new Map<string, DeviceEvent>();
  constructor(readonly hook: DeviceHook | undefined) {}

  /**
   * Takes record `index`; returns its device when it is a signed record the full audit orders (its
   * device enrolled at it), of one of `only` when given (the registry is asked for those alone).
   */
  note(index: number, record: RecordView, only?: Map<string, unknown>): string | undefined {
    // A record whose envelope is not in a stored form is a record-decode finding in the full audit, with no device event.
    if (envelopeFormProblem(record) !== undefined) return undefined;
    // As DeviceChecker.apply: an enrolment counts for its own envelope, a revocation after it.
    if (ENROL_TYPES.has(record.type)) this.#set(index, record);
    const did = this.#ordered(index, record, only);
    if (record.type === REVOKE_TYPE) this.#set(index, record);
    return did;
  }

  #set(index: number, record: RecordView): void {
    const subject = subjectDid(record);
    if (subject === undefined) return;
    const event: DeviceEvent = { index, time: record.time, type: record.type, subject };
    if (record.device !== undefined) event.device = record.device;
    this.last.set(subject, event);
  }

  #ordered(index: number, record: RecordView, only?: Map<string, unknown>): string | undefined {
    if (record.device === undefined || record.envelope === undefined || !inDeviceOrder(record.type)) return undefined;
    if (only && !only.has(record.device)) return undefined;
    const answer = this.hook?.(record.device, index);
    const enrolled = answer ? answer.status === 'enrolled' : ENROL_TYPES.has(this.last.get(record.device)?.type ?? '');
    return enrolled ? record.device : undefined;
  }
}

/**
 * Fed the records before the checkpoint in ledger order (note), then finish. Each device is
 * followed on what its payloads claim (ClaimedOrder: one or two signatures per device in a ledger
 * the gateway wrote, however many replays); a device whose deciding records do not verify is
 * followed again in a second read of the prefix, every record of its verified (VerifiedOrder).
 */
export class PrefixDevices {
  readonly #store: RawStore;
  readonly #standing: Standing;
  readonly #orders = new Map<string, ClaimedOrder>();

  constructor(store: RawStore, hook: DeviceHook | undefined) {
    this.#store = store;
    this.#standing = new Standing(hook);
  }

  /** Record `index` (its bytes proven to be the ones the checkpoint commits to); a promise only when it verifies something. */
  note(index: number, record: RecordView): Promise<void> | undefined {
    const did = this.#standing.note(index, record);
    if (did === undefined) return undefined;
    let order = this.#orders.get(did);
    if (!order) this.#orders.set(did, (order = new ClaimedOrder()));
    return order.take(index, toDevice(claimedFreshness(record.envelope as string | Uint8Array)), (k) => this.#verifyAt(did, k));
  }

  /** The standing and the replay state once every record before `size` has been noted. */
  async finish(size: number): Promise<PrefixDeviceState> {
    const reached = new Map<string, Freshness>();
    const lost = new Map<string, VerifiedOrder>();
    for (const [did, order] of this.#orders) {
      const f = await order.result((k) => this.#verifyAt(did, k));
      if (order.lost) lost.set(did, new VerifiedOrder());
      else setReached(reached, did, f);
    }
    if (lost.size > 0) await this.#followVerified(size, lost);
    for (const [did, order] of lost) setReached(reached, did, order.state);
    return { enrolments: [...this.#standing.last.values()].sort((a, b) => a.index - b.index), reached };
  }

  /** Reads the records before `size` again, verifying each signed record of the `lost` devices in order. */
  async #followVerified(size: number, lost: Map<string, VerifiedOrder>): Promise<void> {
    const standing = new Standing(this.#standing.hook);
    const cursor = this.#store.cursor(recordKey(0), recordKey(size));
    try {
      for (let e = await cursor.next(); e; e = await cursor.next()) {
        const index = recordKeyIndex(e[0]);
        if (index === undefined || e[1].length < HASH_SIZE) continue;
        const record = provenRecord(e[1]);
        if (record === undefined || record === 'mismatch') continue;
        const did = standing.note(index, record, lost);
        const order = did === undefined ? undefined : lost.get(did);
        if (order && did !== undefined) order.take(this.#verify(did, index, record.envelope as string | Uint8Array));
      }
    } finally {
      await cursor.close();
    }
  }

  async #verifyAt(did: string, index: number): Promise<DeviceFreshness | undefined> {
    const value = await this.#store.get(recordKey(index));
    const record = value && value.length >= HASH_SIZE ? readRecord(value.subarray(HASH_SIZE)).record : undefined;
    if (record?.envelope === undefined || record.device !== did) return undefined;
    return this.#verify(did, index, record.envelope);
  }

  #verify(did: string, index: number, envelope: string | Uint8Array): DeviceFreshness | undefined {
    const check = verifyDeviceEnvelope(envelope, verificationKey(did, this.#standing.hook?.(did, index)));
    return check.ok ? toDevice({ counter: check.counter, ts: check.ts }) : undefined;
  }
}

function setReached(reached: Map<string, Freshness>, did: string, f: DeviceFreshness | undefined): void {
  if (f && (f.counter !== undefined || f.time !== undefined)) reached.set(did, { counter: f.counter, ts: f.time });
}
