// Device enrolment state, derived from ledger records only (so it can always be rebuilt).
import { types } from 'node:util';
import { didToKey } from '../crypto/didkey';
import { decodeCbor, encodeCbor, type CborValue } from '../encoding/codec';
import { LedgerError } from '../errors';
import { checkBody } from '../ledger/record';
import { isNewer, mergeAccepted, type Freshness } from './freshness';

export const ENROL = 'device.enrol';
export const REVOKE = 'device.revoke';
export const TOFU = 'device.tofu';
export const DEVICE_RECORD_TYPES = [ENROL, REVOKE, TOFU] as const;

export interface DeviceEntry {
  did: string;
  name: string;
  meta?: Record<string, unknown>;
  enrolledAt: number; // record index
  /** Order of first enrolment in the registry, kept when re-enrolled: a name resolves to its lowest. */
  rank: number;
  revokedAt?: number;
  tofu?: boolean;
}

export interface EnrolBody {
  did: string;
  name?: string;
  meta?: Record<string, unknown>;
  reason?: string;
}

/**
 * Checks an enrol/revoke request and returns the body to record. A revocation records no meta:
 * `revoke` checks only its shape (an object), as before meta was checked as a record holds it, so
 * that a revoke request carrying the device's meta (a BigInt serial, a Date) still revokes it.
 */
export function enrolBody(input: unknown, { revoke = false }: { revoke?: boolean } = {}): EnrolBody {
  if (!input || typeof input !== 'object') throw new LedgerError('ERR_INVALID_ARGUMENT', 'enrolment needs an object with a did');
  const i = input as Record<string, unknown>;
  if (typeof i.did !== 'string') throw new LedgerError('ERR_INVALID_ARGUMENT', 'enrolment needs "did" (a did:key)');
  didToKey(i.did); // throws ERR_MALFORMED_DID
  const body: EnrolBody = { did: i.did };
  if (i.name !== undefined) {
    if (typeof i.name !== 'string' || i.name.length > 200) throw new LedgerError('ERR_INVALID_ARGUMENT', '"name" must be a string of up to 200 characters');
    body.name = i.name;
  }
  if (i.meta !== undefined) {
    if (!i.meta || typeof i.meta !== 'object' || Array.isArray(i.meta)) throw new LedgerError('ERR_INVALID_ARGUMENT', '"meta" must be an object');
    if (!revoke) body.meta = recordedMeta(i.meta);
  }
  if (typeof i.reason === 'string') body.reason = i.reason;
  return body;
}

/**
 * The path of a BigInt in `v` (a value checkBody accepted: plain objects, arrays and scalars,
 * nested at most 64 deep), or undefined.
 */
function bigintAt(v: unknown, path: string): { path: string; value: bigint } | undefined {
  if (typeof v === 'bigint') return { path, value: v };
  if (!v || typeof v !== 'object' || types.isUint8Array(v)) return undefined;
  if (Array.isArray(v)) {
    for (let k = 0; k < v.length; k++) {
      const found = bigintAt(v[k], `${path}[${k}]`);
      if (found) return found;
    }
    return undefined;
  }
  for (const [k, x] of Object.entries(v)) {
    const found = bigintAt(x, `${path}.${k.length <= 40 ? k : `${k.slice(0, 40)}…`}`);
    if (found) return found;
  }
  return undefined;
}

/**
 * `meta` as its device.enrol record holds it and reads it back, when the gateway starts: a copy
 * (the registry shows the same before and after a restart, whatever the caller does with its
 * object later). What no record holds is refused as the record would refuse it (checkBody,
 * ERR_MALFORMED_RECORD: a Date, a Map, NaN, undefined); a BigInt, which a record holds but
 * reads back as a number when it is at most 2^53 - 1, with ERR_INVALID_ARGUMENT naming it.
 */
function recordedMeta(meta: object): Record<string, unknown> {
  checkBody(meta, 'body.meta', 1); // inside the record body {did, meta}
  const big = bigintAt(meta, 'meta');
  if (big) {
    const digits = String(big.value);
    throw new LedgerError(
      'ERR_INVALID_ARGUMENT',
      `"meta" cannot hold a BigInt: ${big.path} is ${digits.length <= 40 ? digits : `${digits.slice(0, 40)}…`}n (a record reads a BigInt of at most 2^53 - 1 back as a number, after a restart say, so meta holds none); give a number or text`,
      { path: big.path },
    );
  }
  return decodeCbor(encodeCbor(meta as CborValue)) as Record<string, unknown>;
}

/** The name a device is known by when its enrolment gives none: the last 8 characters of its did. */
function defaultName(did: string): string {
  return did.slice(-8);
}

/** `meta` as its record holds it (canonical CBOR), or undefined when it cannot be written as one. */
function metaBytes(meta: Record<string, unknown>): Buffer | undefined {
  try {
    return Buffer.from(encodeCbor(meta as CborValue));
  } catch {
    return undefined;
  }
}

