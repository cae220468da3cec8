// Small ledgers for the audit tests: gateway-only records and device-signed readings.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateKey, keyToDid, type PrivateKey } from '../../lib/crypto';
import { signEnvelope, type EnvelopeFormat } from '../../lib/envelope';
import { TestLedgerWriter, type WriterOptions } from './ledger-writer';

export interface Device {
  key: PrivateKey;
  did: string;
  format: EnvelopeFormat;
  counter: number;
}

export function makeDevice(alg: 'Ed25519' | 'ES256' = 'Ed25519', format: EnvelopeFormat = 'jws'): Device {
  const key = generateKey(alg);
  return { key, did: keyToDid(key), format, counter: 0 };
}

/** A signed reading payload with the next counter (or the one given). */
export function signedReading(dev: Device, extra: Record<string, unknown> = {}, counter = ++dev.counter): string | Uint8Array {
  return signEnvelope({ temperature: -21 + counter / 10, counter, ...extra }, dev.key, { format: dev.format, kid: dev.did });
}

export function tempDir(prefix = 'audit-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function copyDir(from: string, prefix = 'audit-copy-'): string {
  const to = tempDir(prefix);
  fs.cpSync(from, to, { recursive: true });
  fs.rmSync(path.join(to, 'LOCK'), { force: true });
  return to;
}

export interface SampleLedger {
  dir: string;
  name: string;
  verifierKey: string;
  gatewayDid: string;
  gatewayKey: PrivateKey;
  checkpoints: string[];
  devices: Device[];
  size: number;
  blocks: number;
}

/**
 * ~40 records in 4 blocks of 10: enrolment of an Ed25519/JWS device and a P-256/COSE
 * device (the second by TOFU), their signed readings, and gateway notes.
 */
export async function buildSampleLedger(dir = tempDir(), opts: WriterOptions & { records?: number } = {}): Promise<SampleLedger> {
  const w = await TestLedgerWriter.create(dir, { blockRecords: 10, ...opts });
  const a = makeDevice('Ed25519', 'jws');
  const b = makeDevice('ES256', 'cose');
  await w.append({ type: 'device.enrol', body: { did: a.did, name: 'cold-room-a' } });
  await w.append({ type: 'device.tofu', device: b.did, body: { did: b.did, name: 'cold-room-b' } });
  const total = opts.records ?? 40;
  for (let i = w.size; i < total; i++) {
    if (i % 5 === 4) await w.append({ type: 'note', body: { text: `gateway note ${i}` } });
    else {
      const dev = i % 2 === 0 ? a : b;
      await w.append({ type: 'reading', device: dev.did, body: { temperature: -21, n: i }, envelope: signedReading(dev) });
    }
  }
  await w.seal();
  const out: SampleLedger = {
    dir,
    name: w.name,
    verifierKey: w.verifierKey,
    gatewayDid: w.did,
    gatewayKey: w.gatewayKey,
    checkpoints: [...w.checkpoints],
    devices: [a, b],
    size: w.size,
    blocks: w.height,
  };
  await w.close();
  return out;
}
