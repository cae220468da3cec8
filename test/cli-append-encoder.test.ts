import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { append } from '../lib/cli/append';
import { processIo, type CliIo } from '../lib/cli/io';
import { isLedgerError } from '../lib/errors';
import { Ledger } from '../lib/ledger';
import { deviceA, tempDir } from './support/ledger';
import { until } from './support/until';

// The module object line-encoder.ts reads `Worker` from when it starts its thread.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const threads = require('node:worker_threads') as { Worker: typeof import('node:worker_threads').Worker };
// The module object input-lines.ts asks whether stdin is a file.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fsModule = require('node:fs') as { fstatSync: unknown };

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

/**
 * Runs `body` with `stdin` as the process's standard input (a pipe: not a file) and the
 * process's stdout and stderr collected into `out` and `err`; everything is put back after.
 */
async function withPipedStdin<T>(stdin: PassThrough, body: (out: string[], err: string[]) => Promise<T>): Promise<T> {
  const saved = {
    stdin: Object.getOwnPropertyDescriptor(process, 'stdin') as PropertyDescriptor,
    fstat: fsModule.fstatSync,
    out: process.stdout.write.bind(process.stdout),
    err: process.stderr.write.bind(process.stderr),
  };
  const out: string[] = [];
  const err: string[] = [];
  fsModule.fstatSync = () => {
    throw new Error('stdin is not a file here');
  };
  Object.defineProperty(process, 'stdin', { value: stdin, configurable: true, enumerable: true });
  process.stdout.write = (s: string) => out.push(s) > 0;
  process.stderr.write = (s: string) => err.push(s) > 0;
  try {
    return await body(out, err);
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    Object.defineProperty(process, 'stdin', saved.stdin);
    fsModule.fstatSync = saved.fstat;
  }
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

describe('CLI append: a long-running pipe', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('iot-ledger-cli-pipe-');
  });
  after(() => tmp.cleanup());

  it('a pipe that brings a line at a time for long: what append keeps of the chunks answered does not grow with them', async () => {
    const lines = 60;
    const stdin = new PassThrough();
    const push = Array.prototype.push;
    // The longest list of promises the run builds (its writes in flight are at most 5).
    let longest = 0;
    let out: string[] = [];
    const code = await withPipedStdin(stdin, async (written) => {
      out = written;
      Array.prototype.push = function (this: unknown[], ...items: unknown[]): number {
        const n = push.apply(this, items);
        if (items[0] instanceof Promise) longest = Math.max(longest, n);
        return n;
      };
      try {
        const run = append([path.join(tmp.dir, 'pipe'), '--key', path.join(tmp.dir, 'gw.jwk'), '--name', 'example.com/pipe'], processIo);
        for (let i = 0; i < lines; i++) {
          stdin.write(`${JSON.stringify({ type: 'reading', device: deviceA, body: { i } })}\n`);
          // What arrives on a pipe is appended at once: wait for its receipt before the next line.
          while (out.join('').split('\n').length - 1 < i + 1) await new Promise((resolve) => setImmediate(resolve));
        }
        stdin.end();
        return await run;
      } finally {
        Array.prototype.push = push;
      }
    });
    assert.equal(code, 0);
    assert.equal(out.join('').split('\n').length - 1, lines);
    assert.ok(longest <= 8, `a list of ${longest} promises for ${lines} chunks`);
  });

  it('a bad line on a pipe that stays open: append stops reading at once, with the line named and exit 2', async () => {
    const stdin = new PassThrough();
    let out: string[] = [];
    let err: string[] = [];
    let stoppedReading = false;
    const code = await withPipedStdin(stdin, async (written, warned) => {
      [out, err] = [written, warned];
      const run = append([path.join(tmp.dir, 'open-pipe'), '--key', path.join(tmp.dir, 'gw.jwk'), '--name', 'example.com/open'], processIo);
      // The producer writes a good line and a bad one, then nothing for a while (the pipe stays open).
      stdin.write(`${JSON.stringify({ type: 'reading', device: deviceA, body: { i: 0 } })}\nnot json\n`);
      while (out.length === 0) await new Promise((resolve) => setImmediate(resolve));
      // The bad line was seen with the good one, before its receipt: the input is no longer read.
      stoppedReading = stdin.destroyed;
      if (!stdin.destroyed) stdin.end();
      return run;
    });
    assert.ok(stoppedReading, 'append still waits for more input after the bad line');
    assert.equal(code, 2);
    assert.match(err.join(''), /line 2: not JSON: .*; the 1 record\(s\) before it were appended\n$/);
    assert.equal(out.join('').split('\n').length - 1, 1);
  });

  /** Runs append on a pipe left open with an encoder thread that exits at once; `feed` writes to the pipe once it has. */
  async function appendWithDyingEncoder(name: string, feed: (stdin: PassThrough) => void): Promise<{ stoppedReading: boolean; failure: unknown }> {
    const stdin = new PassThrough();
    const Real = threads.Worker;
    let exited!: Promise<void>;
    class Dying extends Real {
      constructor() {
        super('process.exit(3)', { eval: true });
        exited = new Promise((resolve) => this.once('exit', () => resolve()));
      }
    }
    threads.Worker = Dying;
    let stoppedReading = false;
    const failure = await withPipedStdin(stdin, async () => {
      const run = append([path.join(tmp.dir, name), '--key', path.join(tmp.dir, 'gw.jwk'), '--name', `example.com/${name}`], processIo).then(
        () => assert.fail('append succeeded without its encoder'),
        (e: unknown) => e,
      );
      feed(stdin);
      await exited;
      // The pipe is never ended here: append has to stop reading by itself.
      stoppedReading = await until('append to stop reading stdin', () => stdin.destroyed).then(
        () => true,
        () => false,
      );
      if (!stdin.destroyed) stdin.end();
      return run;
    }).finally(() => {
      threads.Worker = Real;
    });
    return { stoppedReading, failure };
  }

  it('the encoder thread dies while a pipe stays open: append stops reading and fails with ERR_INTERNAL', async () => {
    const { stoppedReading, failure } = await appendWithDyingEncoder('dead-pipe', (stdin) => {
      stdin.write(`${JSON.stringify({ type: 'reading', device: deviceA, body: { i: 0 } })}\n`);
    });
    assert.ok(stoppedReading, 'append still waits for more input with its encoder gone');
    assert.ok(isLedgerError(failure, 'ERR_INTERNAL'), String(failure));
  });

  it('the encoder thread dies before any input comes down a pipe left open: append stops reading and fails with ERR_INTERNAL', async () => {
    const { stoppedReading, failure } = await appendWithDyingEncoder('dead-idle', () => undefined);
    assert.ok(stoppedReading, 'append still waits for input with its encoder gone');
    assert.ok(isLedgerError(failure, 'ERR_INTERNAL'), String(failure));
  });
});
