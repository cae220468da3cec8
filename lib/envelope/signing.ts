// What a signing device does: stamp a payload with a counter and a time, then sign it.
import { signEnvelope, type EnvelopeFormat } from './envelope';
import { keyToDid } from '../crypto/didkey';
import { LedgerError } from '../errors';
import type { PrivateKey } from '../crypto/keys';

export interface StampedPayload {
  [key: string]: unknown;
  counter: number;
  ts: number;
}

/** Strictly increasing across restarts as long as the clock does not go back: max(last + 1, now). */
export function nextCounter(last: number | undefined, now: number): number {
  return Math.max((last ?? 0) + 1, now);
}

export function stampPayload(payload: unknown, counter: number, ts: number): StampedPayload {
  if (payload instanceof Uint8Array) return { data: Buffer.from(payload).toString('base64'), encoding: 'base64', counter, ts };
  if (typeof payload === 'string' || typeof payload === 'number' || typeof payload === 'boolean')
    return { data: payload, counter, ts };
  if (payload && typeof payload === 'object' && !Array.isArray(payload)) return { ...(payload as Record<string, unknown>), counter, ts };
  if (Array.isArray(payload)) return { data: payload, counter, ts };
  throw new LedgerError('ERR_INVALID_ARGUMENT', 'msg.payload must be an object, a string, a number or a Buffer');
}

/** A payload signed as it is (no counter, no time): objects as JSON, strings as UTF-8. */
export function payloadToSign(payload: unknown): Uint8Array | string | object {
  if (payload instanceof Uint8Array || typeof payload === 'string') return payload;
  if (payload && typeof payload === 'object') return payload;
  if (typeof payload === 'number' || typeof payload === 'boolean') return JSON.stringify(payload);
  throw new LedgerError('ERR_INVALID_ARGUMENT', 'msg.payload must be an object, a string, a number or a Buffer');
}

export function signAsDevice(
  payload: unknown,
  key: PrivateKey,
  counter: number,
  ts: number,
  format: EnvelopeFormat = 'jws',
): { envelope: string | Uint8Array; signed: StampedPayload } {
  const signed = stampPayload(payload, counter, ts);
  const envelope = signEnvelope(signed, key, { format, kid: keyToDid(key) });
  return { envelope, signed };
}
