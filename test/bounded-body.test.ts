import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReadableStream } from 'node:stream/web';
import { readBoundedBody, readBoundedStream } from '../lib/guards/bounded-body';

/** A server answering each GET with `answer`; `closed` resolves when a connection to it closes. */
async function serve(answer: (res: http.ServerResponse) => void): Promise<{ url: string; closed: Promise<void>; close(): Promise<void> }> {
  let onClose!: () => void;
  const closed = new Promise<void>((resolve) => (onClose = resolve));
  const server = http.createServer((req, res) => {
    req.socket.once('close', onClose);
    answer(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    closed,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const response = (url: string): Promise<http.IncomingMessage> =>
  new Promise((resolve, reject) => http.get(url, { agent: false }, resolve).on('error', reject));

/** Writes `parts` one at a time, each after the last has left (a chunked body read in several pieces); ends unless `hold`. */
function drip(res: http.ServerResponse, parts: Buffer[], hold = false): void {
  res.writeHead(200);
  const next = (): void => {
    const part = parts.shift();
    if (part) res.write(part, () => setTimeout(next, 5));
    else if (!hold) res.end();
  };
  next();
}

class TooLarge extends Error {}

describe('bounded HTTP bodies (lib/guards/bounded-body)', () => {
  describe('readBoundedBody (node:http)', () => {
    it('reads a body of exactly the limit, in one piece and chunked in several', async () => {
      const whole = await serve((res) => res.writeHead(200, { 'content-length': 10 }).end(Buffer.alloc(10, 1)));
      const chunked = await serve((res) => drip(res, [Buffer.alloc(4, 1), Buffer.alloc(4, 2), Buffer.alloc(2, 3)]));
      try {
        assert.deepEqual(await readBoundedBody(await response(whole.url), 10, () => new TooLarge()), Buffer.alloc(10, 1));
        const body = await readBoundedBody(await response(chunked.url), 10, () => new TooLarge());
        assert.deepEqual(body, Buffer.concat([Buffer.alloc(4, 1), Buffer.alloc(4, 2), Buffer.alloc(2, 3)]));
      } finally {
        await whole.close();
        await chunked.close();
      }
    });

    it("past the limit rejects with the caller's error and closes the connection without waiting for the rest", async () => {
      const one = await serve((res) => res.writeHead(200).end(Buffer.alloc(11)));
      // The body never ends: the reader must give up on its own after the second piece.
      const endless = await serve((res) => drip(res, [Buffer.alloc(6), Buffer.alloc(6)], true));
      try {
        const err = new TooLarge('too large');
        await assert.rejects(readBoundedBody(await response(one.url), 10, () => err), (e) => e === err);
        const res = await response(endless.url);
        await assert.rejects(readBoundedBody(res, 10, () => new TooLarge()), TooLarge);
        assert.equal(res.destroyed, true);
        await endless.closed;
      } finally {
        await one.close();
        await endless.close();
      }
    });

    it('rejects a body cut short by the connection closing', async () => {
      const cut = await serve((res) => {
        res.writeHead(200, { 'content-length': 100 });
        res.write(Buffer.alloc(10), () => res.destroy());
      });
      try {
        await assert.rejects(readBoundedBody(await response(cut.url), 1000, () => new TooLarge()), (e) => !(e instanceof TooLarge));
      } finally {
        await cut.close();
      }
    });
  });

  describe('readBoundedStream (fetch body)', () => {
    const stream = (parts: Uint8Array[], onCancel?: () => void): ReadableStream<Uint8Array> =>
      // highWaterMark 0: a part is pulled only when read.
      new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            const part = parts.shift();
            if (part) controller.enqueue(part);
            else controller.close();
          },
          cancel: onCancel,
        },
        { highWaterMark: 0 },
      );

    it('reads a chunked body of exactly the limit, and no body as empty', async () => {
      assert.deepEqual(await readBoundedStream(stream([Buffer.from('abcd'), Buffer.from('efgh'), Buffer.from('ij')]), 10, () => new TooLarge()), Buffer.from('abcdefghij'));
      assert.deepEqual(await readBoundedStream(null, 10, () => new TooLarge()), Buffer.alloc(0));
    });

    it("past the limit rejects with the caller's error and cancels the stream without reading the rest", async () => {
      let cancelled = false;
      const parts = [Buffer.alloc(6), Buffer.alloc(6), Buffer.alloc(6)];
      const err = new TooLarge('too large');
      await assert.rejects(
        readBoundedStream(
          stream(parts, () => (cancelled = true)),
          10,
          () => err,
        ),
        (e) => e === err,
      );
      assert.equal(cancelled, true);
      assert.equal(parts.length, 1);
    });

    it("a failing cancel does not hide the caller's error", async () => {
      const body = stream([Buffer.alloc(11)], () => {
        throw new Error('cancel failed');
      });
      await assert.rejects(readBoundedStream(body, 10, () => new TooLarge()), TooLarge);
    });
  });
});
