// Sending a response body a chunk at a time, each chunk counted once the connection has taken
// it, so that a byte rate counts what a client was actually sent. Written in one call, a body is
// handed to the socket in one batch whose callback comes only when the last byte has gone: a
// client that stops reading would be counted nothing (or, counted up front, all of it).
import type { ServerResponse } from 'node:http';

/** Bytes written at a time: the largest record a tile carries. */
export const SEND_CHUNK_BYTES = 64 * 1024;

/** Writes `body` to `res` (its head already written) and ends it; `sent(n)` as each chunk is taken. Stops once the response is destroyed. */
export function sendCounted(res: ServerResponse, body: Uint8Array, sent: (bytes: number) => void): void {
  const all = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let at = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (at >= all.length) return void res.end();
    const chunk = all.subarray(at, Math.min(at + SEND_CHUNK_BYTES, all.length));
    at += chunk.length;
    res.write(chunk, (err) => {
      if (err) return;
      sent(chunk.length);
      next();
    });
  };
  next();
}
