// Reading an HTTP body from a peer that may be hostile (a tile server, a JSON-RPC endpoint, a
// witness, or whoever posts to the witness): at most `maxBytes`, and past that the rest is not
// read. Each caller keeps its own limit, timeout and gzip handling, and says with `tooLarge`
// which error a larger body is.
import type { IncomingMessage } from 'node:http';
import type { ReadableStream } from 'node:stream/web';

/**
 * The body of a node:http response (or of a request to a node:http server). Past `maxBytes` the
 * promise rejects with `tooLarge()` and the message is destroyed (its connection closed); a
 * connection that closes before the body ends is an error too (also when the message is
 * destroyed without one, as a server does when it answers before the body came, e.g. a 408).
 */
export function readBoundedBody(res: IncomingMessage, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    res.on('data', (c: Buffer) => {
      length += c.length;
      if (length <= maxBytes) chunks.push(c);
      else {
        reject(tooLarge());
        res.destroy();
      }
    });
    const cut = (): void => reject(new Error('the connection closed before the body ended'));
    res.on('error', reject);
    res.on('end', () => (res.complete ? resolve(Buffer.concat(chunks, length)) : cut()));
    // After 'end' (a settled promise ignores it), or in place of it when the message is destroyed.
    res.on('close', cut);
  });
}

/** The same for a fetch() Response's body (none reads as empty): past `maxBytes` the stream is cancelled. */
export async function readBoundedStream(body: ReadableStream<Uint8Array> | null, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  // Leaving the loop by the throw cancels the stream (an error from cancelling is not this one's).
  for await (const c of body ?? []) {
    length += c.length;
    if (length > maxBytes) throw tooLarge();
    chunks.push(c);
  }
  return Buffer.concat(chunks, length);
}
