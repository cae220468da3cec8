/**
 * The keys of the `npm start` demo: one per simulated sensor and one per contract party
 * (operator, customer). Each is a private JWK in its own 0600 file under the Node-RED
 * user directory, made on first use and read back on every later start. Only did:keys
 * and file paths leave this module's callers; never the keys' private halves.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { keyToDid } from '../lib/crypto/didkey';
import { loadOrCreateKeyFile } from '../lib/crypto/keyfile';
import { generateKey, type Alg, type PrivateKey } from '../lib/crypto/keys';

export interface DemoIdentity {
  /** Sensor name, or party role. */
  name: string;
  alg: Alg;
  did: string;
  key: PrivateKey;
  file: string;
  /** True when this call made the key (first start). */
  created: boolean;
}

export interface DemoKeys {
  sensors: DemoIdentity[];
  parties: DemoIdentity[];
}

/** The two contract parties the demo signs for, in the order of the contract's `parties`. */
export const DEMO_PARTIES = ['operator', 'customer'] as const;

export function demoKeyPaths(userDir: string): { devices: string; parties: string } {
  const base = path.join(userDir, 'iot-ledger');
  return { devices: path.join(base, 'devices'), parties: path.join(base, 'parties') };
}

/** The second sensor has a P-256 key (what an ATECC608 secure element holds); the others Ed25519. */
export function sensorAlg(index: number): Alg {
  return index === 1 ? 'ES256' : 'Ed25519';
}

function identity(name: string, file: string, alg: Alg): DemoIdentity {
  const existed = fs.existsSync(file);
  const key = loadOrCreateKeyFile(file, () => generateKey(alg));
  return { name, alg: key.alg, did: keyToDid(key), key, file, created: !existed };
}

/** Loads, or on first use creates, the sensors' and the parties' keys. */
export function loadOrCreateDemoKeys(userDir: string, sensors: readonly string[]): DemoKeys {
  for (const s of sensors) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s)) throw new RangeError(`sensor name ${JSON.stringify(s)} must be letters, digits, ".", "_" or "-"`);
  }
  const dirs = demoKeyPaths(userDir);
  return {
    sensors: sensors.map((s, i) => identity(s, path.join(dirs.devices, `${s}.jwk`), sensorAlg(i))),
    parties: DEMO_PARTIES.map((p) => identity(p, path.join(dirs.parties, `${p}.jwk`), 'Ed25519')),
  };
}
