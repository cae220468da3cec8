// JSON views of ledger data for people: bytes as {"hex": ...}, big integers as text.
import { toHex } from '../encoding/bytes';
import type { CborValue } from '../encoding/codec';
import type { BlockInfo } from './blocks';
import type { StoredRecord } from './reads';
import { isoTime } from '../encoding/iso-time';

/** A JSON-safe view of a CBOR value. */
export function jsonView(v: CborValue): unknown {
  if (v instanceof Uint8Array) return { hex: toHex(v) };
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(jsonView);
  if (v instanceof Map) return [...v].map(([k, val]) => [jsonView(k), jsonView(val)]);
  if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v as Record<string, CborValue>)) {
      Object.defineProperty(out, k, { value: jsonView(val), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

/** One exported line: index, leaf hash, type, ISO time, device, body and envelope. */
export function recordView(r: StoredRecord): Record<string, unknown> {
  const view: Record<string, unknown> = {
    index: r.index,
    leafHash: toHex(r.leafHash),
    type: r.record.type,
    time: isoTime(r.record.time),
  };
  if (r.record.device !== undefined) view.device = r.record.device;
  if (r.record.body !== undefined) view.body = jsonView(r.record.body);
  if (r.record.envelope !== undefined) view.envelope = jsonView(r.record.envelope);
  return view;
}

/** A block with its hashes as hex. */
export function blockView(b: BlockInfo): Record<string, unknown> {
  const h = b.header;
  return {
    height: b.height,
    hash: toHex(b.hash),
    prev: toHex(h.prev),
    first: h.first,
    size: h.size,
    root: toHex(h.root),
    time: isoTime(h.time),
    checkpoint: b.checkpoint,
  };
}