/**
 * Whether enrolling with `body` (from enrolBody) would leave `entry` as the registry holds it:
 * the device is enrolled (not revoked, not trusted on first use, which an enrolment turns into an
 * enrolled device) under the name the record would give and with the same meta, compared as the
 * records hold them (canonical CBOR of the registry's copy, read back from the ledger after a
 * restart: key order does not matter, 0 and -0 differ, {} and no meta differ). A reason is no
 * part of the registry and is not compared.
 */
export function enrolsAs(entry: DeviceEntry, body: EnrolBody): boolean {
  if (entry.revokedAt !== undefined || entry.tofu) return false;
  if (entry.name !== (body.name ?? defaultName(body.did))) return false;
  if (entry.meta === undefined || body.meta === undefined) return entry.meta === body.meta;
  const was = metaBytes(entry.meta);
  const now = metaBytes(body.meta);
  return was !== undefined && now !== undefined && was.equals(now);
}

export class DeviceRegistry {
  private readonly devices = new Map<string, DeviceEntry>();
  private readonly last = new Map<string, Freshness>();
  /**
   * The dids of each device name, in enrolment order: a message's kid may be a name, and
   * finding it must not walk a fleet that trust on first use lets anyone grow.
   */
  private readonly names = new Map<string, string[]>();
  /** Devices enrolled and not revoked, kept as records apply: counting must not walk the fleet. */
  #active = 0;
  /** Of them, those trusted on first use (what bounds TOFU admissions, lib/gateway/tofu-limit.ts). */
  #activeTofu = 0;

  /** Applies one ledger record (in ledger order); ignores records of other types. */
  apply(type: string, body: unknown, index: number): void {
    if (type !== ENROL && type !== REVOKE && type !== TOFU) return;
    const b = body as EnrolBody;
    if (!b || typeof b.did !== 'string') return;
    if (type === REVOKE) {
      const d = this.devices.get(b.did);
      if (d && d.revokedAt === undefined) {
        d.revokedAt = index;
        this.#active--;
        if (d.tofu) this.#activeTofu--;
      }
      return;
    }
    const previous = this.devices.get(b.did);
    const wasActive = previous !== undefined && previous.revokedAt === undefined;
    if (!wasActive) this.#active++;
    // An enrolment of a device trusted on first use makes it an enrolled one (and the reverse).
    if (wasActive && previous.tofu) this.#activeTofu--;
    if (type === TOFU) this.#activeTofu++;
    // Devices are never removed, so their count numbers first enrolments.
    const entry: DeviceEntry = { did: b.did, name: b.name ?? defaultName(b.did), enrolledAt: index, rank: previous?.rank ?? this.devices.size };
    if (b.meta) entry.meta = b.meta;
    if (type === TOFU) entry.tofu = true;
    this.devices.set(b.did, entry);
    if (previous?.name === entry.name) return;
    if (previous) {
      const left = (this.names.get(previous.name) ?? []).filter((did) => did !== b.did);
      if (left.length > 0) this.names.set(previous.name, left);
      else this.names.delete(previous.name);
    }
    const same = this.names.get(entry.name) ?? [];
    const at = same.findIndex((did) => (this.devices.get(did)?.rank ?? 0) > entry.rank);
    same.splice(at < 0 ? same.length : at, 0, b.did);
    this.names.set(entry.name, same);
  }

  /** The first device (in enrolment order) with this name. */
  named(name: string): DeviceEntry | undefined {
    const did = this.names.get(name)?.[0];
    return did === undefined ? undefined : this.devices.get(did);
  }

  get(did: string): DeviceEntry | undefined {
    return this.devices.get(did);
  }

  /** Enrolled and not revoked. */
  active(did: string): boolean {
    const d = this.devices.get(did);
    return d !== undefined && d.revokedAt === undefined;
  }

  list(): DeviceEntry[] {
    return [...this.devices.values()];
  }

  /** Devices known (enrolled, trusted on first use or revoked). */
  get size(): number {
    return this.devices.size;
  }

  /** The first `n` devices in enrolment order. */
  first(n: number): DeviceEntry[] {
    const out: DeviceEntry[] = [];
    for (const d of this.devices.values()) {
      if (out.length >= n) break;
      out.push(d);
    }
    return out;
  }

  /** How many devices are enrolled and not revoked (activeDevices().length, without the list). */
  get activeCount(): number {
    return this.#active;
  }

  /** How many of the active devices were trusted on first use (device.tofu), kept as records apply. */
  get activeTofuCount(): number {
    return this.#activeTofu;
  }

  activeDevices(): DeviceEntry[] {
    return this.list().filter((d) => d.revokedAt === undefined);
  }

  lastAccepted(did: string): Freshness | undefined {
    return this.last.get(did);
  }

  isFresh(did: string, f: Freshness): boolean {
    return isNewer(f, this.last.get(did));
  }

  /**
   * Drops the freshness remembered for `did` when no record enrolled it: its messages were
   * accepted pending its device.tofu record, whose write failed (a known device keeps its own).
   */
  forgetUnenrolled(did: string): void {
    if (!this.devices.has(did)) this.last.delete(did);
  }

  /** Remembers the newest accepted freshness of a device. */
  accept(did: string, f: Freshness): void {
    this.last.set(did, mergeAccepted(this.last.get(did), f));
  }
}
