import * as crypto from 'node:crypto';

// One-shot hashing (Node >= 20.12) skips building a Hash object: it matters for the many
// 32- to 300-byte inputs of Merkle trees, where the call costs more than the hashing.
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash;
const SMALL = 1024;
const scratch = new Uint8Array(SMALL);

export function sha256(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  if (oneShot && n <= SMALL) {
    let at = 0;
    for (const p of parts) {
      scratch.set(p, at);
      at += p.length;
    }
    const d = oneShot('sha256', scratch.subarray(0, n), 'buffer');
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  const h = crypto.createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
