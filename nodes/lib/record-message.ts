import type { RecordInput } from '../../lib/ledger';
import type { PayloadToRecord } from '../../lib/gateway';
import { toRecordBody } from '../../lib/envelope/payload';
import type { NodeMessage } from './red';

/** The parts of a message a record is made of: payload (not converted yet), plus device and envelope set by Verify. */
export function payloadToRecord(msg: NodeMessage, type: string): PayloadToRecord {
  const out: PayloadToRecord = { type, payload: msg.payload };
  const device = msg.device as { id?: unknown } | undefined;
  if (device && typeof device.id === 'string') out.device = device.id;
  const env = msg.envelope;
  if (typeof env === 'string') out.envelope = env;
  else if (env instanceof Uint8Array) out.envelope = Uint8Array.from(env);
  return out;
}

/** Builds the record from a message: payload as body, plus device and envelope set by Verify. */
export function recordFromMessage(msg: NodeMessage, type: string): RecordInput {
  const { payload, ...rest } = payloadToRecord(msg, type);
  return { ...rest, body: toRecordBody(payload) };
}
