// Device enrolment, revocation and replay order, derived from the records in ledger order.
import { bytesEqual } from '../encoding/bytes';
import { resolveVerificationKey } from '../envelope/envelope';
import type { PublicKey } from '../crypto/keys';
import type { DeviceEvent, EnvelopeCheck } from './chunk';
import { verifyDeviceEnvelope } from './chunk-signed';
import { recordPos, type Findings } from './findings';
import { isNewer, mergeAccepted, type Freshness as DeviceFreshness } from '../registry/freshness';
import { ENROL_TYPES, inDeviceOrder, REVOKE_TYPE, type Freshness } from './records';
import type { DeviceStatus } from './types';

type Standing = 'enrolled' | 'revoked';

/** Enrolment state per did; memory grows with the number of devices, not of records. */
export class DeviceRegistry {
  readonly #standing = new Map<string, Standing>();

  enrol(did: string): void {
    this.#standing.set(did, 'enrolled');
  }

  revoke(did: string): void {
    this.#standing.set(did, 'revoked');
  }

  status(did: string): Standing | 'unknown' {
    return this.#standing.get(did) ?? 'unknown';
  }

  dids(): string[] {
    return [...this.#standing.keys()];
  }
}

/**
 * The last accepted counter and time per device; a payload must be newer, by the gateway's
 * own rule (lib/registry/freshness.ts isNewer), so the audit and the gateway agree.
 */
export class ReplayGuard {
  readonly #last = new Map<string, DeviceFreshness>();

  /** Why `f` is a replay for `did`, or undefined when it is newer. */
  check(did: string, f: Freshness): string | undefined {
    const last = this.#last.get(did);
    if (isNewer(toDevice(f), last)) return undefined;
    if (f.counter !== undefined && last?.counter !== undefined) return `counter ${f.counter} is not above the last accepted ${last.counter}`;
    if (last?.counter !== undefined) return `it carries no counter, and the last accepted message had counter ${last.counter}`;
    if (f.ts !== undefined && last?.time !== undefined) return `timestamp ${f.ts} is not after the last accepted ${last.time}`;
    return 'it carries no counter or time comparable with the last accepted message';
  }

  accept(did: string, f: Freshness): void {
    this.#last.set(did, mergeAccepted(this.#last.get(did), toDevice(f)));
  }
}

/** A payload's replay fields in the registry's terms (lib/registry/freshness.ts). */
export function toDevice(f: Freshness): DeviceFreshness {
  const out: DeviceFreshness = {};
  if (f.counter !== undefined) out.counter = f.counter;
  if (f.ts !== undefined) out.time = f.ts;
  return out;
}

function sameKey(a: PublicKey, b: PublicKey): boolean {
  return a.alg === b.alg && bytesEqual(a.publicKey, b.publicKey);
}

/** The deviceKeys hook of AuditOptions. */
export type DeviceHook = (did: string, index: number) => DeviceStatus | undefined;

type DeviceKey = NonNullable<Extract<DeviceStatus, { status: 'enrolled' }>['key']>;

/** The key a device's envelope is verified with: the one the hook answered, unless that is the did's own (the default). */
export function verificationKey(did: string, answer: DeviceStatus | undefined): DeviceKey {
  const key = answer?.status === 'enrolled' ? answer.key : undefined;
  return key !== undefined && !isDidKey(key, did) ? key : did;
}

function isDidKey(key: DeviceKey, did: string): boolean {
  if (key === did) return true;
  try {
    return sameKey(resolveVerificationKey(key), resolveVerificationKey(did));
  } catch {
    return false;
  }
}

/** Applies device events in ledger order and reports unknown/revoked devices, bad signatures and replays. */
export class DeviceChecker {
  readonly registry = new DeviceRegistry();
  readonly replay = new ReplayGuard();
  readonly #findings: Findings;
  readonly #hook: DeviceHook | undefined;
  signatures = 0;

  constructor(findings: Findings, hook?: DeviceHook) {
    this.#findings = findings;
    this.#hook = hook;
  }

  apply(ev: DeviceEvent): void {
    if (ENROL_TYPES.has(ev.type)) {
      if (ev.subject) this.registry.enrol(ev.subject);
      else this.#add(ev, 'record-decode', `${ev.type} record names no device`);
    }
    if (ev.envelope) this.#checkEnvelope(ev, ev.envelope);
    if (ev.type === REVOKE_TYPE) {
      if (ev.subject) this.registry.revoke(ev.subject);
      else this.#add(ev, 'record-decode', `${ev.type} record names no device`);
    }
  }

  #add(ev: DeviceEvent, kind: string, detail: string): void {
    this.#findings.add(recordPos(ev.index), { kind, index: ev.index, time: ev.time, device: ev.device, detail });
  }

  #checkEnvelope(ev: DeviceEvent, check: EnvelopeCheck): void {
    const did = ev.device;
    if (did === undefined) {
      this.#add(ev, 'unknown-device', `record ${ev.index} carries a device envelope but names no device`);
      return;
    }
    if (ev.selfSigned) {
      const own = check.ok === undefined ? this.#verify(check, did) : check;
      if (!own.ok) this.#add(ev, 'envelope-signature', `signature of record ${ev.index} does not verify with ${did}: ${own.detail ?? 'bad signature'}`);
      return;
    }
    const answer = this.#hook?.(did, ev.index);
    const status = answer?.status ?? this.registry.status(did);
    if (status === 'unknown') {
      this.#add(ev, 'unknown-device', `record ${ev.index} is signed by a device that is not enrolled at this point`);
      return;
    }
    if (status === 'revoked') {
      this.#add(ev, 'revoked-device', `record ${ev.index} is signed by a device revoked before it`);
      return;
    }
    let result: EnvelopeCheck = check;
    const key = verificationKey(did, answer);
    if (key !== did) result = this.#verify(check, key);
    else if (result.ok === undefined) result = this.#verify(check, did);
    if (!result.ok) {
      this.#add(ev, 'envelope-signature', `device envelope of record ${ev.index} does not verify: ${result.detail ?? 'bad signature'}`);
      return;
    }
    if (!inDeviceOrder(ev.type)) return;
    const fresh: Freshness = { counter: result.counter, ts: result.ts };
    const replay = this.replay.check(did, fresh);
    if (replay) this.#add(ev, 'replay', `record ${ev.index} replays an older device message: ${replay}`);
    else this.replay.accept(did, fresh);
  }

  #verify(check: EnvelopeCheck, key: Parameters<typeof verifyDeviceEnvelope>[1]): EnvelopeCheck {
    if (check.envelope === undefined) return { ok: false, detail: 'envelope not available for verification' };
    this.signatures++;
    return verifyDeviceEnvelope(check.envelope, key);
  }
}
