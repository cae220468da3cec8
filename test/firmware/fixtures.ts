// A small in-memory gateway for the firmware tests: records with index and time, the firmware
// state derived from them, an enrolment set, and helpers that run the rules like a node would.
import { toHex, utf8 } from '../../lib/encoding/bytes';
import { generateKey, keyToDid, sha256, type PrivateKey } from '../../lib/crypto';
import { type EnvelopeFormat } from '../../lib/envelope/envelope';
import {
  checkRelease,
  checkReport,
  checkUpdate,
  checkVendor,
  createManifest,
  createReport,
  FirmwareState,
  rejectionBody,
  type ApprovedDecisionBody,
  type Envelope,
  type Manifest,
  type ReportInput,
  type UpdateOptions,
  type UpdateRequest,
} from '../../lib/firmware';

export const T0 = Date.UTC(2026, 0, 1);

export interface TestRecord {
  index: number;
  time: number;
  type: string;
  body: unknown;
  envelope?: Envelope;
}

export function imageDigest(name: string): string {
  return toHex(sha256(utf8(`image ${name}`)));
}

// Key generation is the slowest part of these tests; a small pool keeps them fast.
const pool = new Map<string, PrivateKey>();
export function key(name: string, alg: 'Ed25519' | 'ES256' = 'Ed25519'): PrivateKey {
  const id = `${alg}:${name}`;
  let k = pool.get(id);
  if (!k) {
    k = generateKey(alg);
    pool.set(id, k);
  }
  return k;
}

export function manifest(vendor: string, cls: string, sequence: number, extra: Partial<Manifest> = {}): Manifest {
  return { vendor, class: cls, version: `1.${sequence}.0`, sequence, digest: imageDigest(`${vendor}/${cls}/${sequence}`), size: 1000 + sequence, ...extra };
}

/** What the ledger accepts as a body (lib/ledger checkBody): no undefined, no class instances, finite numbers. */
export function assertRecordable(v: unknown, path = 'body'): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || v instanceof Uint8Array) return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`${path} is not finite`);
    return;
  }
  if (Array.isArray(v)) return v.forEach((x, i) => assertRecordable(x, `${path}[${i}]`));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v)) assertRecordable(x, `${path}.${k}`);
    return;
  }
  throw new Error(`${path} cannot be recorded: ${typeof v}`);
}

export class Gateway {
  readonly records: TestRecord[] = [];
  readonly state = new FirmwareState();
  readonly enrolled = new Set<string>();
  time = T0;
  readonly isEnrolled = (did: string): boolean => this.enrolled.has(did);

  append(type: string, body: unknown, envelope?: Envelope): TestRecord {
    assertRecordable(body);
    this.time += 1000;
    const r: TestRecord = { index: this.records.length, time: this.time, type, body };
    if (envelope !== undefined) r.envelope = envelope;
    this.records.push(r);
    this.state.apply(type, body, r.index, r.time);
    return r;
  }

  enrol(deviceKey: PrivateKey): string {
    const did = keyToDid(deviceKey);
    this.enrolled.add(did);
    this.append('device.enrol', { did });
    return did;
  }

  trust(vendor: string, vendorKey: PrivateKey, action: 'trust' | 'revoke' = 'trust'): TestRecord {
    return this.append('firmware.vendor', checkVendor(this.state, { vendor, did: keyToDid(vendorKey), action }));
  }

  /** Signs and registers a release; returns its envelope. */
  release(m: Manifest, vendorKey: PrivateKey, format: EnvelopeFormat = 'jws'): Envelope {
    const env = createManifest(m, vendorKey, format);
    this.append('firmware.release', checkRelease(this.state, env, this.time), env);
    return env;
  }

  /** Runs checkUpdate and records the decision either way; returns the approval or rethrows the rejection. */
  update(req: UpdateRequest, opts: Partial<UpdateOptions> = {}): ApprovedDecisionBody {
    try {
      const body = checkUpdate(this.state, req, { now: this.time, isEnrolled: this.isEnrolled, ...opts });
      this.append('firmware.decision', body);
      return body;
    } catch (err) {
      this.append('firmware.decision', rejectionBody(err, { subject: 'update', device: req.device, at: this.time }));
      throw err;
    }
  }

  report(deviceKey: PrivateKey, fields: ReportInput, format: EnvelopeFormat = 'jws'): TestRecord {
    const did = keyToDid(deviceKey);
    const env = createReport(fields, deviceKey, format);
    try {
      return this.append('firmware.report', checkReport(this.state, env, did, { now: this.time, isEnrolled: this.isEnrolled }), env);
    } catch (err) {
      this.append('firmware.decision', rejectionBody(err, { subject: 'report', device: did, at: this.time }));
      throw err;
    }
  }
}

/** A report of what a manifest describes. */
export function reportOf(m: Manifest, extra: Partial<ReportInput> = {}): ReportInput {
  return { class: m.class, version: m.version, sequence: m.sequence, digest: m.digest, ...extra };
}
