import type { AnchorStatus } from '../../lib/anchor';
import type { NodeStatus } from './red';
import { status, type Translate } from './status';

/** "anchored 1 200 @ block 57 · pending 1 450 (2/12)", in red with the code when the last try failed. */
export function anchorStatus(t: Translate, s: AnchorStatus, confirmations: number): NodeStatus {
  const parts: string[] = [];
  if (s.lastConfirmed) parts.push(t('iot-ledger-anchor.status.anchored', { size: s.lastConfirmed.size, block: s.lastConfirmed.block }));
  if (s.pending) parts.push(t('iot-ledger-anchor.status.pending', { size: s.pending.size, confirmations: s.pending.confirmations ?? 0, required: confirmations }));
  const text = parts.join(' · ') || t('iot-ledger-anchor.status.none');
  if (s.lastError) return status.error(`${s.lastError.code} · ${text}`);
  if (s.pending) return status.info(text);
  return s.lastConfirmed ? status.ok(text) : status.waiting(text);
}

/** The anchor record body as JSON for msg.payload: hashes as 0x hex. */
export function anchorPayload(body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) out[k] = v instanceof Uint8Array ? `0x${Buffer.from(v).toString('hex')}` : v;
  return out;
}
