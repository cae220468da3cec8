// Segment framing of the file store (docs/FORMAT.md, "File storage"): each write batch is
// one frame, [u32 length][u32 CRC-32][payload], all integers big-endian; the CRC (IEEE, as
// zlib) covers the 4 length bytes and the payload, so a damaged length is caught too.
import { crc32 } from '../encoding/crc32';

export const FRAME_HEADER = 8;
/** Largest payload accepted: a frame claiming more is damage, not a batch. */
export const MAX_PAYLOAD = 1024 * 1024 * 1024;

const OP_PUT = 1;
const OP_DEL = 2;

export interface FrameOp {
  key: Buffer;
  /** undefined for a delete */
  value: Buffer | undefined;
}

/** A decoded op: the key, and for a put where its value lies (relative to the frame start). */
export interface DecodedOp {
  key: Buffer;
  put: boolean;
  valueAt: number;
  valueLength: number;
}

/** Encodes one batch as a frame; `valueAt[i]` is where op i's value starts in the frame. */
export function encodeFrame(ops: FrameOp[]): { frame: Buffer; valueAt: number[] } {
  let size = 4;
  for (const op of ops) size += 1 + 4 + op.key.length + (op.value ? 4 + op.value.length : 0);
  if (size > MAX_PAYLOAD) throw new RangeError(`a write batch of ${size} bytes exceeds the file store's ${MAX_PAYLOAD}-byte frame limit`);
  const frame = Buffer.allocUnsafe(FRAME_HEADER + size);
  frame.writeUInt32BE(size, 0);
  let at = FRAME_HEADER;
  frame.writeUInt32BE(ops.length, at);
  at += 4;
  const valueAt: number[] = [];
  for (const op of ops) {
    frame[at++] = op.value ? OP_PUT : OP_DEL;
    frame.writeUInt32BE(op.key.length, at);
    at += 4;
    op.key.copy(frame, at);
    at += op.key.length;
    if (op.value) {
      frame.writeUInt32BE(op.value.length, at);
      at += 4;
      valueAt.push(at);
      op.value.copy(frame, at);
      at += op.value.length;
    } else valueAt.push(-1);
  }
  frame.writeUInt32BE(frameCrc(frame, 0, size), 4);
  return { frame, valueAt };
}

/** CRC-32 of the frame at `at`: its 4 length bytes, then its `length`-byte payload. */
function frameCrc(buf: Buffer, at: number, length: number): number {
  return crc32(buf.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length), crc32(buf.subarray(at, at + 4)));
}

/** What lies at `at` in `buf`: a whole frame, the start of one cut off by the end, or damage. */
export type FrameCheck =
  | { kind: 'frame'; end: number }
  | { kind: 'torn'; why: string }
  | { kind: 'bad'; end: number; why: string };

/** Checks the frame starting at `at` (length and CRC), without decoding its ops. */
export function checkFrame(buf: Buffer, at: number): FrameCheck {
  if (buf.length - at < FRAME_HEADER) return { kind: 'torn', why: 'frame header cut off' };
  const length = buf.readUInt32BE(at);
  if (length < 4 || length > MAX_PAYLOAD) return { kind: 'bad', end: buf.length, why: `impossible frame length ${length}` };
  const end = at + FRAME_HEADER + length;
  if (end > buf.length) return { kind: 'torn', why: `frame of ${length} bytes cut off` };
  if (frameCrc(buf, at, length) !== buf.readUInt32BE(at + 4)) return { kind: 'bad', end, why: 'CRC mismatch' };
  return { kind: 'frame', end };
}

/**
 * Walks the ops of a frame already checked by checkFrame, calling `op` with where each key
 * (and, for a put, value) lies in `buf` (valueAt -1 for a delete); throws on a malformed payload.
 * No objects per op: a replay walks millions of them.
 */
export function walkFrame(buf: Buffer, at: number, end: number, op: (keyAt: number, keyLength: number, valueAt: number, valueLength: number) => void): void {
  let p = at + FRAME_HEADER;
  const need = (n: number): void => {
    if (p + n > end) throw new Error('op runs past the end of its frame');
  };
  need(4);
  const count = buf.readUInt32BE(p);
  p += 4;
  for (let i = 0; i < count; i++) {
    need(5);
    const type = buf[p];
    const keyLength = buf.readUInt32BE(p + 1);
    p += 5;
    need(keyLength);
    const keyAt = p;
    p += keyLength;
    if (type === OP_PUT) {
      need(4);
      const valueLength = buf.readUInt32BE(p);
      p += 4;
      need(valueLength);
      op(keyAt, keyLength, p, valueLength);
      p += valueLength;
    } else if (type === OP_DEL) op(keyAt, keyLength, -1, 0);
    else throw new Error(`unknown op type ${type}`);
  }
  if (p !== end) throw new Error('bytes left over after the last op');
}

/** The ops of a frame already checked by checkFrame (keys are views into `buf`). */
export function decodeFrame(buf: Buffer, at: number, end: number): DecodedOp[] {
  const ops: DecodedOp[] = [];
  walkFrame(buf, at, end, (keyAt, keyLength, valueAt, valueLength) =>
    ops.push({ key: buf.subarray(keyAt, keyAt + keyLength), put: valueAt >= 0, valueAt: valueAt >= 0 ? valueAt - at : -1, valueLength }),
  );
  return ops;
}
