import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { append } from '../lib/cli/append';
import type { CliIo } from '../lib/cli/io';
import { isLedgerError } from '../lib/errors';
import { Ledger } from '../lib/ledger';
import { deviceA, tempDir } from './support/ledger';

// The module object line-encoder.ts reads `Worker` from when it starts its thread.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const threads = require('node:worker_threads') as { Worker: typeof import('node:worker_threads').Worker };

function fakeIo(input: string): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: (s: string) => void (io.out += s),
    stderr: (s: string) => void (io.err += s),
    stdin: async () => Buffer.from(input),
    isTTY: false,
  };
  return io;
}

describe('CLI append: a line encoder thread that dies', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('iot-ledger-cli-encoder-');
  });
  after(() => tmp.cleanup());

  it('rejects with a LedgerError code, leaves no unhandled rejection, and the ledger opens again', async () => {
    const Real = threads.Worker;
    // A thread that exits at once, as one that ran out of memory or crashed would.
    class Dying extends Real {
      constructor() {
        super('process.exit(3)', { eval: true });
      }
    }
    const unhandled: unknown[] = [];
    const saved = process.listeners('unhandledRejection');
    process.removeAllListeners('unhandledRejection');
    const note = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', note);
    threads.Worker = Dying;
    const dir = path.join(tmp.dir, 'dying');
    try {
      const input = Array.from({ length: 200 }, (_, i) => JSON.stringify({ type: 'reading', device: deviceA, body: { i } })).join('\n');
      const io = fakeIo(`${input}\n`);
      const err = await append([dir, '--key', path.join(tmp.dir, 'gw.jwk'), '--name', 'example.com/dying'], io, { chunkBytes: 512 }).then(
        () => assert.fail('append succeeded without its encoder'),
        (e: unknown) => e,
      );
      // Any rejection nobody handled is reported once the current macrotask is done.
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(unhandled, []);
      assert.ok(isLedgerError(err, 'ERR_INTERNAL'), `a LedgerError ERR_INTERNAL, got ${String(err)}`);
      assert.equal(io.out, '');
    } finally {
      threads.Worker = Real;
      process.removeListener('unhandledRejection', note);
      for (const l of saved) process.on('unhandledRejection', l);
    }
    const ledger = await Ledger.open(dir, { readOnly: true });
    assert.equal(ledger.size, 0);
    await ledger.close();
  });
});
