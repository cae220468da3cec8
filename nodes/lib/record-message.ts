import type { RecordInput } from '../../lib/ledger';
import { toRecordBody } from '../../lib/envelope/payload';
import type { NodeMessage } from './red';

/** Builds the record from a message: payload as body, plus device and envelope set by Verify. */
export function recordFromMessage(msg: NodeMessage, type: string): RecordInput {
  const input: RecordInput = { type, body: toRecordBody(msg.payload) };
  const device = msg.device as { id?: unknown } | undefined;
  if (device && typeof device.id === 'string') input.device = device.id;
  const env = msg.envelope;
  if (typeof env === 'string') input.envelope = env;
  else if (env instanceof Uint8Array) input.envelope = Uint8Array.from(env);
  return input;
}

