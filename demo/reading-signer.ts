/**
 * The simulator's `sign` hook for signed sensors: each reading becomes a JWS made with the
 * sensor's own key, kid = its did:key, payload {temperature, door, counter, ts[, contract]} (what a
 * device running the Sign node, or firmware doing the same, would publish).
 */
import { keyToDid } from '../lib/crypto/didkey';
import { signEnvelope } from '../lib/envelope/envelope';
import type { PrivateKey } from '../lib/crypto/keys';
import type { Reading, Sign } from './simulator';

/** What a signed sensor puts in its envelope, in this key order. */
export interface SignedReadingPayload {
  temperature: number;
  door: 'open' | 'closed';
  counter: number;
  /** Device time, ms since the epoch. */
  ts: number;
  /** Terms hash of the contract the sensor pulled and operates under, once it has. */
  contract?: string;
}

export function readingPayload(reading: Reading): SignedReadingPayload {
  const p: SignedReadingPayload = { temperature: reading.temperature, door: reading.door, counter: reading.counter, ts: reading.time };
  if (reading.contract !== undefined) p.contract = reading.contract;
  return p;
}

/** A Sign hook that signs each sensor's readings with its key; a sensor without a key is an error. */
export function signReadingsWith(keys: ReadonlyMap<string, PrivateKey>): Sign {
  const kids = new Map([...keys].map(([sensor, key]) => [sensor, keyToDid(key)]));
  return (reading, sensor) => {
    const key = keys.get(sensor);
    if (!key) throw new Error(`no key for sensor ${sensor}`);
    return signEnvelope(readingPayload(reading), key, { format: 'jws', kid: kids.get(sensor) });
  };
}
