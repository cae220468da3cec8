import type { AnchorStatus } from '../../lib/anchor';
import type { NodeStatus } from './red';
import { status } from './status';

/** "anchored 1 200 @ block 57 · pending 1 450 (2/12)", in red with the code when the last try failed. */
export function anchorStatus(s: AnchorStatus, confirmations: number): NodeStatus {
  const parts: string[] = [];
  if (s.lastConfirmed) parts.push(`anchored ${s.lastConfirmed.size} @ block ${s.lastConfirmed.block}`);
  if (s.pending) parts.push(`pending ${s.pending.size} (${s.pending.confirmations ?? 0}/${confirmations})`);
  const text = parts.join(' · ') || 'no anchor yet';
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
